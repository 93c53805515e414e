"""FHIR R4 resources of PDQm and PIXm built from the identity core's values: Patient
(with the FR Core identity-reliability extension and INS identifier types),
OperationOutcome, the searchset Bundle, and the identifier systems (`urn:oid:`) as
assigning authorities.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from actors.identity import ins
from actors.identity.model import Address, Cx, Hd, PersonName
from actors.identity.query import PatientView

FR_CORE = "https://hl7.fr/ig/fhir/core"
IDENTITY_RELIABILITY = f"{FR_CORE}/StructureDefinition/fr-core-identity-reliability"
IDENTITY_STATUS_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-identity-status"
IDENTIFIER_TYPE_SYSTEM = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0203"
MOTHERS_MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
ADDRESS_INSEE_CODE = f"{FR_CORE}/StructureDefinition/fr-core-address-insee-code"
# INSEE codes of French communes (FR Core ValueSet INSEE code); 99xxx codes name a
# country of birth abroad and belong to another table.
COMMUNE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"

# FR Core INS identifier slices: type code and use (spec/identity-fr.md §3.3).
_INS_TYPES = {
    ins.OID_INS_NIR: ("INS-NIR", "official"),
    ins.OID_INS_NIA: ("INS-NIA", "temp"),
    ins.OID_INS_NIR_TEST: ("INS-NIR-TEST", "official"),
    ins.OID_INS_NIR_DEMO: ("INS-NIR-DEMO", "official"),
}
_GENDER = {"M": "male", "F": "female", "U": "unknown", "O": "other", "A": "other"}
_ADDRESS_USE = {"H": "home", "HP": "home", "WP": "work", "TMP": "temp", "OLD": "old", "BAD": "old"}


class FhirError(Exception):
    """A request answered with an OperationOutcome: HTTP status, FHIR issue type,
    diagnostics and, for an issue about one parameter, its expression."""

    def __init__(self, status: int, code: str, diagnostics: str, expression: str = "") -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression


def system_of(hd: Hd) -> str:
    """The identifier system of an assigning authority: `urn:oid:` + its OID, else its
    namespace as it is known."""
    return f"urn:oid:{hd.universal_id}" if hd.universal_id else hd.namespace


def authority_of(system: str) -> Hd:
    """The assigning authority a FHIR identifier system names."""
    if system.startswith("urn:oid:"):
        return Hd("", system[len("urn:oid:"):], "ISO")
    return Hd(system, "", "")


def identifier(cx: Cx) -> dict[str, Any]:
    value: dict[str, Any] = {}
    typed = _INS_TYPES.get(cx.authority.universal_id)
    if typed is not None:
        value["use"] = typed[1]
        value["type"] = {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": typed[0]}]}
    value["system"] = system_of(cx.authority)
    value["value"] = cx.value
    return value


def _name(name: PersonName) -> dict[str, Any]:
    value: dict[str, Any] = {"use": "official" if name.use == "L" else "usual"}
    if name.family:
        value["family"] = name.family
    givens = name.further_given.split() if name.further_given else ([name.given] if name.given else [])
    if givens:
        value["given"] = givens
    if name.prefix:
        value["prefix"] = [name.prefix]
    return value


def _birthplace(address: Address) -> dict[str, Any]:
    """The valueAddress of patient-birthPlace, the INSEE code as FR Core's extension."""
    value: dict[str, Any] = {}
    if address.county:
        coding = {"code": address.county}
        if not address.county.startswith("99"):
            coding = {"system": COMMUNE_SYSTEM, **coding}
        value["extension"] = [{"url": ADDRESS_INSEE_CODE, "valueCoding": coding}]
    for key, part in (("city", address.city), ("postalCode", address.postal_code), ("country", address.country)):
        if part:
            value[key] = part
    return value


def fhir_date(hl7: str) -> str:
    """An HL7 date (YYYY[MM[DD]]) as a FHIR date."""
    parts = [hl7[:4], hl7[4:6], hl7[6:8]]
    return "-".join(p for p in parts if p)


def patient(view: PatientView, resource_id: str) -> dict[str, Any]:
    """A Patient resource of PDQm (ITI-78) for one person found."""
    traits = view.traits
    resource: dict[str, Any] = {"resourceType": "Patient", "id": resource_id}
    extensions: list[dict[str, Any]] = [{
        "url": IDENTITY_RELIABILITY,
        "extension": [{"url": "identityStatus", "valueCoding": {"system": IDENTITY_STATUS_SYSTEM, "code": view.status.value}}],
    }]
    if traits.mother_maiden_name:
        extensions.append({"url": MOTHERS_MAIDEN_NAME, "valueString": traits.mother_maiden_name})
    birthplace = traits.birthplace_address()
    if birthplace is not None:
        extensions.append({"url": BIRTH_PLACE, "valueAddress": _birthplace(birthplace)})
    resource["extension"] = extensions
    if view.identifiers:
        resource["identifier"] = [identifier(cx) for cx in view.identifiers]
    resource["active"] = True
    names = [_name(n) for n in traits.names if n.family or n.given]
    if names:
        resource["name"] = names
    if traits.phone:
        resource["telecom"] = [{"system": "phone", "value": traits.phone}]
    if traits.sex in _GENDER:
        resource["gender"] = _GENDER[traits.sex]
    if traits.birth_date:
        resource["birthDate"] = fhir_date(traits.birth_date)
    addresses = []
    for address in traits.addresses:
        value: dict[str, Any] = {}
        if address.use in _ADDRESS_USE:
            value["use"] = _ADDRESS_USE[address.use]
        if address.street:
            value["line"] = [address.street]
        for key, part in (("city", address.city), ("state", address.state), ("postalCode", address.postal_code),
                          ("country", address.country)):
            if part:
                value[key] = part
        if value:
            addresses.append(value)
    if addresses:
        resource["address"] = addresses
    return resource


def operation_outcome(code: str, diagnostics: str, severity: str = "error", expression: str = "") -> dict[str, Any]:
    """An OperationOutcome with one issue (FHIR R4 issue-type `code`)."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def searchset(entries: list[tuple[str, dict[str, Any]]], self_url: str, next_url: str | None, now: datetime) -> dict[str, Any]:
    """A Bundle of type searchset: `entries` are (fullUrl, resource) pairs."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now.isoformat(timespec="seconds").replace("+00:00", "Z")},
        "type": "searchset",
        "link": links,
    }
    if entries:
        bundle["entry"] = [{"fullUrl": url, "resource": resource, "search": {"mode": "match"}} for url, resource in entries]
    return bundle
