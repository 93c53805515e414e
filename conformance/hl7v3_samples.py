"""HL7 v3 messages of PIX V3 and PDQ V3 (ITI TF-2b 3.44, 3.45, 3.47), built from a few
values as a Patient Identity Source, a PIX Consumer or a Patient Demographics Consumer
sends them, for the test suite and for testers driving a hub by hand.

- `feed`: ITI-44 Patient Identity Feed, PRPA_IN201301UV02 (add), PRPA_IN201302UV02
  (revise), PRPA_IN201304UV02 (merge, with `replacementOf/priorRegistration`);
- `pix_query`: ITI-45 PIXV3 Query, PRPA_IN201309UV02 (`patientIdentifier`, `dataSource`);
- `pdq_query`: ITI-47 Patient Demographics Query, PRPA_IN201305UV02 (the traits, the
  identifiers, the domains asked for, `initialQuantity`);
- `continuation`: ITI-47 continuation or cancel, QUQI_IN000003UV01.

Each message has the transmission wrapper of the NE2008 normative edition (id,
creationTime, interactionId, processingCode, processingModeCode, acceptAckCode, receiver,
sender) and the control act the profile states; the element order is that of the
schemas. The defaults are invented: devices and query ids under the example arc 2.999.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

HL7 = "urn:hl7-org:v3"
INTERACTION_IDS = "2.16.840.1.113883.1.6"  # HL7 interaction and trigger event identifiers
ADMINISTRATIVE_GENDER = "2.16.840.1.113883.5.1"
SENDER_DEVICE = "2.999.7.1"
RECEIVER_DEVICE = "2.999.7.2"
QUERY_ID_ROOT = "2.999.7.3"

PRPA_IN201301UV02 = "PRPA_IN201301UV02"  # ITI-44 add
PRPA_IN201302UV02 = "PRPA_IN201302UV02"  # ITI-44 revise (and ITI-46 update notification)
PRPA_IN201304UV02 = "PRPA_IN201304UV02"  # ITI-44 merge
PRPA_IN201305UV02 = "PRPA_IN201305UV02"  # ITI-47 query
PRPA_IN201309UV02 = "PRPA_IN201309UV02"  # ITI-45 query
QUQI_IN000003UV01 = "QUQI_IN000003UV01"  # ITI-47 continuation
QUQI_IN000003UV01_CANCEL = "QUQI_IN000003UV01_Cancel"

Identifier = tuple[str, str]
"""(root, extension) of an II."""


@dataclass(frozen=True)
class Address:
    """An AD: the parts PIX/PDQ V3 carry (the INSEE code of a French birthplace in `county`)."""

    street: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    county: str = ""
    use: str = ""


def _q(name: str) -> str:
    return f"{{{HL7}}}{name}"


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(name), {k: v for k, v in attributes.items() if v})
    if text is not None:
        element.text = text
    return element


def _ii(parent: etree._Element, name: str, root: str, extension: str = "", authority: str = "") -> etree._Element:
    attributes = {"root": root, "extension": extension, "assigningAuthorityName": authority}
    return _add(parent, name, **attributes)


def _device(parent: etree._Element, role: str, type_code: str, root: str) -> None:
    device = _add(_add(parent, role, typeCode=type_code), "device", classCode="DEV", determinerCode="INSTANCE")
    _ii(device, "id", root)


def _address(parent: etree._Element, address: Address, name: str = "addr") -> etree._Element:
    element = _add(parent, name, use=address.use)
    for part, value in (("streetAddressLine", address.street), ("city", address.city), ("postalCode", address.postal_code),
                        ("country", address.country), ("county", address.county)):
        if value:
            _add(element, part, value)
    return element


def message_root(interaction: str, *, sender: str = SENDER_DEVICE, receiver: str = RECEIVER_DEVICE,
                 message_id: Identifier | None = None, trigger: str = "") -> tuple[etree._Element, etree._Element]:
    """The root element with its transmission wrapper, and its controlActProcess (with
    the trigger event code `trigger`, the interaction's own by default)."""
    root = etree.Element(_q(interaction), ITSVersion="XML_1.0", nsmap={None: HL7})
    identifier = message_id or (str(uuid.uuid4()), "")
    _ii(root, "id", *identifier)
    _add(root, "creationTime", value=datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    _ii(root, "interactionId", INTERACTION_IDS, interaction.removesuffix("_Cancel"))
    _add(root, "processingCode", code="P")
    _add(root, "processingModeCode", code="T")
    _add(root, "acceptAckCode", code="AL")
    _device(root, "receiver", "RCV", receiver)
    _device(root, "sender", "SND", sender)
    act = _add(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _add(act, "code", code=trigger or interaction.replace("_IN", "_TE"), codeSystem=INTERACTION_IDS)
    return root, act


def feed(ids: Sequence[Identifier], family: str, given: str, birth: str, sex: str, *,
         interaction: str = PRPA_IN201301UV02, address: Address | None = None, birth_family: str = "",
         phone: str = "", other_ids: Sequence[Identifier] = (), named_ids: Sequence[tuple[str, str]] = (),
         birthplace: Address | None = None, prior: Sequence[Identifier] = (), organization: str = SENDER_DEVICE,
         sender: str = SENDER_DEVICE) -> etree._Element:
    """An ITI-44 message: Patient.id for each (root, extension) of `ids`, then one for each
    (assigningAuthorityName, extension) of `named_ids` (a domain known by name only); the
    legal name, a birth name (qualifier BR) when `birth_family`; `other_ids` as
    patientPerson/asOtherIDs; `prior` the merged patient's ids (PRPA_IN201304UV02)."""
    root, act = message_root(interaction, sender=sender)
    event = _add(_add(act, "subject", typeCode="SUBJ"), "registrationEvent", classCode="REG", moodCode="EVN")
    _add(event, "id", nullFlavor="NA")
    _add(event, "statusCode", code="active")
    patient = _add(_add(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
    for root_oid, extension in ids:
        _ii(patient, "id", root_oid, extension)
    for authority, extension in named_ids:
        _ii(patient, "id", "", extension, authority)
    _add(patient, "statusCode", code="active")
    person = _add(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
    name = _add(person, "name", use="L")
    _add(name, "given", given)
    _add(name, "family", family)
    if birth_family:
        birth_name = _add(person, "name")
        _add(birth_name, "given", given)
        _add(birth_name, "family", birth_family, qualifier="BR")
    if phone:
        _add(person, "telecom", value=f"tel:{phone}", use="HP")
    _add(person, "administrativeGenderCode", code=sex, codeSystem=ADMINISTRATIVE_GENDER)
    _add(person, "birthTime", value=birth)
    if address is not None:
        _address(person, address)
    for root_oid, extension in other_ids:
        other = _add(person, "asOtherIDs", classCode="PAT")
        _ii(other, "id", root_oid, extension)
        scoping = _add(other, "scopingOrganization", classCode="ORG", determinerCode="INSTANCE")
        _ii(scoping, "id", root_oid)
    if birthplace is not None:
        _address(_add(person, "birthPlace", classCode="BIRTHPL"), birthplace)
    provider = _add(patient, "providerOrganization", classCode="ORG", determinerCode="INSTANCE")
    _ii(provider, "id", organization)
    _add(provider, "contactParty", classCode="CON")
    custodian = _add(_add(event, "custodian", typeCode="CST"), "assignedEntity", classCode="ASSIGNED")
    _ii(custodian, "id", organization)
    if prior:
        registration = _add(_add(event, "replacementOf", typeCode="RPLC"), "priorRegistration",
                            classCode="REG", moodCode="EVN")
        _add(registration, "statusCode", code="obsolete")
        role = _add(_add(registration, "subject1", typeCode="SBJ"), "priorRegisteredRole", classCode="PAT")
        for root_oid, extension in prior:
            _ii(role, "id", root_oid, extension)
    return root


def _parameter(parameters: etree._Element, name: str, semantics: str, **value: str) -> etree._Element:
    parameter = _add(parameters, name)
    element = _add(parameter, "value", **value)
    _add(parameter, "semanticsText", semantics)
    return element


def pix_query(identifier: Identifier, sources: Sequence[str] = (), *, sender: str = SENDER_DEVICE,
              query_id: str | None = None) -> etree._Element:
    """An ITI-45 query for `identifier` (root, extension), in the `sources` domains
    (DataSource; every domain when empty)."""
    root, act = message_root(PRPA_IN201309UV02, sender=sender)
    query = _add(act, "queryByParameter")
    _ii(query, "queryId", QUERY_ID_ROOT, query_id or uuid.uuid4().hex)
    _add(query, "statusCode", code="new")
    _add(query, "responsePriorityCode", code="I")
    parameters = _add(query, "parameterList")
    for source in sources:
        _parameter(parameters, "dataSource", "DataSource.id", root=source)
    _parameter(parameters, "patientIdentifier", "Patient.id", root=identifier[0], extension=identifier[1])
    return root


def pdq_query(family: str = "", given: str = "", birth: str = "", sex: str = "", domains: Sequence[str] = (),
              quantity: int | None = None, query_id: str | None = None, identifiers: Sequence[Identifier] = (), *,
              split_name: bool = False, mothers_maiden_name: str = "", address: Address | None = None,
              sender: str = SENDER_DEVICE) -> etree._Element:
    """An ITI-47 query by traits: the parameters in the order of PRPA_MT201306UV02; the
    given and family names in one LivingSubjectName, or in two when `split_name`;
    `domains` the OtherIDsScopingOrganization the identifiers returned are limited to."""
    root, act = message_root(PRPA_IN201305UV02, sender=sender)
    query = _add(act, "queryByParameter")
    _ii(query, "queryId", QUERY_ID_ROOT, query_id or uuid.uuid4().hex)
    _add(query, "statusCode", code="new")
    _add(query, "responseModalityCode", code="R")
    _add(query, "responsePriorityCode", code="I")
    if quantity:
        _add(query, "initialQuantity", value=str(quantity))
    parameters = _add(query, "parameterList")
    if sex:
        _parameter(parameters, "livingSubjectAdministrativeGender", "LivingSubject.administrativeGender", code=sex)
    if birth:
        _parameter(parameters, "livingSubjectBirthTime", "LivingSubject.birthTime", value=birth)
    for root_oid, extension in identifiers:
        _parameter(parameters, "livingSubjectId", "LivingSubject.id", root=root_oid, extension=extension)
    parts = [("given", given), ("family", family)]
    groups = [[part] for part in parts if part[1]] if split_name else [[part for part in parts if part[1]]]
    for group in groups:
        if group:
            value = _parameter(parameters, "livingSubjectName", "LivingSubject.name")
            for tag, text in group:
                _add(value, tag, text)
    if mothers_maiden_name:
        value = _parameter(parameters, "mothersMaidenName", "Person.MothersMaidenName")
        _add(value, "family", mothers_maiden_name)
    for domain in domains:
        _parameter(parameters, "otherIDsScopingOrganization", "OtherIDs.scopingOrganization.id", root=domain)
    if address is not None:
        parameter = _add(parameters, "patientAddress")
        _address(parameter, address, "value")
        _add(parameter, "semanticsText", "Patient.addr")
    return root


def continuation(query_id: str, cancel: bool = False, quantity: int | None = None, *,
                 sender: str = SENDER_DEVICE) -> etree._Element:
    """QUQI_IN000003UV01: continue the ITI-47 query `query_id` (by `quantity` more, or by
    the initial quantity), or cancel it (QUQI_IN000003UV01_Cancel)."""
    name = QUQI_IN000003UV01_CANCEL if cancel else QUQI_IN000003UV01
    root, act = message_root(name, sender=sender, trigger="PRPA_TE201306UV02")
    continued = _add(act, "queryContinuation")
    _ii(continued, "queryId", QUERY_ID_ROOT, query_id)
    if quantity:
        _add(continued, "continuationQuantity", value=str(quantity))
    _add(continued, "statusCode", code="aborted" if cancel else "waitContinuedQueryResponse")
    return root
