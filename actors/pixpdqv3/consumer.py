"""The PDQ v3 Consumer (ITI-47) of the links to regional identity servers
(`actors.identity.upstream`): the PRPA_IN201305UV02 query built from the parameters of a
local query, and the persons read back from the PRPA_IN201306UV02 answer. The message
travels through the SOAP link the binding gives (the host's outbound SOAP client), with a
fresh VIHF assertion of the hub when the supplier's configuration names one."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Protocol

from lxml import etree

from actors.identity.core import IncomingIdentity
from actors.identity.model import Traits
from actors.identity.query import DemographicsQuery
from actors.identity.upstream import UpstreamError, UpstreamSupplier
from actors.pixpdqv3 import hl7v3
from hub.wire import hl7v2


class SoapLink(Protocol):
    """The outside world's part of an ITI-47 query: send `message` (the body content) to
    `supplier.address` within its timeout, with its TLS files and `assertion` in
    `wsse:Security`; the first element of the answer's SOAP Body. Raises
    `UpstreamError` when the supplier is unreachable, times out, answers too much or
    answers a SOAP fault."""

    def __call__(self, supplier: UpstreamSupplier, message: etree._Element,
                 assertion: etree._Element | None) -> etree._Element: ...


def iti47_query(query: DemographicsQuery, supplier: UpstreamSupplier, sender_device: str, now: datetime) -> etree._Element:
    """PRPA_IN201305UV02 (ITI TF-2b 3.47.4.1) for the parameters of a query. A parameter
    PDQ v3 cannot state (an account number, an identifier whose authority has no OID) is
    an `UpstreamError`: leaving it out would widen the query."""
    if query.account_number:
        raise UpstreamError("PDQ v3 has no account number parameter")
    if any(not cx.authority.universal_id for cx in query.identifiers):
        raise UpstreamError("an identifier without the OID of its authority cannot be sent in HL7 v3")
    q = hl7v3.q
    root = etree.Element(q(hl7v3.PRPA_IN201305UV02), nsmap=hl7v3.NSMAP)
    root.set("ITSVersion", "XML_1.0")
    hl7v3.write_ii(root, "id", hl7v3.II(sender_device, str(uuid.uuid4())))
    etree.SubElement(root, q("creationTime")).set("value", now.strftime("%Y%m%d%H%M%S"))
    interaction = etree.SubElement(root, q("interactionId"))
    interaction.set("root", hl7v3.INTERACTION_CODE_SYSTEM)
    interaction.set("extension", hl7v3.PRPA_IN201305UV02)
    etree.SubElement(root, q("processingCode")).set("code", "P")
    etree.SubElement(root, q("processingModeCode")).set("code", "T")
    etree.SubElement(root, q("acceptAckCode")).set("code", "AL")
    receiver = etree.SubElement(etree.SubElement(root, q("receiver"), typeCode="RCV"), q("device"),
                                classCode="DEV", determinerCode="INSTANCE")
    hl7v3.write_ii(receiver, "id", hl7v3.II(supplier.device_id) if supplier.device_id else hl7v3.II(null_flavor="UNK"))
    sender = etree.SubElement(etree.SubElement(root, q("sender"), typeCode="SND"), q("device"),
                              classCode="DEV", determinerCode="INSTANCE")
    hl7v3.write_ii(sender, "id", hl7v3.II(sender_device))
    act = etree.SubElement(root, q("controlActProcess"), classCode="CACT", moodCode="EVN")
    code = etree.SubElement(act, q("code"))
    code.set("code", "PRPA_TE201305UV02")
    code.set("codeSystem", hl7v3.INTERACTION_CODE_SYSTEM)
    by_parameter = etree.SubElement(act, q("queryByParameter"))
    hl7v3.write_ii(by_parameter, "queryId", hl7v3.II(sender_device, uuid.uuid4().hex))
    etree.SubElement(by_parameter, q("statusCode")).set("code", "new")
    etree.SubElement(by_parameter, q("responseModalityCode")).set("code", "R")
    etree.SubElement(by_parameter, q("responsePriorityCode")).set("code", "I")
    etree.SubElement(by_parameter, q("initialQuantity")).set("value", str(supplier.max_results))
    parameters = etree.SubElement(by_parameter, q("parameterList"))

    def parameter(name: str, semantics: str) -> etree._Element:
        element = etree.SubElement(parameters, q(name))
        value = etree.SubElement(element, q("value"))
        etree.SubElement(element, q("semanticsText")).text = semantics
        return value

    # Order of the parameterList (PRPA_MT201306UV02): gender, birth time, ids, name.
    if query.sex:
        parameter("livingSubjectAdministrativeGender", "LivingSubject.administrativeGender").set(
            "code", "UN" if query.sex.upper() == "U" else query.sex.upper())
    if query.birth_date:
        parameter("livingSubjectBirthTime", "LivingSubject.birthTime").set("value", query.birth_date)
    for cx in query.identifiers:
        value = parameter("livingSubjectId", "LivingSubject.id")
        value.set("root", cx.authority.universal_id)
        value.set("extension", cx.value)
    if query.family or query.given:
        name = parameter("livingSubjectName", "LivingSubject.name")
        if query.given:
            etree.SubElement(name, q("given")).text = query.given
        if query.family:
            etree.SubElement(name, q("family")).text = query.family
    if query.mother_maiden_name:
        etree.SubElement(parameter("mothersMaidenName", "Person.MothersMaidenName"), q("family")).text = query.mother_maiden_name
    address = (("streetAddressLine", query.street), ("city", query.city), ("postalCode", query.postal_code),
               ("country", query.country))
    if any(text for _part, text in address):
        element = parameter("patientAddress", "Patient.addr")
        for part, text in address:
            if text:
                etree.SubElement(element, q(part)).text = text
    return root


def read_iti47_response(root: etree._Element, supplier: UpstreamSupplier) -> list[IncomingIdentity]:
    """The persons of a PRPA_IN201306UV02: acknowledgement AA, else `UpstreamError`."""
    child, children = hl7v3.child, hl7v3.children
    if etree.QName(root).localname != hl7v3.PRPA_IN201306UV02 or etree.QName(root).namespace != hl7v3.HL7:
        raise UpstreamError(f"answered {etree.QName(root).localname}, not {hl7v3.PRPA_IN201306UV02}")
    type_code = child(root, "acknowledgement", "typeCode")
    code = type_code.get("code") if type_code is not None else None
    if code not in ("AA", "CA"):
        texts = [hl7v3.text_of(child(detail, "text")) for detail in children(child(root, "acknowledgement"), "acknowledgementDetail")]
        raise UpstreamError(f"query answered {code or 'without acknowledgement'} {'; '.join(texts)}".strip())
    found = []
    for subject in children(child(root, "controlActProcess"), "subject"):
        patient = child(subject, "registrationEvent", "subject1", "patient")
        person = child(patient, "patientPerson")
        if patient is None or person is None:
            continue
        identifiers = []
        for element in children(patient, "id"):
            ii = hl7v3.read_ii(element)
            if ii is not None and ii.root and ii.extension:
                identifiers.append(hl7v3.ii_to_cx(ii))
        gender = child(person, "administrativeGenderCode")
        sex = (gender.get("code") or "").upper() if gender is not None else ""
        birth = child(person, "birthTime")
        addresses = [hl7v3.read_address(a) for a in children(person, "addr")]
        traits = Traits(
            names=hl7v3.person_names(children(person, "name")),
            birth_date=((birth.get("value") or "") if birth is not None else "")[:8],
            sex="U" if sex == "UN" else sex[:1],
            addresses=[a for a in addresses if a.use != "BDL"],
            **hl7v3.read_birthplace(person),
            phone=hl7v3.phone_of(children(person, "telecom")),
        )
        found.append(IncomingIdentity(identifiers=identifiers, traits=traits, source=f"upstream|{supplier.name}"))
    return found


class Iti47Consumer:
    """`actors.identity.upstream.Consumer` for the suppliers of protocol `soap`."""

    def __init__(self, link: SoapLink, device_id: str,
                 assertions: Mapping[str, Callable[[], etree._Element] | None]) -> None:
        self.link = link
        self.device_id = device_id  # the hub's device id as sender of the query
        self.assertions = dict(assertions)  # per supplier name (upstream.vihf_source)

    def __call__(self, supplier: UpstreamSupplier, query: DemographicsQuery,
                 identity: hl7v2.Identity) -> list[IncomingIdentity]:
        message = iti47_query(query, supplier, self.device_id, datetime.now(timezone.utc))
        source = self.assertions.get(supplier.name)
        return read_iti47_response(self.link(supplier, message, source() if source is not None else None), supplier)
