"""A PIX/PDQ v3 consumer and source for the tests: HL7 v3 messages built from the
corpus or from a few values, sent in a SOAP 1.2 envelope over HTTPS to a running hub."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import requests
from lxml import etree

from vihf import wsse

HL7 = "urn:hl7-org:v3"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
NS = {"hl7": HL7, "soap": SOAP12, "wsa": WSA}
ACTION = "urn:hl7-org:v3:"
TABLE_0357 = "2.16.840.1.113883.12.357"
CORPUS = (Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus").resolve()
SCHEMA_DIR = CORPUS / "hl7v3" / "schemas" / "ipf-HL7V3" / "NE2008" / "multicacheschemas"

AssertionSource = Callable[[], etree._Element] | None


def load_message(path: Path) -> etree._Element:
    """A corpus sample: the HL7 v3 message itself, or the body of the SOAP envelope it is in."""
    root = etree.parse(str(path), etree.XMLParser(remove_comments=True)).getroot()
    if etree.QName(root).localname == "Envelope":
        body = root.find(f"{{{SOAP12}}}Body")
        assert body is not None
        return next(child for child in body if isinstance(child.tag, str))
    return root


def interaction(message: etree._Element) -> str:
    return etree.QName(message).localname


class Reply:
    """The hub's answer: HTTP status, WS-Addressing Action, and the HL7 v3 message."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.envelope = etree.fromstring(response.content)
        self.action = self.envelope.findtext("soap:Header/wsa:Action", namespaces=NS)
        body = self.envelope.find("soap:Body", NS)
        self.message = body[0] if body is not None and len(body) else None

    @property
    def ack_code(self) -> str:
        return self.message.find("hl7:acknowledgement/hl7:typeCode", NS).get("code")

    @property
    def details(self) -> list[tuple[str, str]]:
        """(code, location) of each acknowledgement detail."""
        found = []
        for detail in self.message.findall("hl7:acknowledgement/hl7:acknowledgementDetail", NS):
            code = detail.find("hl7:code", NS)
            assert code.get("codeSystem") == TABLE_0357
            found.append((code.get("code"), detail.findtext("hl7:location", default="", namespaces=NS)))
        return found

    @property
    def query_response_code(self) -> str:
        return self.message.find("hl7:controlActProcess/hl7:queryAck/hl7:queryResponseCode", NS).get("code")

    def quantity(self, name: str) -> int:
        return int(self.message.find(f"hl7:controlActProcess/hl7:queryAck/hl7:{name}", NS).get("value"))

    def patients(self) -> list[etree._Element]:
        return self.message.findall("hl7:controlActProcess/hl7:subject/hl7:registrationEvent/hl7:subject1/hl7:patient", NS)

    def identifiers(self, patient: etree._Element | None = None) -> set[tuple[str, str]]:
        """(root, extension) of Patient.id of one patient (the first by default)."""
        patient = patient if patient is not None else self.patients()[0]
        return {(i.get("root"), i.get("extension")) for i in patient.findall("hl7:id", NS) if i.get("root")}


def send(base_url: str, session: requests.Session, path: str, action: str, message: etree._Element,
         assertion: AssertionSource = None) -> Reply:
    """POST `message` in a SOAP 1.2 envelope (WS-Addressing, VIHF header when given)."""
    envelope = wsse.envelope(action, message, assertion() if assertion else None, to=f"{base_url}{path}")
    response = session.post(
        f"{base_url}{path}", data=envelope,
        headers={"Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'}, timeout=30,
    )
    return Reply(response)


@lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{name}.xsd")))


def assert_valid(message: etree._Element) -> None:
    """The message is valid against the HL7 v3 NE2008 schema of its interaction."""
    checker = schema(interaction(message))
    document = etree.fromstring(etree.tostring(message))
    assert checker.validate(document), str(checker.error_log)


# -- messages built from values -------------------------------------------------------------

def _wrapper(name: str, sender: str = "1.2.250.1.999.7.1") -> str:
    return (
        f'<{name} xmlns="{HL7}" ITSVersion="XML_1.0">'
        f'<id root="{uuid.uuid4()}"/><creationTime value="20260101120000"/>'
        f'<interactionId root="2.16.840.1.113883.1.6" extension="{name.removesuffix("_Cancel")}"/>'
        f'<processingCode code="P"/><processingModeCode code="T"/><acceptAckCode code="AL"/>'
        f'<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.7.2"/></device></receiver>'
        f'<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="{sender}"/></device></sender>'
    )


def feed(ids: Sequence[tuple[str, str]], family: str, given: str, birth: str, sex: str,
         name: str = "PRPA_IN201301UV02", city: str = "", street: str = "", prior: Sequence[tuple[str, str]] = ()) -> etree._Element:
    """An ITI-44 message: Patient.id for each (root, extension), one legal name."""
    ids_xml = "".join(f'<id root="{root}" extension="{ext}"/>' for root, ext in ids)
    addr = ""
    if city or street:
        addr = f"<addr><streetAddressLine>{street}</streetAddressLine><city>{city}</city></addr>"
    replacement = ""
    if prior:
        prior_ids = "".join(f'<id root="{root}" extension="{ext}"/>' for root, ext in prior)
        replacement = (
            '<replacementOf typeCode="RPLC"><priorRegistration classCode="REG" moodCode="EVN">'
            '<statusCode code="obsolete"/><subject1 typeCode="SBJ"><priorRegisteredRole classCode="PAT">'
            f'{prior_ids}</priorRegisteredRole></subject1></priorRegistration></replacementOf>'
        )
    xml = (
        _wrapper(name)
        + f'<controlActProcess classCode="CACT" moodCode="EVN"><code code="{name.replace("_IN", "_TE")}" codeSystem="2.16.840.1.113883.1.6"/>'
        + '<subject typeCode="SUBJ"><registrationEvent classCode="REG" moodCode="EVN"><id nullFlavor="NA"/><statusCode code="active"/>'
        + f'<subject1 typeCode="SBJ"><patient classCode="PAT">{ids_xml}<statusCode code="active"/>'
        + '<patientPerson classCode="PSN" determinerCode="INSTANCE">'
        + f'<name use="L"><given>{given}</given><family>{family}</family></name>'
        + f'<administrativeGenderCode code="{sex}"/><birthTime value="{birth}"/>{addr}</patientPerson>'
        + '<providerOrganization classCode="ORG" determinerCode="INSTANCE"><id root="1.2.250.1.999.7.1"/>'
        + '<contactParty classCode="CON"/></providerOrganization></patient></subject1>'
        + '<custodian typeCode="CST"><assignedEntity classCode="ASSIGNED"><id root="1.2.250.1.999.7.1"/></assignedEntity></custodian>'
        + f'{replacement}</registrationEvent></subject></controlActProcess></{name}>'
    )
    return etree.fromstring(xml)


def pix_query(identifier: tuple[str, str], sources: Sequence[str] = ()) -> etree._Element:
    """An ITI-45 query for `identifier` (root, extension), in the `sources` domains."""
    source_xml = "".join(
        f'<dataSource><value root="{root}"/><semanticsText>DataSource.id</semanticsText></dataSource>' for root in sources
    )
    xml = (
        _wrapper("PRPA_IN201309UV02")
        + '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201309UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        + f'<queryByParameter><queryId root="1.2.250.1.999.7.3" extension="{uuid.uuid4().hex}"/><statusCode code="new"/>'
        + f'<responsePriorityCode code="I"/><parameterList>{source_xml}'
        + f'<patientIdentifier><value root="{identifier[0]}" extension="{identifier[1]}"/><semanticsText>Patient.id</semanticsText></patientIdentifier>'
        + '</parameterList></queryByParameter></controlActProcess></PRPA_IN201309UV02>'
    )
    return etree.fromstring(xml)


def pdq_query(family: str = "", given: str = "", birth: str = "", sex: str = "", domains: Sequence[str] = (),
              quantity: int | None = None, query_id: str | None = None,
              identifiers: Sequence[tuple[str, str]] = ()) -> etree._Element:
    """An ITI-47 query by traits."""
    parameters = ""
    if sex:
        parameters += f'<livingSubjectAdministrativeGender><value code="{sex}"/><semanticsText>LivingSubject.administrativeGender</semanticsText></livingSubjectAdministrativeGender>'
    if birth:
        parameters += f'<livingSubjectBirthTime><value value="{birth}"/><semanticsText>LivingSubject.birthTime</semanticsText></livingSubjectBirthTime>'
    for root, ext in identifiers:
        parameters += f'<livingSubjectId><value root="{root}" extension="{ext}"/><semanticsText>LivingSubject.id</semanticsText></livingSubjectId>'
    if family or given:
        name = (f"<given>{given}</given>" if given else "") + (f"<family>{family}</family>" if family else "")
        parameters += f"<livingSubjectName><value>{name}</value><semanticsText>LivingSubject.name</semanticsText></livingSubjectName>"
    for root in domains:
        parameters += f'<otherIDsScopingOrganization><value root="{root}"/><semanticsText>OtherIDs.scopingOrganization.id</semanticsText></otherIDsScopingOrganization>'
    initial = f'<initialQuantity value="{quantity}"/>' if quantity else ""
    xml = (
        _wrapper("PRPA_IN201305UV02")
        + '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201305UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        + f'<queryByParameter><queryId root="1.2.250.1.999.7.3" extension="{query_id or uuid.uuid4().hex}"/>'
        + f'<statusCode code="new"/><responseModalityCode code="R"/><responsePriorityCode code="I"/>{initial}'
        + f'<parameterList>{parameters}</parameterList></queryByParameter></controlActProcess></PRPA_IN201305UV02>'
    )
    return etree.fromstring(xml)


def continuation(query_id: str, cancel: bool = False, quantity: int | None = None) -> etree._Element:
    """QUQI_IN000003UV01: continue (`quantity` more) or cancel the query `query_id`."""
    name = "QUQI_IN000003UV01_Cancel" if cancel else "QUQI_IN000003UV01"
    status = "aborted" if cancel else "waitContinuedQueryResponse"
    more = f'<continuationQuantity value="{quantity}"/>' if quantity else ""
    xml = (
        _wrapper(name)
        + '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201306UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        + f'<queryContinuation><queryId root="1.2.250.1.999.7.3" extension="{query_id}"/>{more}'
        + f'<statusCode code="{status}"/></queryContinuation></controlActProcess></{name}>'
    )
    return etree.fromstring(xml)
