"""HL7 v3 (Normative Edition 2008, XML ITS 1.0) pieces shared by PIX v3 and PDQ v3:
namespaces, interaction ids, the II / PN / AD / TEL data types as the identity core's
values, the transmission wrapper (MCCI) read from a request and written on a response,
and the acknowledgement with its details (HL7 table 0357 codes).
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from hub.wire import hl7v2

from actors.identity.model import Address, Cx, Hd, PersonName

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: HL7, "xsi": XSI}

# Interaction ids (HL7 v3 artifact codes) and the code system they are drawn from.
INTERACTION_CODE_SYSTEM = "2.16.840.1.113883.1.6"
PRPA_IN201301UV02 = "PRPA_IN201301UV02"  # ITI-44 add patient record
PRPA_IN201302UV02 = "PRPA_IN201302UV02"  # ITI-44 revise patient record
PRPA_IN201304UV02 = "PRPA_IN201304UV02"  # ITI-44 resolve duplicates (merge)
PRPA_IN201309UV02 = "PRPA_IN201309UV02"  # ITI-45 get identifiers query
PRPA_IN201310UV02 = "PRPA_IN201310UV02"  # ITI-45 get identifiers response
PRPA_IN201305UV02 = "PRPA_IN201305UV02"  # ITI-47 find candidates query
PRPA_IN201306UV02 = "PRPA_IN201306UV02"  # ITI-47 find candidates response
QUQI_IN000003UV01 = "QUQI_IN000003UV01"  # ITI-47 query continuation / cancel
MCCI_IN000002UV01 = "MCCI_IN000002UV01"  # accept acknowledgement

# HL7 table 0357 (message error condition codes), the code system of acknowledgement
# details in IHE PIX/PDQ v3 (ITI TF-2b 3.45.4.2.3, 3.47.4.2.3).
TABLE_0357 = "2.16.840.1.113883.12.357"  # its codes: hub.wire.hl7v2.ERR_*

# Acknowledgement type codes (HL7 AcknowledgementType): application accept/error/reject.
AA, AE, AR = "AA", "AE", "AR"


def q(name: str) -> str:
    """Clark name of an HL7 v3 element."""
    return f"{{{HL7}}}{name}"


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first element at `path` (local names in the HL7 namespace) below `element`."""
    for name in path:
        if element is None:
            return None
        element = element.find(q(name))
    return element


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else element.findall(q(name))


def text_of(element: etree._Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def echo(element: etree._Element) -> etree._Element:
    """A copy of a request element to echo in a response (queryByParameter): `xsi:type`
    values naming HL7 types by a prefix declared above the element are rewritten to the
    unprefixed name, which resolves to the HL7 namespace of the response."""
    copied = copy.deepcopy(element)
    xsi_type = f"{{{XSI}}}type"
    for source, target in zip(element.iter(), copied.iter()):
        value = source.get(xsi_type) if isinstance(source.tag, str) else None
        if value and ":" in value:
            prefix, local = value.split(":", 1)
            if source.nsmap.get(prefix) == HL7:
                target.set(xsi_type, local)
    return copied


# -- errors --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Detail:
    """One acknowledgement detail: a table 0357 code, a text, the XPath of the culprit."""

    code: str
    text: str
    location: str = ""
    type_code: str = "E"


class MessageError(Exception):
    """A request refused as a whole: `AR` for a message the hub cannot accept (wrapper,
    interaction), `AE` for an application error in its content."""

    def __init__(self, ack_code: str, details: Iterable[Detail]) -> None:
        self.details = list(details)
        super().__init__("; ".join(d.text for d in self.details))
        self.ack_code = ack_code


# -- data types ----------------------------------------------------------------------------

@dataclass(frozen=True)
class II:
    """Instance identifier: `root` (an OID or UUID) and `extension`."""

    root: str = ""
    extension: str = ""
    authority_name: str = ""
    null_flavor: str = ""


def read_ii(element: etree._Element | None) -> II | None:
    if element is None:
        return None
    return II(
        (element.get("root") or "").strip(),
        (element.get("extension") or "").strip(),
        (element.get("assigningAuthorityName") or "").strip(),
        (element.get("nullFlavor") or "").strip(),
    )


def write_ii(parent: etree._Element, tag: str, ii: II) -> etree._Element:
    element = etree.SubElement(parent, q(tag))
    if ii.null_flavor:
        element.set("nullFlavor", ii.null_flavor)
        return element
    element.set("root", ii.root)
    if ii.extension:
        element.set("extension", ii.extension)
    if ii.authority_name:
        element.set("assigningAuthorityName", ii.authority_name)
    return element


def ii_to_cx(ii: II) -> Cx:
    """A patient identifier II as a CX: the root is the assigning authority (HD-2, ISO),
    `assigningAuthorityName` its namespace (HD-1), the extension the id (CX-1)."""
    return Cx(ii.extension, Hd(ii.authority_name, ii.root, "ISO" if ii.root else ""))


def cx_to_ii(cx: Cx) -> II:
    return II(cx.authority.universal_id, cx.value, cx.authority.namespace)


def expressible(identifiers: Iterable[Cx]) -> list[Cx]:
    """The identifiers an II can carry: those whose assigning authority has an OID (an
    authority known by a v2 namespace alone has no root to give)."""
    return [cx for cx in identifiers if cx.authority.universal_id]


def read_name(element: etree._Element) -> tuple[str, str, list[str], str]:
    """A PN as (family, family qualifier, given names, prefix)."""
    families = children(element, "family")
    birth = next((f for f in families if "BR" in (f.get("qualifier") or "").split()), None)
    family = birth if birth is not None else (families[0] if families else None)
    givens = [text_of(g) for g in children(element, "given") if text_of(g)]
    prefix = text_of(child(element, "prefix"))
    return text_of(family), (family.get("qualifier") or "") if family is not None else "", givens, prefix


def person_names(elements: Iterable[etree._Element]) -> list[PersonName]:
    """The PN of a patientPerson as French names: the one whose family carries the `BR`
    qualifier (or, failing that, the first) is the birth name (`L`); the next is the used
    name (`D`). XPN-3 is the list of all given names, as PAM-FR carries it."""
    read = [read_name(e) for e in elements if not e.get("nullFlavor")]
    read = [r for r in read if r[0] or r[2]]
    if not read:
        return []
    birth_index = next((i for i, r in enumerate(read) if "BR" in r[1].split()), 0)
    ordered = [read[birth_index]] + [r for i, r in enumerate(read) if i != birth_index]
    names: list[PersonName] = []
    for index, (family, _qualifier, givens, prefix) in enumerate(ordered[:2]):
        names.append(
            PersonName(
                family=family,
                given=givens[0] if givens else "",
                further_given=" ".join(givens) if len(givens) > 1 else "",
                prefix=prefix,
                use="L" if index == 0 else "D",
            )
        )
    return names


def write_name(parent: etree._Element, name: PersonName, tag: str = "name") -> etree._Element:
    element = etree.SubElement(parent, q(tag))
    if name.prefix:
        etree.SubElement(element, q("prefix")).text = name.prefix
    givens = name.further_given.split() if name.further_given else ([name.given] if name.given else [])
    for given in givens:
        etree.SubElement(element, q("given")).text = given
    if name.family:
        family = etree.SubElement(element, q("family"))
        family.text = name.family
        if name.use == "L":
            family.set("qualifier", "BR")
    if name.use == "L":
        element.set("use", "L")
    return element


def read_address(element: etree._Element) -> Address:
    return Address(
        street=" ".join(text_of(s) for s in children(element, "streetAddressLine") if text_of(s)),
        city=text_of(child(element, "city")),
        state=text_of(child(element, "state")),
        postal_code=text_of(child(element, "postalCode")),
        country=text_of(child(element, "country")),
        use=(element.get("use") or "").strip(),
        county=text_of(child(element, "county")),
    )


def read_birthplace(person: etree._Element) -> dict[str, str]:
    """The `Traits` birthplace fields of `patientPerson/birthPlace/addr` (the INSEE code
    in `county`, as the French extension of PAM carries it in XAD-9)."""
    element = child(person, "birthPlace", "addr")
    if element is None:
        return {}
    address = read_address(element)
    return {
        "birthplace_code": address.county, "birthplace_city": address.city,
        "birthplace_postal_code": address.postal_code, "birthplace_country": address.country,
    }


def write_birthplace(person: etree._Element, address: Address) -> None:
    """`birthPlace/addr` (PRPA_MT201310UV02.BirthPlace); AD has no "birthplace" use code."""
    place = etree.SubElement(person, q("birthPlace"), classCode="BIRTHPL")
    write_address(place, Address(city=address.city, postal_code=address.postal_code, country=address.country, county=address.county))


def write_address(parent: etree._Element, address: Address, tag: str = "addr") -> etree._Element:
    element = etree.SubElement(parent, q(tag))
    if address.use:
        element.set("use", address.use)
    for name, value in (
        ("streetAddressLine", address.street), ("city", address.city), ("state", address.state),
        ("postalCode", address.postal_code), ("country", address.country), ("county", address.county),
    ):
        if value:
            etree.SubElement(element, q(name)).text = value
    return element


def phone_of(elements: Iterable[etree._Element]) -> str:
    """The first `tel:` telecom, without its scheme."""
    for element in elements:
        value = (element.get("value") or "").strip()
        if value.lower().startswith("tel:"):
            return value[4:]
    return ""


# -- transmission wrapper ------------------------------------------------------------------

@dataclass
class Wrapper:
    """The transmission wrapper of a request: what a response must echo."""

    interaction: str
    message_id: II
    processing_code: str = "P"
    sender_device: II | None = None
    receiver_device: II | None = None
    extras: dict[str, str] = field(default_factory=dict)


PROCESSING_CODES = frozenset({"P", "D", "T"})


def read_wrapper(root: etree._Element, expected: str, element_names: tuple[str, ...] = ()) -> Wrapper:
    """Check the transmission wrapper of an `expected` interaction (HL7 v3 MCCI_MT000100UV01);
    a message the hub cannot process at all is rejected (`AR`). `element_names` are the
    root element names the interaction may come under (default: the interaction id)."""
    qname = etree.QName(root)
    if qname.namespace != HL7 or qname.localname not in (element_names or (expected,)):
        raise MessageError(
            AR, [Detail(hl7v2.ERR_UNSUPPORTED_MESSAGE_TYPE, f"the body is {qname.localname}, this action expects {expected}", "/")]
        )
    base = f"/{qname.localname}"
    message_id = read_ii(child(root, "id"))
    if message_id is None or not (message_id.root or message_id.null_flavor):
        raise MessageError(AR, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "the message id is required", f"{base}/id")])
    interaction = read_ii(child(root, "interactionId"))
    if interaction is None or interaction.extension != expected:
        raise MessageError(
            AR,
            [Detail(hl7v2.ERR_UNSUPPORTED_EVENT_CODE, f"interactionId must be {expected}", f"{base}/interactionId")],
        )
    processing = child(root, "processingCode")
    code = (processing.get("code") or "").strip() if processing is not None else ""
    if code not in PROCESSING_CODES:
        raise MessageError(
            AR, [Detail(hl7v2.ERR_UNSUPPORTED_PROCESSING_ID, "processingCode must be P, D or T", f"{base}/processingCode")]
        )
    if (root.get("ITSVersion") or "XML_1.0") != "XML_1.0":
        raise MessageError(AR, [Detail(hl7v2.ERR_UNSUPPORTED_VERSION_ID, "ITSVersion must be XML_1.0", base)])
    return Wrapper(
        interaction=expected,
        message_id=message_id,
        processing_code=code,
        sender_device=read_ii(child(root, "sender", "device", "id")),
        receiver_device=read_ii(child(root, "receiver", "device", "id")),
    )


def new_message(interaction: str, request: Wrapper | None, device_id: str, now: datetime) -> etree._Element:
    """A response message with its transmission wrapper: addressed back to the request's
    sender, from the hub's device."""
    root = etree.Element(q(interaction), nsmap=NSMAP)
    root.set("ITSVersion", "XML_1.0")
    write_ii(root, "id", II(device_id, str(uuid.uuid4())))
    etree.SubElement(root, q("creationTime")).set("value", now.strftime("%Y%m%d%H%M%S"))
    interaction_id = etree.SubElement(root, q("interactionId"))
    interaction_id.set("root", INTERACTION_CODE_SYSTEM)
    interaction_id.set("extension", interaction)
    etree.SubElement(root, q("processingCode")).set("code", request.processing_code if request else "P")
    etree.SubElement(root, q("processingModeCode")).set("code", "T")
    etree.SubElement(root, q("acceptAckCode")).set("code", "NE")
    receiver = etree.SubElement(root, q("receiver"), typeCode="RCV")
    receiver_device = etree.SubElement(receiver, q("device"), classCode="DEV", determinerCode="INSTANCE")
    sender_id = request.sender_device if request and request.sender_device and request.sender_device.root else None
    write_ii(receiver_device, "id", sender_id or II(null_flavor="UNK"))
    sender = etree.SubElement(root, q("sender"), typeCode="SND")
    sender_device = etree.SubElement(sender, q("device"), classCode="DEV", determinerCode="INSTANCE")
    write_ii(sender_device, "id", II(device_id))
    return root


def acknowledgement(root: etree._Element, type_code: str, target: II | None, details: Iterable[Detail] = ()) -> etree._Element:
    """The `acknowledgement` of a response: AA/AE/AR, the id of the message acknowledged,
    and one detail per error (code from HL7 table 0357, text, XPath location)."""
    ack = etree.SubElement(root, q("acknowledgement"))
    etree.SubElement(ack, q("typeCode")).set("code", type_code)
    target_message = etree.SubElement(ack, q("targetMessage"))
    write_ii(target_message, "id", target or II(null_flavor="UNK"))
    for detail in details:
        element = etree.SubElement(ack, q("acknowledgementDetail"), typeCode=detail.type_code)
        code = etree.SubElement(element, q("code"))
        code.set("code", detail.code)
        code.set("codeSystem", TABLE_0357)
        code.set("codeSystemName", "HL7 table 0357")
        etree.SubElement(element, q("text")).text = detail.text
        if detail.location:
            etree.SubElement(element, q("location")).text = detail.location
    return ack


def query_response(interaction: str, trigger_event: str, request: Wrapper | None, ack_code: str, target: II | None,
                   details: Iterable[Detail], device_id: str, now: datetime) -> tuple[etree._Element, etree._Element]:
    """A query response (ITI-45, ITI-47) up to its controlActProcess: the message
    `interaction` acknowledging `target`, the act coded `trigger_event`. Returns the
    message and the act, which the caller fills."""
    root = new_message(interaction, request, device_id, now)
    acknowledgement(root, ack_code, target, details)
    act = etree.SubElement(root, q("controlActProcess"), classCode="CACT", moodCode="EVN")
    code = etree.SubElement(act, q("code"))
    code.set("code", trigger_event)
    code.set("codeSystem", INTERACTION_CODE_SYSTEM)
    return root, act
