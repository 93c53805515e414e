"""ITI-83 PIXm over HTTPS with the IHE PIXm samples: Alice Mohr is fed through ITI-8 with
her red, blue and green identifiers; the sample requests are sent as GET and as POSTed
Parameters and answered like the sample response; the three failure cases of PIXm."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from fhir_support import FHIR_NS, feed_patient_resource

NS = {"f": FHIR_NS}
RED = "urn:oid:1.3.6.1.4.1.21367.13.20.1000"
PIX = "/fhir/Patient/$ihe-pix"


@pytest.fixture(scope="module", autouse=True)
def alice(fhir_hub: HubProcess, corpus: Path) -> None:
    feed_patient_resource(fhir_hub, corpus / "fhir" / "Patient-MohrAlice.json")


def _request_parameters(path: Path) -> list[tuple[str, str]]:
    root = etree.parse(str(path)).getroot()
    return [
        (p.find("f:name", NS).get("value"), p.find("f:valueString", NS).get("value"))
        for p in root.findall("f:parameter", NS)
    ]


def _expected_identifiers(path: Path) -> set[tuple[str, str]]:
    root = etree.parse(str(path)).getroot()
    return {
        (i.find("f:system", NS).get("value"), i.find("f:value", NS).get("value"))
        for i in root.findall("f:parameter/f:valueIdentifier", NS)
    }


def _identifiers(parameters: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {
        (p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
        for p in parameters.get("parameter", []) if p["name"] == "targetIdentifier"
    }


def test_iti83_get_answers_like_the_sample_response(fhir_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    query = _request_parameters(corpus / "fhir" / "pixm-request-mohralice-red-all.xml")
    response = http.get(f"{fhir_hub.https_url}{PIX}", params=query, timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    parameters = response.json()
    assert parameters["resourceType"] == "Parameters"
    assert _identifiers(parameters) == _expected_identifiers(corpus / "fhir" / "pixm-response-mohralice-red-all.xml")
    references = [p["valueReference"]["reference"] for p in parameters["parameter"] if p["name"] == "targetId"]
    assert len(references) == 2
    read = http.get(f"{fhir_hub.https_url}/fhir/{references[0]}", timeout=20)
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == "MOHR"


def test_iti83_post_of_the_sample_parameters(fhir_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    body = (corpus / "fhir" / "pixm-request-mohralice-red-all.xml").read_bytes()
    response = http.post(f"{fhir_hub.https_url}{PIX}", data=body,
                         headers={"Content-Type": "application/fhir+xml"}, timeout=20)
    assert response.status_code == 200
    assert _identifiers(response.json()) == _expected_identifiers(corpus / "fhir" / "pixm-response-mohralice-red-all.xml")


def test_iti83_target_systems_and_xml_format(fhir_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """The red-to-blue sample names two target systems and asks for XML."""
    query = _request_parameters(corpus / "fhir" / "pixm-request-mohralice-red-to-blue.xml")
    response = http.get(f"{fhir_hub.https_url}{PIX}", params=query, timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{FHIR_NS}}}Parameters"
    found = {
        (i.find("f:system", NS).get("value"), i.find("f:value", NS).get("value"))
        for i in root.findall("f:parameter/f:valueIdentifier", NS)
    }
    assert found == {("urn:oid:1.3.6.1.4.1.21367.13.20.3000", "IHEBLUE-994"),
                     ("urn:oid:1.3.6.1.4.1.21367.13.20.2000", "IHEGREEN-994")}


def test_iti83_one_target_system(fhir_hub: HubProcess, http: requests.Session) -> None:
    response = http.get(f"{fhir_hub.https_url}{PIX}", timeout=20, params={
        "sourceIdentifier": f"{RED}|IHERED-994", "targetSystem": "urn:oid:1.3.6.1.4.1.21367.13.20.3000"})
    assert _identifiers(response.json()) == {("urn:oid:1.3.6.1.4.1.21367.13.20.3000", "IHEBLUE-994")}


def test_iti83_post_json_parameters(fhir_hub: HubProcess, http: requests.Session) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": RED, "value": "IHERED-994"}},
        {"name": "targetSystem", "valueUri": "urn:oid:1.3.6.1.4.1.21367.13.20.2000"},
    ]}
    response = http.post(f"{fhir_hub.https_url}{PIX}", json=body, headers={"Content-Type": "application/fhir+json"}, timeout=20)
    assert response.status_code == 200
    assert _identifiers(response.json()) == {("urn:oid:1.3.6.1.4.1.21367.13.20.2000", "IHEGREEN-994")}


@pytest.mark.parametrize(
    ("params", "status", "code", "diagnostics"),
    [
        ({"sourceIdentifier": f"{RED}|NOBODY"}, 404, "not-found", "sourceIdentifier Patient Identifier not found"),
        ({"sourceIdentifier": "urn:oid:1.2.250.1.999.83.404|X"}, 404, "code-invalid",
         "sourceIdentifier Assigning Authority not found"),
        ({"sourceIdentifier": f"{RED}|IHERED-994", "targetSystem": "urn:oid:1.2.250.1.999.83.403"}, 403, "code-invalid",
         "targetSystem not found"),
        ({}, 400, "required", ""),
        ({"sourceIdentifier": "IHERED-994"}, 400, "invalid", ""),
    ],
)
def test_iti83_failure_cases(fhir_hub: HubProcess, http: requests.Session, params: dict[str, str], status: int,
                             code: str, diagnostics: str) -> None:
    response = http.get(f"{fhir_hub.https_url}{PIX}", params=params, timeout=20)
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", code)
    if diagnostics:
        assert issue["diagnostics"] == diagnostics
