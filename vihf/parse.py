"""VIHF assertion (SAML 2.0 `Assertion` element) -> `Principal` (spec §2-§4).

Reading only: no signature, trust, time or content rule is checked here (see
`vihf.verify`). Text values are read whole: the text of every node under an element is
joined and comments are skipped, so a comment inserted into a value (a signature-wrapping
trick that exclusive c14n ignores) cannot shorten what is read. Values of foreign XUA
profiles parse too; what they lack is left empty.
"""
from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree

from vihf import dn, names
from vihf.principal import Code, PatientId, Principal, Software, subject_id_type

_ASSERTION = f"{{{names.SAML}}}Assertion"
_ISSUER = f"{{{names.SAML}}}Issuer"
_SUBJECT = f"{{{names.SAML}}}Subject"
_NAMEID = f"{{{names.SAML}}}NameID"
_CONDITIONS = f"{{{names.SAML}}}Conditions"
_AUTHN_STATEMENT = f"{{{names.SAML}}}AuthnStatement"
_AUTHN_CONTEXT = f"{{{names.SAML}}}AuthnContext"
_CLASS_REF = f"{{{names.SAML}}}AuthnContextClassRef"
_ATTRIBUTE_STATEMENT = f"{{{names.SAML}}}AttributeStatement"
_ATTRIBUTE = f"{{{names.SAML}}}Attribute"
_ATTRIBUTE_VALUE = f"{{{names.SAML}}}AttributeValue"

# Attributes that carry one value; a second value would make the reading ambiguous.
SINGLE_VALUED = (
    names.VIHF_VERSION,
    names.SUBJECT_ID,
    names.SECTEUR_ACTIVITE,
    names.IDENTIFIANT_STRUCTURE,
    names.AUTHENTIFICATION_MODE,
    names.RESOURCE_ID,
    names.RESSOURCE_URN,
    names.PURPOSE_OF_USE,
    names.MODE_ACCES_RAISON,
    names.LPS_NOM,
    names.LPS_VERSION,
    names.LPS_ID,
    names.LPS_ID_HOMOLOGATION_DMP,
)


class AssertionFormatError(ValueError):
    """The assertion is not a readable SAML 2.0 assertion (missing ID, NameID, malformed
    date or code). The message names the field, never its value."""


def text(element: etree._Element | None) -> str:
    """Whole text content of `element`, comments and processing instructions skipped,
    surrounding white space removed."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def instant(value: str | None, field: str) -> datetime | None:
    """An xs:dateTime in UTC (SAML core §1.3.3); a value without zone is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise AssertionFormatError(f"{field} is not an xs:dateTime") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def attributes(assertion: etree._Element) -> dict[str, list[etree._Element]]:
    """`Attribute/@Name` -> its `AttributeValue` elements, over every AttributeStatement."""
    found: dict[str, list[etree._Element]] = {}
    for statement in assertion.iterchildren(_ATTRIBUTE_STATEMENT):
        for attribute in statement.iterchildren(_ATTRIBUTE):
            name = attribute.get("Name", "")
            found.setdefault(name, []).extend(attribute.iterchildren(_ATTRIBUTE_VALUE))
    return found


def _ce(value: etree._Element, field: str) -> Code:
    """An HL7 v3 CE element inside an AttributeValue (`Role`, `PurposeOfUse`)."""
    children = [child for child in value if isinstance(child.tag, str)]
    if len(children) != 1:
        raise AssertionFormatError(f"{field} must hold one coded element")
    element = children[0]
    code = (element.get("code") or "").strip()
    system = (element.get("codeSystem") or "").strip()
    if not code or not system:
        raise AssertionFormatError(f"{field} needs code and codeSystem")
    return Code(code, system, element.get("displayName"), element.get("codeSystemName"))


def code_oid(value: str, field: str) -> Code:
    """A `code^OID` value such as `SA07^1.2.250.1.71.4.2.4`."""
    code, _, system = value.partition("^")
    if not code.strip() or not system.strip() or "^" in system:
        raise AssertionFormatError(f"{field} must be written code^OID")
    return Code(code.strip(), system.strip())


def _single(found: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
    values = found.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise AssertionFormatError(f"attribute {name} has more than one value")
    return values[0]


def _single_text(found: dict[str, list[etree._Element]], name: str) -> str | None:
    value = _single(found, name)
    if value is None:
        return None
    return text(value) or None


def parse_assertion(assertion: etree._Element, *, signed: bool = False) -> Principal:
    """Read a SAML 2.0 assertion into a Principal (`signed` tells whether the caller
    verified the signature over exactly this element)."""
    if assertion.tag != _ASSERTION:
        raise AssertionFormatError("the element is not a saml2:Assertion")
    assertion_id = (assertion.get("ID") or "").strip()
    if not assertion_id:
        raise AssertionFormatError("Assertion/@ID is missing")
    issuer = text(assertion.find(_ISSUER))
    name_id = text(assertion.find(f"{_SUBJECT}/{_NAMEID}"))
    if not name_id:
        raise AssertionFormatError("Subject/NameID is missing or empty")
    conditions = assertion.find(_CONDITIONS)
    authn = assertion.find(_AUTHN_STATEMENT)
    found = attributes(assertion)
    for name in SINGLE_VALUED:
        _single(found, name)

    roles = tuple(_ce(value, names.SUBJECT_ROLE) for value in found.get(names.SUBJECT_ROLE, []))
    sector_text = _single_text(found, names.SECTEUR_ACTIVITE)
    purpose_value = _single(found, names.PURPOSE_OF_USE)
    patient_text = _single_text(found, names.RESOURCE_ID)
    try:
        patient = PatientId.parse(patient_text) if patient_text else None
    except ValueError:
        raise AssertionFormatError(f"{names.RESOURCE_ID} is not an HL7 v2 CX identifier") from None

    return Principal(
        assertion_id=assertion_id,
        issuer=issuer,
        issue_instant=instant(assertion.get("IssueInstant"), "Assertion/@IssueInstant"),
        not_before=instant(conditions.get("NotBefore"), "Conditions/@NotBefore") if conditions is not None else None,
        not_on_or_after=(
            instant(conditions.get("NotOnOrAfter"), "Conditions/@NotOnOrAfter") if conditions is not None else None
        ),
        vihf_version=_single_text(found, names.VIHF_VERSION),
        subject_id=name_id,
        subject_id_type=subject_id_type(name_id),
        subject_name=_single_text(found, names.SUBJECT_ID),
        roles=roles,
        sector=code_oid(sector_text, names.SECTEUR_ACTIVITE) if sector_text else None,
        structure_id=_single_text(found, names.IDENTIFIANT_STRUCTURE),
        structure_name=dn.attribute(issuer, "O") if issuer else None,
        authentication_mode=_single_text(found, names.AUTHENTIFICATION_MODE),
        authn_context=(text(authn.find(f"{_AUTHN_CONTEXT}/{_CLASS_REF}")) or None) if authn is not None else None,
        authn_instant=instant(authn.get("AuthnInstant"), "AuthnStatement/@AuthnInstant") if authn is not None else None,
        purpose_of_use=_ce(purpose_value, names.PURPOSE_OF_USE) if purpose_value is not None else None,
        break_the_glass_reason=_single_text(found, names.MODE_ACCES_RAISON),
        patient=patient,
        resource_urn=_single_text(found, names.RESSOURCE_URN),
        software=Software(
            name=_single_text(found, names.LPS_NOM),
            version=_single_text(found, names.LPS_VERSION),
            instance_id=_single_text(found, names.LPS_ID),
            registration_id=_single_text(found, names.LPS_ID_HOMOLOGATION_DMP),
        ),
        signed=signed,
    )
