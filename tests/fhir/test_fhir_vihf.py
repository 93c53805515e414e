"""PDQm and PIXm on a hub that requires VIHF: the assertion travels as an IUA SAML token
(`Authorization: SAML <base64url>`), is verified like on the SOAP endpoints, and a
patient-scoped assertion only learns about its own patient."""
from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess, launch_hub
from fhir_support import ack_code
from vihf.issue import Signer, issue

INS_TEST = "1.2.250.1.213.1.4.10"
INS = "184127512345640"
IPP = "1.2.250.1.999.78.5"


@pytest.fixture(scope="module")
def secure_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("fhir-vihf"), pki, f'[identity]\naccepted_domains = ["{IPP}"]\n')
    for control, ids, name, birth, status in (
        ("F-1", f"F-IPP-1^^^&{IPP}&ISO^PI~{INS}^^^ASIP-SANTE-INS-NIR&{INS_TEST}&ISO^INS", "QUALIFIE^JEAN^JEAN", "19841201", "VALI"),
        ("F-2", f"F-IPP-2^^^&{IPP}&ISO^PI", "AUTRE^LUC^LUC", "19900101", "PROV"),
    ):
        message = (
            f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|{control}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\r"
            f"EVN||20260101\rPID|1||{ids}||{name}^^^^L||{birth}|M|||||||||||||||||||||||N|{status}\rPV1|1|N\r"
        )
        assert ack_code(process.mllp(message)) == "AA"
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


def token(signer: Signer, patient: str | None = None) -> str:
    assertion = issue(signer, subject_id="899900012347", subject_name="MARTIN, Paul, Médecine générale",
                      roles=["10", "SM26"], structure_id="49990001234701", sector="SA07", patient=patient)
    return "SAML " + base64.urlsafe_b64encode(etree.tostring(assertion)).decode("ascii").rstrip("=")


def _get(hub: HubProcess, http: requests.Session, path: str, authorization: str | None, **params: str) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return http.get(f"{hub.https_url}/fhir/Patient{path}", params=params, headers=headers, timeout=20)


def test_iti78_without_assertion_is_401(secure_hub: HubProcess, http: requests.Session) -> None:
    response = _get(secure_hub, http, "", None, family="QUALIFIE")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "SAML"
    assert response.json()["issue"][0]["code"] == "login"


def test_iti78_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    response = _get(secure_hub, http, "", token(signer), family="QUALIFIE")
    assert response.status_code == 200
    patient = response.json()["entry"][0]["resource"]
    assert (f"urn:oid:{INS_TEST}", INS) in {(i["system"], i["value"]) for i in patient["identifier"]}
    assert patient["extension"][0]["extension"][0]["valueCoding"]["code"] == "QUAL"


def test_iti78_replayed_or_forged_assertion_is_401(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    once = token(signer)
    assert _get(secure_hub, http, "", once, family="QUALIFIE").status_code == 200
    replay = _get(secure_hub, http, "", once, family="QUALIFIE")
    assert (replay.status_code, replay.json()["issue"][0]["code"]) == (401, "security")
    forged = _get(secure_hub, http, "", "SAML bm90IGFuIGFzc2VydGlvbg", family="QUALIFIE")
    assert (forged.status_code, forged.json()["issue"][0]["code"]) == (401, "security")


def test_iti78_patient_scoped_assertion_sees_its_patient_only(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    own = _get(secure_hub, http, "", token(signer, patient=INS), family="QUALIFIE")
    assert len(own.json()["entry"]) == 1
    other = _get(secure_hub, http, "", token(signer, patient=INS), family="AUTRE")
    assert other.status_code == 200
    assert "entry" not in other.json()


def test_iti83_with_signed_assertion(secure_hub: HubProcess, http: requests.Session, signer: Signer) -> None:
    response = _get(secure_hub, http, "/$ihe-pix", token(signer), sourceIdentifier=f"urn:oid:{IPP}|F-IPP-1")
    assert response.status_code == 200
    values = {p["valueIdentifier"]["value"] for p in response.json()["parameter"] if p["name"] == "targetIdentifier"}
    assert values == {INS}


def test_iti83_patient_scoped_assertion_about_another_patient_is_403(
    secure_hub: HubProcess, http: requests.Session, signer: Signer
) -> None:
    response = _get(secure_hub, http, "/$ihe-pix", token(signer, patient=INS), sourceIdentifier=f"urn:oid:{IPP}|F-IPP-2")
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
