"""PIX v3 and PDQ v3 on a hub that requires VIHF: each transaction goes through with a
real signed assertion and is refused without one; a patient-scoped assertion only learns
about its own patient (vihf.policy through actors.pixpdqv3.access)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess, launch_hub
from pixpdqv3_support import ACTION, continuation, feed, pdq_query, pix_query, send
from vihf.issue import Signer, issue

INS_TEST = "1.2.250.1.213.1.4.10"
INS = "184127512345640"  # a fictitious matricule with a valid key (spec/identity-fr.md §3.1)
IPP = "1.2.250.1.999.91.1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


@pytest.fixture(scope="module")
def secure_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    config = '[identity]\naccepted_domains = ["1.2.250.1.999.91.1", "1.2.250.1.999.91.2"]\n'
    process = launch_hub(tmp_path_factory.mktemp("pixpdqv3-vihf"), pki, config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def http(secure_hub: HubProcess) -> Iterator[requests.Session]:
    session = secure_hub.session()
    yield session
    session.close()


@pytest.fixture(scope="module")
def signer(pki: Path) -> Signer:
    return Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem")


def assertion(signer: Signer, patient: str | None = None):  # type: ignore[no-untyped-def]
    def fresh() -> etree._Element:
        return issue(signer, subject_id="899900012347", subject_name="MARTIN, Paul, Médecine générale",
                     roles=["10", "SM26"], structure_id="49990001234701", sector="SA07", patient=patient)
    return fresh


@pytest.fixture(scope="module", autouse=True)
def identities(secure_hub: HubProcess) -> None:
    """A qualified identity with an INS (ITI-8, PID-32 VALI) and two more patients of one
    family name (a query for it has a second page)."""
    for message in (
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|V-1|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\rEVN||20260101\r"
        f"PID|1||V-IPP-1^^^&{IPP}&ISO^PI~{INS}^^^ASIP-SANTE-INS-NIR&{INS_TEST}&ISO^INS||QUALIFIE^JEAN^JEAN^^^^L||19841201|M"
        "|||||||||||||||||||||||N|VALI\rPV1|1|N\r",
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|V-2|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\rEVN||20260101\r"
        f"PID|1||V-IPP-2^^^&{IPP}&ISO^PI||AUTRE^LUC^LUC^^^^L||19900101|M|||||||||||||||||||||||N|PROV\rPV1|1|N\r",
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|V-3|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\rEVN||20260101\r"
        f"PID|1||V-IPP-3^^^&{IPP}&ISO^PI||AUTRE^MARC^MARC^^^^L||19920202|M|||||||||||||||||||||||N|PROV\rPV1|1|N\r",
    ):
        response = secure_hub.mllp(message).decode()
        assert "MSA|AA" in response, response


def _fault_subcode(response: requests.Response) -> str:
    root = etree.fromstring(response.content)
    value = root.find(f".//{{{SOAP12}}}Fault/{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
    return value.text


def test_iti44_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    message = feed([("1.2.250.1.999.91.2", "V44")], "VIHF", "ALICE", "19750505", "F")
    reply = send(secure_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", message, assertion(signer))
    assert reply.ack_code == "AA"


def test_iti44_domain_not_accepted_is_AE_204(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    """Only the configured assigning authorities are accepted ([identity] accepted_domains)."""
    message = feed([("1.2.250.1.999.91.2", "V44-B"), ("1.2.250.1.999.91.404", "ELSEWHERE")], "VIHF", "BOB", "19750506", "M")
    reply = send(secure_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", message, assertion(signer))
    assert reply.ack_code == "AE"
    assert reply.details == [
        ("204", "/PRPA_IN201301UV02/controlActProcess/subject/registrationEvent/subject1/patient/id[2]/@root")
    ]


def test_iti44_without_assertion_is_a_security_fault(secure_hub: HubProcess, http: requests.Session) -> None:
    message = feed([("1.2.250.1.999.91.2", "V44-NO")], "VIHF", "NOBODY", "19750505", "F")
    from vihf import wsse
    response = http.post(f"{secure_hub.https_url}/pix", data=wsse.envelope(ACTION + "PRPA_IN201301UV02", message, None),
                         headers={"Content-Type": "application/soap+xml"}, timeout=20)
    assert response.status_code == 400
    assert _fault_subcode(response).endswith(":SecurityTokenUnavailable")


def test_iti45_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    reply = send(secure_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query((IPP, "V-IPP-1")), assertion(signer))
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert reply.identifiers() == {(INS_TEST, INS)}


def test_iti45_patient_scoped_assertion_about_another_patient_is_refused(
    secure_hub: HubProcess, http: requests.Session, signer: Signer
) -> None:
    own = send(secure_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query((IPP, "V-IPP-1")),
               assertion(signer, patient=INS))
    assert own.ack_code == "AA"
    message = pix_query((IPP, "V-IPP-2"))
    from vihf import wsse
    response = http.post(f"{secure_hub.https_url}/pix",
                         data=wsse.envelope(ACTION + "PRPA_IN201309UV02", message, assertion(signer, patient=INS)()),
                         headers={"Content-Type": "application/soap+xml"}, timeout=20)
    assert response.status_code == 400
    assert _fault_subcode(response).endswith(":FailedAuthentication")


def test_iti47_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    reply = send(secure_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="QUALIFIE"), assertion(signer))
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert (INS_TEST, INS) in reply.identifiers()


def test_iti47_patient_scoped_assertion_sees_its_patient_only(
    secure_hub: HubProcess, http: requests.Session, signer: Signer
) -> None:
    scoped = assertion(signer, patient=INS)
    own = send(secure_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="QUALIFIE", birth="19841201"), scoped)
    assert own.query_response_code == "OK"
    other = send(secure_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="AUTRE"), scoped)
    assert (other.ack_code, other.query_response_code) == ("AA", "NF")
    unscoped = send(secure_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="AUTRE"), assertion(signer))
    assert unscoped.query_response_code == "OK"


def test_iti47_continuation_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    first = send(secure_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02",
                 pdq_query(family="AUTRE", quantity=1, query_id="vihf-paging"), assertion(signer))
    assert first.quantity("resultRemainingQuantity") >= 1
    cancel = send(secure_hub.https_url, http, "/pdq", ACTION + "QUQI_IN000003UV01_Cancel",
                  continuation("vihf-paging", cancel=True), assertion(signer))
    assert cancel.ack_code == "AA"
