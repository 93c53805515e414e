"""ITI-47 Patient Demographics Query HL7 V3: PRPA_IN201305UV02 (Find Candidates Query)
read into the shared query core's `DemographicsQuery`, PRPA_IN201306UV02 written back, and
the QUQI_IN000003UV01 continuation / cancel messages (ITI TF-2b 3.47.4).

Parameters the query core cannot evaluate (telecom, birthplace, care provider, status)
are refused with an error rather than ignored: ignoring one would widen the answer
beyond what the consumer asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from hub.wire import hl7v2

from actors.identity import query as core_query
from actors.identity.model import Cx, Hd
from actors.identity.query import DemographicsQuery, PatientView
from actors.pixpdqv3 import hl7v3
from actors.pixpdqv3.hl7v3 import AE, AR, Detail, MessageError, child, children, q

QUERY = f"/{hl7v3.PRPA_IN201305UV02}/controlActProcess/queryByParameter"
PARAMETERS = f"{QUERY}/parameterList"
UNSUPPORTED_PARAMETERS = (
    "patientTelecom", "livingSubjectBirthPlaceAddress", "livingSubjectBirthPlaceName",
    "principalCareProviderId", "patientStatusCode", "livingSubjectDeceasedTime",
)


@dataclass
class PdqRequest:
    wrapper: hl7v3.Wrapper
    query_by_parameter: etree._Element
    query_id: hl7v3.II | None
    query: DemographicsQuery
    initial_quantity: int | None


def other_ids_path(index: int) -> str:
    """XPath of the n-th OtherIDsScopingOrganization value (ITI TF-2b 3.47.4.2.3 case 4)."""
    return f"{PARAMETERS}/otherIDsScopingOrganization[{index}]/value"


def _error(code: str, text: str, location: str) -> MessageError:
    return MessageError(AE, [Detail(code, text, location)])


def parse(root: etree._Element) -> PdqRequest:
    """Read an ITI-47 query (ITI TF-2b 3.47.4.1.2); raises `MessageError`."""
    wrapper = hl7v3.read_wrapper(root, hl7v3.PRPA_IN201305UV02)
    query_element = child(root, "controlActProcess", "queryByParameter")
    if query_element is None:
        raise MessageError(AR, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "queryByParameter is required", QUERY)])
    parameters = child(query_element, "parameterList")
    if parameters is None:
        raise _error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "parameterList is required", PARAMETERS)
    for name in UNSUPPORTED_PARAMETERS:
        if children(parameters, name):
            raise _error(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"the query parameter {name} is not supported",
                         f"{PARAMETERS}/{name}")
    query = DemographicsQuery()
    gender = child(parameters, "livingSubjectAdministrativeGender", "value")
    if gender is not None:
        code = (gender.get("code") or "").strip().upper()
        if code not in {"F", "M", "UN"}:
            raise _error(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "administrative gender must be F, M or UN",
                         f"{PARAMETERS}/livingSubjectAdministrativeGender/value")
        query.sex = "U" if code == "UN" else code
    birth = child(parameters, "livingSubjectBirthTime", "value")
    if birth is not None:
        value = (birth.get("value") or "").strip()
        if not (len(value) >= 4 and value[:8].isdigit()):
            raise _error(hl7v2.ERR_DATA_TYPE, "livingSubjectBirthTime needs a TS value (YYYY[MM[DD]])",
                         f"{PARAMETERS}/livingSubjectBirthTime/value")
        query.birth_date = value[:8]
    for element in children(parameters, "livingSubjectName"):
        person_name = child(element, "value")
        if person_name is None:
            continue
        family, _qualifier, givens, _prefix = hl7v3.read_name(person_name)
        query.family = query.family or family
        query.given = query.given or (givens[0] if givens else "")
    maiden = child(parameters, "mothersMaidenName", "value")
    if maiden is not None:
        query.mother_maiden_name = hl7v3.text_of(child(maiden, "family")) or hl7v3.text_of(maiden)
    address = child(parameters, "patientAddress", "value")
    if address is not None:
        read = hl7v3.read_address(address)
        if read.state:
            raise _error(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "the state of an address is not searched (the store keeps none)",
                         f"{PARAMETERS}/patientAddress/value/state")
        query.street, query.city, query.postal_code, query.country = read.street, read.city, read.postal_code, read.country
    identifiers: list[Cx] = []
    for index, element in enumerate(children(parameters, "livingSubjectId"), start=1):
        ii = hl7v3.read_ii(child(element, "value"))
        if ii is None or not ii.extension:
            raise _error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "LivingSubjectId needs an extension (the identifier)",
                         f"{PARAMETERS}/livingSubjectId[{index}]/value")
        identifiers.append(hl7v3.ii_to_cx(ii))
    query.identifiers = tuple(identifiers)
    domains: list[Hd] = []
    for index, element in enumerate(children(parameters, "otherIDsScopingOrganization"), start=1):
        ii = hl7v3.read_ii(child(element, "value"))
        if ii is None or not ii.root:
            raise _error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "OtherIDsScopingOrganization needs a root",
                         other_ids_path(index))
        domains.append(Hd(ii.authority_name, ii.root, "ISO"))
    query.domains = tuple(domains)
    if query.is_empty():
        raise _error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "the query states no parameter to match", PARAMETERS)
    quantity_element = child(query_element, "initialQuantity")
    quantity: int | None = None
    if quantity_element is not None:
        quantity = core_query.quantity(quantity_element.get("value") or "")
        if quantity is None:
            raise _error(hl7v2.ERR_DATA_TYPE, "initialQuantity must be a positive integer", f"{QUERY}/initialQuantity")
    return PdqRequest(wrapper, query_element, hl7v3.read_ii(child(query_element, "queryId")), query, quantity)


def check_breadth(query: DemographicsQuery, limits: core_query.Limits) -> None:
    """The query core's breadth rule in ITI-47's vocabulary: a query too broad to run is
    an application error, answered like ITI-47's other ones (acknowledgement AE,
    queryResponseCode AE, no registrationEvent), with a detail (207 at the parameterList)
    saying what the query lacks."""
    try:
        core_query.check_breadth(query, limits)
    except core_query.QueryTooBroad as exc:
        raise _error(hl7v2.ERR_APPLICATION_INTERNAL, str(exc), PARAMETERS) from None


# The IHE PDQ v3 WSDL names the cancel message element QUQI_IN000003UV01_Cancel.
CONTINUATION_ELEMENTS = (hl7v3.QUQI_IN000003UV01, hl7v3.QUQI_IN000003UV01 + "_Cancel")


@dataclass
class Continuation:
    """QUQI_IN000003UV01: continue a query (`continuation_quantity` more results) or
    cancel it (statusCode `aborted`)."""

    wrapper: hl7v3.Wrapper
    query_id: hl7v3.II
    cancel: bool
    continuation_quantity: int | None


def parse_continuation(root: etree._Element) -> Continuation:
    """Read a QUQI_IN000003UV01 (ITI TF-2b 3.47.4.3); raises `MessageError`."""
    wrapper = hl7v3.read_wrapper(root, hl7v3.QUQI_IN000003UV01, CONTINUATION_ELEMENTS)
    base = f"/{etree.QName(root).localname}/controlActProcess/queryContinuation"
    continuation = child(root, "controlActProcess", "queryContinuation")
    query_id = hl7v3.read_ii(child(continuation, "queryId"))
    if continuation is None or query_id is None or not query_id.root:
        raise _error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "queryContinuation/queryId is required", f"{base}/queryId")
    status = child(continuation, "statusCode")
    code = (status.get("code") or "").strip() if status is not None else ""
    if code not in {"waitContinuedQueryResponse", "aborted"}:
        raise _error(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "statusCode must be waitContinuedQueryResponse or aborted",
                     f"{base}/statusCode")
    quantity: int | None = None
    quantity_element = child(continuation, "continuationQuantity")
    if quantity_element is not None:
        quantity = core_query.quantity(quantity_element.get("value") or "")
        if quantity is None:
            raise _error(hl7v2.ERR_DATA_TYPE, "continuationQuantity must be a positive integer",
                         f"{base}/continuationQuantity")
    return Continuation(wrapper, query_id, code == "aborted", quantity)


@dataclass
class Counts:
    """queryAck quantities (resultTotalQuantity = delivered before + current + remaining)."""

    total: int
    current: int
    remaining: int


def _write_patient(event: etree._Element, view: PatientView) -> None:
    subject1 = etree.SubElement(event, q("subject1"), typeCode="SBJ")
    patient = etree.SubElement(subject1, q("patient"), classCode="PAT")
    identifiers = hl7v3.expressible(view.identifiers)
    for cx in identifiers:
        hl7v3.write_ii(patient, "id", hl7v3.cx_to_ii(cx))
    if not identifiers:
        hl7v3.write_ii(patient, "id", hl7v3.II(null_flavor="NA"))
    etree.SubElement(patient, q("statusCode")).set("code", "active")
    person = etree.SubElement(patient, q("patientPerson"), classCode="PSN", determinerCode="INSTANCE")
    names = [n for n in view.traits.names if n.family or n.given]
    for name in names:
        hl7v3.write_name(person, name)
    if not names:
        etree.SubElement(person, q("name")).set("nullFlavor", "UNK")
    if view.traits.phone:
        telecom = etree.SubElement(person, q("telecom"))
        telecom.set("value", f"tel:{view.traits.phone}")
    if view.traits.sex:
        code = {"U": "UN"}.get(view.traits.sex, view.traits.sex)
        gender = etree.SubElement(person, q("administrativeGenderCode"))
        gender.set("code", code)
        gender.set("codeSystem", "2.16.840.1.113883.5.1")
    if view.traits.birth_date:
        etree.SubElement(person, q("birthTime")).set("value", view.traits.birth_date)
    for address in view.traits.addresses:
        hl7v3.write_address(person, address)
    birthplace = view.traits.birthplace_address()
    if birthplace is not None:
        hl7v3.write_birthplace(person, birthplace)
    # Every person returned met every parameter of the query (the query core matches
    # exactly, or by prefix where `*` asks for it): the degree of match is 100.
    subject_of = etree.SubElement(patient, q("subjectOf1"))
    observation = etree.SubElement(subject_of, q("queryMatchObservation"), classCode="COND", moodCode="EVN")
    etree.SubElement(observation, q("code")).set("code", "IHE_PDQ")
    value = etree.SubElement(observation, q("value"))
    value.set(f"{{{hl7v3.XSI}}}type", "INT")
    value.set("value", "100")


def response(request_wrapper: hl7v3.Wrapper | None, target: hl7v3.II | None, query_id: hl7v3.II | None,
             query_by_parameter: etree._Element | None, results: list[PatientView], counts: Counts | None,
             ack_code: str, details: list[Detail], device_id: str, now: datetime) -> etree._Element:
    """PRPA_IN201306UV02 answering the message `target`: one registrationEvent per person
    found, the queryAck with its quantities (ITI TF-2b 3.47.4.2.2), the query echoed."""
    root, act = hl7v3.query_response(hl7v3.PRPA_IN201306UV02, "PRPA_TE201306UV02", request_wrapper, ack_code, target, details, device_id, now)
    for view in results:
        subject = etree.SubElement(act, q("subject"), typeCode="SUBJ", contextConductionInd="false")
        event = etree.SubElement(subject, q("registrationEvent"), classCode="REG", moodCode="EVN")
        hl7v3.write_ii(event, "id", hl7v3.II(null_flavor="NA"))
        etree.SubElement(event, q("statusCode")).set("code", "active")
        _write_patient(event, view)
        custodian = etree.SubElement(event, q("custodian"), typeCode="CST")
        entity = etree.SubElement(custodian, q("assignedEntity"), classCode="ASSIGNED")
        hl7v3.write_ii(entity, "id", hl7v3.II(device_id))
    query_ack = etree.SubElement(act, q("queryAck"))
    hl7v3.write_ii(query_ack, "queryId", query_id or hl7v3.II(null_flavor="UNK"))
    etree.SubElement(query_ack, q("statusCode")).set("code", "deliveredResponse" if ack_code == hl7v3.AA else "aborted")
    response_code = "AE" if ack_code != hl7v3.AA else ("OK" if results else "NF")
    etree.SubElement(query_ack, q("queryResponseCode")).set("code", response_code)
    if counts is not None:
        etree.SubElement(query_ack, q("resultTotalQuantity")).set("value", str(counts.total))
        etree.SubElement(query_ack, q("resultCurrentQuantity")).set("value", str(counts.current))
        etree.SubElement(query_ack, q("resultRemainingQuantity")).set("value", str(counts.remaining))
    if query_by_parameter is not None:
        act.append(hl7v3.echo(query_by_parameter))
    return root
