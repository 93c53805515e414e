"""Issue 18, finding 7 (mass extraction through wildcards), and the query caps that close
it on the three PDQ transports, each in its own vocabulary: ITI-21 over MLLP (RSP^K22,
MSA and QAK-2 AE, ERR 207 at QPD-3), ITI-47 over SOAP (acknowledgement AE,
queryResponseCode AE, a detail) and ITI-78 over HTTPS (400 OperationOutcome
`too-costly`).

- The breadth rule: an identifier, or a name of at least `pdq_min_name_chars` (3)
  letters or digits, or a name and the birth date. A wildcard, punctuation or a space
  is no letter (`family=-` used to fold to the empty prefix: everyone), and sex alone
  selects half the register.
- The per-query cap: `pdq_max_results` (200) persons in all, whatever the page size
  asked and however many continuations follow.

One real hub (VIHF required, as by default) holds 300 persons named DUPONT; FHIR and SOAP
calls carry a fresh signed VIHF assertion each, MLLP is the loopback development
listener."""
from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess, launch_hub
from vihf import wsse
from vihf.issue import Signer, issue

IPP = "1.2.250.1.999.18.7"
PERSONS = 300
CAP = 200  # [identity] pdq_max_results, default
HL7 = "urn:hl7-org:v3"
NS = {"hl7": HL7, "soap": "http://www.w3.org/2003/05/soap-envelope"}
V3 = "urn:hl7-org:v3:"
PARAMETERS = "/PRPA_IN201305UV02/controlActProcess/queryByParameter/parameterList"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("pdq-caps"), pki, f'[identity]\naccepted_domains = ["{IPP}"]\n')
    born = date(1940, 1, 1)
    with process.mllp_connection(timeout=30) as connection:
        for n in range(PERSONS):
            birth = (born + timedelta(days=97 * n)).strftime("%Y%m%d")
            reply = connection.exchange(
                f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|CAP-{n}|P|2.5\rEVN||20260101\r"
                f"PID|1||CAP-{n:03d}^^^&{IPP}&ISO^PI||DUPONT^PRENOM{n:03d}^^^^^L||{birth}|{'FM'[n % 2]}\rPV1|1|N\r"
            ).decode()
            assert "MSA|AA" in reply, reply
    yield process
    process.stop()


def _assertion(signer: Signer) -> etree._Element:
    return issue(signer, subject_id="899900012347", subject_name="MARTIN, Paul, Médecine générale",
                 roles=["10", "SM26"], structure_id="49990001234701", sector="SA07")


def _saml(signer: Signer) -> str:
    return "SAML " + base64.urlsafe_b64encode(etree.tostring(_assertion(signer))).decode("ascii").rstrip("=")


# -- ITI-78 (PDQm) --------------------------------------------------------------------------

def _fhir(http: requests.Session, signer: Signer, url: str) -> requests.Response:
    return http.get(url, headers={"Authorization": _saml(signer)}, timeout=30)


@pytest.mark.parametrize("search", ["family=-", "family=%25", "family=_", "family=%20", "given=.", "gender=female",
                                    "family=DU", "birthdate=1940-01-01", "family=-&birthdate=1940-01-01"])
def test_iti78_search_without_enough_significant_characters_is_400_too_costly(
    hub: HubProcess, http: requests.Session, signer: Signer, search: str
) -> None:
    response = _fhir(http, signer, f"{hub.https_url}/fhir/Patient?{search}&_count=500")
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert (outcome["issue"][0]["severity"], outcome["issue"][0]["code"]) == ("error", "too-costly")


@pytest.mark.parametrize("search", ["family=DUP", "family=DU&birthdate=1940-01-01", f"identifier=urn:oid:{IPP}|CAP-007"])
def test_iti78_name_of_three_characters_or_name_and_birth_date_or_identifier_is_searched(
    hub: HubProcess, http: requests.Session, signer: Signer, search: str
) -> None:
    response = _fhir(http, signer, f"{hub.https_url}/fhir/Patient?{search}")
    assert response.status_code == 200, response.text
    assert response.json()["entry"]


def test_iti78_next_links_stop_at_the_per_query_cap(hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    """300 persons match family=DUP: pages of 60 follow `next` until 200 in all."""
    url = f"{hub.https_url}/fhir/Patient?family=DUP&_count=60"
    seen: list[str] = []
    pages = 0
    while url:
        bundle = _fhir(http, signer, url).json()
        seen += [entry["resource"]["id"] for entry in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        pages += 1
    assert len(seen) == CAP
    assert len(set(seen)) == CAP
    assert pages == 4


def test_iti78_largest_page_is_cut_at_the_cap(hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    bundle = _fhir(http, signer, f"{hub.https_url}/fhir/Patient?family=DUPONT&_count=500").json()
    assert len(bundle["entry"]) == CAP
    assert "next" not in {link["relation"] for link in bundle["link"]}


# -- ITI-21 (PDQ over HL7 v2) ------------------------------------------------------------------

def _qbp(parameters: str, quantity: str, pointer: str = "", tag: str = "") -> str:
    dsc = f"DSC|{pointer}|I\r" if pointer else ""
    return (
        f"MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20260101||QBP^Q22^QBP_Q21|Q-{uuid.uuid4().hex[:12]}|P|2.5\r"
        f"QPD|IHE PDQ Query|{tag or 't'}|{parameters}\rRCP|I|{quantity}\r{dsc}"
    )


def _segments(reply: bytes) -> list[list[str]]:
    return [segment.split("|") for segment in reply.decode("utf-8").split("\r") if segment]


@pytest.mark.parametrize("parameters", ["@PID.5.1.1^*", "@PID.5.1.1^%", "@PID.5.1.1^-*", "@PID.5.2^.*", "@PID.8^F"])
def test_iti21_query_too_broad_is_AE_with_ERR_at_QPD_3(hub: HubProcess, parameters: str) -> None:
    segments = _segments(hub.mllp(_qbp(parameters, "1000^RD")))
    by_name = {fields[0]: fields for fields in segments}
    assert by_name["MSH"][8] == "RSP^K22^RSP_K21"
    assert by_name["MSA"][1] == "AE"
    assert by_name["QAK"][2] == "AE"
    assert by_name["ERR"][2] == "QPD^1^3"
    assert by_name["ERR"][3].split("^")[0] == "207"
    assert "PID" not in by_name and "DSC" not in by_name


def test_iti21_total_across_continuation_is_capped(hub: HubProcess) -> None:
    """RCP-2 150 records: 150 and a DSC pointer, then 50 and no pointer (200 of 300)."""
    tag = f"cap-{uuid.uuid4().hex[:8]}"
    first = _segments(hub.mllp(_qbp("@PID.5.1.1^DUP*", "150^RD", tag=tag)))
    pids = [f[3] for f in first if f[0] == "PID"]
    pointer = next(f[1] for f in first if f[0] == "DSC")
    assert len(pids) == 150
    second = _segments(hub.mllp(_qbp("@PID.5.1.1^DUP*", "150^RD", pointer, tag)))
    assert next(f[2] for f in second if f[0] == "QAK") == "OK"
    pids += [f[3] for f in second if f[0] == "PID"]
    assert not [f for f in second if f[0] == "DSC"]
    assert len(pids) == len(set(pids)) == CAP


def test_iti21_thousand_records_asked_get_the_cap(hub: HubProcess) -> None:
    segments = _segments(hub.mllp(_qbp("@PID.5.1.1^DUPONT", "1000^RD")))
    assert len([f for f in segments if f[0] == "PID"]) == CAP
    assert not [f for f in segments if f[0] == "DSC"]


# -- ITI-47 (PDQ HL7 V3) -----------------------------------------------------------------------

def _wrapper(name: str) -> str:
    """The transmission wrapper's opening of an ITI-47 message (query or continuation)."""
    return (
        f'<{name} xmlns="{HL7}" ITSVersion="XML_1.0">'
        f'<id root="{uuid.uuid4()}"/><creationTime value="20260101120000"/>'
        f'<interactionId root="2.16.840.1.113883.1.6" extension="{name}"/>'
        f'<processingCode code="P"/><processingModeCode code="T"/><acceptAckCode code="AL"/>'
        f'<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.7.2"/></device></receiver>'
        f'<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.250.1.999.7.1"/></device></sender>'
    )


def _iti47(parameters: str, quantity: int, query_id: str) -> etree._Element:
    return etree.fromstring(
        _wrapper("PRPA_IN201305UV02")
        + '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201305UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        + f'<queryByParameter><queryId root="1.2.250.1.999.7.3" extension="{query_id}"/>'
        + f'<statusCode code="new"/><responseModalityCode code="R"/><responsePriorityCode code="I"/>'
        + f'<initialQuantity value="{quantity}"/><parameterList>{parameters}</parameterList></queryByParameter>'
        + "</controlActProcess></PRPA_IN201305UV02>"
    )


def _continue(query_id: str, quantity: int) -> etree._Element:
    return etree.fromstring(
        _wrapper("QUQI_IN000003UV01")
        + '<controlActProcess classCode="CACT" moodCode="EVN"><code code="PRPA_TE201306UV02" codeSystem="2.16.840.1.113883.1.6"/>'
        + f'<queryContinuation><queryId root="1.2.250.1.999.7.3" extension="{query_id}"/>'
        + f'<continuationQuantity value="{quantity}"/><statusCode code="waitContinuedQueryResponse"/>'
        + "</queryContinuation></controlActProcess></QUQI_IN000003UV01>"
    )


def _soap(hub: HubProcess, http: requests.Session, signer: Signer, action: str, message: etree._Element) -> etree._Element:
    envelope = wsse.envelope(V3 + action, message, _assertion(signer), to=f"{hub.https_url}/pdq")
    response = http.post(f"{hub.https_url}/pdq", data=envelope, timeout=30,
                         headers={"Content-Type": f'application/soap+xml; charset=UTF-8; action="{V3 + action}"'})
    assert response.status_code == 200, response.text
    body = etree.fromstring(response.content).find("soap:Body", NS)
    return body[0]


def _ack(reply: etree._Element) -> tuple[str, str]:
    return (reply.find("hl7:acknowledgement/hl7:typeCode", NS).get("code"),
            reply.find("hl7:controlActProcess/hl7:queryAck/hl7:queryResponseCode", NS).get("code"))


def _patients(reply: etree._Element) -> list[str]:
    return [i.get("extension") for i in reply.findall(
        "hl7:controlActProcess/hl7:subject/hl7:registrationEvent/hl7:subject1/hl7:patient/hl7:id", NS)]


def _remaining(reply: etree._Element) -> int:
    return int(reply.find("hl7:controlActProcess/hl7:queryAck/hl7:resultRemainingQuantity", NS).get("value"))


NAME = "<livingSubjectName><value>{}</value><semanticsText>LivingSubject.name</semanticsText></livingSubjectName>"


@pytest.mark.parametrize("parameters", [
    NAME.format("<family>*</family>"),
    NAME.format("<family>-</family><given>%</given>"),
    '<livingSubjectAdministrativeGender><value code="F"/><semanticsText>LivingSubject.administrativeGender</semanticsText>'
    "</livingSubjectAdministrativeGender>",
])
def test_iti47_query_too_broad_is_AE(hub: HubProcess, http: requests.Session, signer: Signer, parameters: str) -> None:
    reply = _soap(hub, http, signer, "PRPA_IN201305UV02", _iti47(parameters, 1000, uuid.uuid4().hex))
    assert _ack(reply) == ("AE", "AE")
    details = reply.findall("hl7:acknowledgement/hl7:acknowledgementDetail", NS)
    assert [(d.find("hl7:code", NS).get("code"), d.findtext("hl7:location", namespaces=NS)) for d in details] == [
        ("207", PARAMETERS)]
    assert _patients(reply) == []


def test_iti47_total_across_continuation_is_capped(hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    """initialQuantity 150 of 300 matches: 150 with 50 remaining, then 50 with none, then
    the query is over (204)."""
    query_id = uuid.uuid4().hex
    first = _soap(hub, http, signer, "PRPA_IN201305UV02", _iti47(NAME.format("<family>DUPONT</family>"), 150, query_id))
    assert _ack(first) == ("AA", "OK")
    assert (len(_patients(first)), _remaining(first)) == (150, CAP - 150)
    second = _soap(hub, http, signer, "QUQI_IN000003UV01_Continue", _continue(query_id, 1000))
    assert _ack(second) == ("AA", "OK")
    assert (len(_patients(second)), _remaining(second)) == (CAP - 150, 0)
    assert len(set(_patients(first) + _patients(second))) == CAP
    over = _soap(hub, http, signer, "QUQI_IN000003UV01_Continue", _continue(query_id, 1000))
    assert over.find("hl7:acknowledgement/hl7:typeCode", NS).get("code") == "AE"
    assert over.find("hl7:acknowledgement/hl7:acknowledgementDetail/hl7:code", NS).get("code") == "204"
