"""ITI-45 PIXV3 Query: PRPA_IN201309UV02 (Get Corresponding Identifiers) read into the
identity core's values, PRPA_IN201310UV02 written back (ITI TF-2b 3.45.4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from hub.wire import hl7v2

from actors.identity.model import Cx, Hd
from actors.pixpdqv3 import hl7v3
from actors.pixpdqv3.hl7v3 import AE, AR, Detail, MessageError, child, children, q

PARAMETERS = f"/{hl7v3.PRPA_IN201309UV02}/controlActProcess/queryByParameter/parameterList"
PATIENT_IDENTIFIER_PATH = f"{PARAMETERS}/patientIdentifier/value"


@dataclass
class PixQuery:
    wrapper: hl7v3.Wrapper
    query_by_parameter: etree._Element
    query_id: hl7v3.II | None
    identifier: Cx
    data_sources: list[Hd] = field(default_factory=list)


def data_source_path(index: int) -> str:
    """XPath of the n-th DataSource value (ITI TF-2b 3.45.4.2.3 case 4)."""
    return f"{PARAMETERS}/dataSource[{index}]/value"


def parse(root: etree._Element) -> PixQuery:
    """Read an ITI-45 query (ITI TF-2b 3.45.4.1.2); raises `MessageError`."""
    wrapper = hl7v3.read_wrapper(root, hl7v3.PRPA_IN201309UV02)
    query = child(root, "controlActProcess", "queryByParameter")
    if query is None:
        raise MessageError(
            AR,
            [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "queryByParameter is required",
                    f"/{hl7v3.PRPA_IN201309UV02}/controlActProcess/queryByParameter")],
        )
    parameters = child(query, "parameterList")
    identifiers = [hl7v3.read_ii(child(p, "value")) for p in children(parameters, "patientIdentifier")]
    if len(identifiers) != 1 or identifiers[0] is None:
        raise MessageError(
            AE,
            [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "exactly one PatientIdentifier parameter is required",
                    PATIENT_IDENTIFIER_PATH)],
        )
    ii = identifiers[0]
    if not ii.root or not ii.extension:
        raise MessageError(
            AE,
            [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "PatientIdentifier needs a root (domain) and an extension",
                    PATIENT_IDENTIFIER_PATH)],
        )
    sources: list[Hd] = []
    for index, parameter in enumerate(children(parameters, "dataSource"), start=1):
        value = hl7v3.read_ii(child(parameter, "value"))
        if value is None or not value.root:
            raise MessageError(
                AE, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "DataSource needs the root of a domain", data_source_path(index))]
            )
        sources.append(Hd(value.authority_name, value.root, "ISO"))
    return PixQuery(wrapper, query, hl7v3.read_ii(child(query, "queryId")), hl7v3.ii_to_cx(ii), sources)


def response(request_wrapper: hl7v3.Wrapper | None, target: hl7v3.II | None, query_id: hl7v3.II | None,
             query_by_parameter: etree._Element | None, identifiers: list[Cx] | None,
             ack_code: str, details: list[Detail], device_id: str, now: datetime) -> etree._Element:
    """PRPA_IN201310UV02 answering the message `target`: with `identifiers` (the
    person's, queried one excluded) as Patient.id repetitions, or none (NF, AE)."""
    root, act = hl7v3.query_response(hl7v3.PRPA_IN201310UV02, "PRPA_TE201310UV02", request_wrapper, ack_code, target, details, device_id, now)
    identifiers = hl7v3.expressible(identifiers or [])
    if identifiers:
        subject = etree.SubElement(act, q("subject"), typeCode="SUBJ")
        event = etree.SubElement(subject, q("registrationEvent"), classCode="REG", moodCode="EVN")
        hl7v3.write_ii(event, "id", hl7v3.II(null_flavor="NA"))
        etree.SubElement(event, q("statusCode")).set("code", "active")
        subject1 = etree.SubElement(event, q("subject1"), typeCode="SBJ")
        patient = etree.SubElement(subject1, q("patient"), classCode="PAT")
        for cx in identifiers:
            hl7v3.write_ii(patient, "id", hl7v3.cx_to_ii(cx))
        etree.SubElement(patient, q("statusCode")).set("code", "active")
        person = etree.SubElement(patient, q("patientPerson"), classCode="PSN", determinerCode="INSTANCE")
        etree.SubElement(person, q("name")).set("nullFlavor", "NA")
        custodian = etree.SubElement(event, q("custodian"), typeCode="CST")
        entity = etree.SubElement(custodian, q("assignedEntity"), classCode="ASSIGNED")
        hl7v3.write_ii(entity, "id", hl7v3.II(device_id))
    query_ack = etree.SubElement(act, q("queryAck"))
    hl7v3.write_ii(query_ack, "queryId", query_id or hl7v3.II(null_flavor="UNK"))
    etree.SubElement(query_ack, q("queryResponseCode")).set(
        "code", "AE" if ack_code != hl7v3.AA else ("OK" if identifiers else "NF")
    )
    if query_by_parameter is not None:
        act.append(hl7v3.echo(query_by_parameter))
    return root
