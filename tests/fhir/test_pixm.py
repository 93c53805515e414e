"""ITI-83 PIXm over HTTPS: the project's synthetic patient Aurore Vernadet is fed through
ITI-8 with identifiers in three invented domains (rouge, bleu, vert) and queried by GET
and by POSTed Parameters (XML and JSON), with target systems and the XML format; the
three failure cases of PIXm. In the interoperability layer the IHE PIXm sample requests
about Alice Mohr are sent the same way and answered like the sample response."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from fhir_support import FHIR_NS

NS = {"f": FHIR_NS}
# The project patient's domains (tests/fhir/conftest.py PROJECT_PATIENT).
ROUGE, BLEU, VERT = "urn:oid:2.999.60.1", "urn:oid:2.999.60.2", "urn:oid:2.999.60.3"
PIX = "/fhir/Patient/$ihe-pix"


# The project's patient is fed before any query of the module.
pytestmark = pytest.mark.usefixtures("project_patient")


def parameters_xml(parameters: list[tuple[str, str]]) -> bytes:
    """A PIXm query Parameters resource (IHE.PIXm.Query.Parameters.In), valueString."""
    root = etree.Element(f"{{{FHIR_NS}}}Parameters", nsmap={None: FHIR_NS})
    for name, value in parameters:
        parameter = etree.SubElement(root, f"{{{FHIR_NS}}}parameter")
        etree.SubElement(parameter, f"{{{FHIR_NS}}}name").set("value", name)
        etree.SubElement(parameter, f"{{{FHIR_NS}}}valueString").set("value", value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _request_parameters(body: bytes) -> list[tuple[str, str]]:
    root = etree.fromstring(body)
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


@dataclass(frozen=True)
class Queries:
    """Two PIXm queries about one patient and their answers: from a source identifier
    to all other domains, and to two target systems in XML."""

    family: str
    all_domains: bytes
    all_expected: set[tuple[str, str]]
    two_targets: bytes
    two_expected: set[tuple[str, str]]


def _project_queries(patient: dict[str, Any]) -> Queries:
    ids = {(i["system"], i["value"]) for i in patient["identifier"]}
    source = next(i for i in ids if i[0] == ROUGE)
    return Queries(
        family=patient["name"][0]["family"],
        all_domains=parameters_xml([("sourceIdentifier", f"{source[0]}|{source[1]}")]),
        all_expected=ids - {source},
        two_targets=parameters_xml([("sourceIdentifier", f"{source[0]}|{source[1]}"), ("targetSystem", BLEU),
                                    ("targetSystem", VERT), ("_format", "application/fhir+xml")]),
        two_expected={i for i in ids if i[0] in (BLEU, VERT)},
    )


def _corpus_queries(corpus: Path, patient: dict[str, Any]) -> Queries:
    folder = corpus / "fhir"
    two = (folder / "pixm-request-mohralice-red-to-blue.xml").read_bytes()
    targets = {value for name, value in _request_parameters(two) if name == "targetSystem"}
    return Queries(
        family=patient["name"][0]["family"],
        all_domains=(folder / "pixm-request-mohralice-red-all.xml").read_bytes(),
        all_expected=_expected_identifiers(folder / "pixm-response-mohralice-red-all.xml"),
        two_targets=two,
        two_expected={(i["system"], i["value"]) for i in patient["identifier"] if i["system"] in targets},
    )


@pytest.fixture(params=["project", pytest.param("corpus", marks=pytest.mark.corpus)])
def queries(request: pytest.FixtureRequest, project_patient: dict[str, Any]) -> Queries:
    """The project's queries always; the IHE PIXm sample requests when the corpus is present."""
    if request.param == "corpus":
        return _corpus_queries(request.getfixturevalue("corpus"), request.getfixturevalue("corpus_patient"))
    return _project_queries(project_patient)


def test_iti83_get_answers_like_the_sample_response(fhir_hub: HubProcess, http: requests.Session, queries: Queries) -> None:
    response = http.get(f"{fhir_hub.https_url}{PIX}", params=_request_parameters(queries.all_domains), timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    parameters = response.json()
    assert parameters["resourceType"] == "Parameters"
    assert _identifiers(parameters) == queries.all_expected
    references = [p["valueReference"]["reference"] for p in parameters["parameter"] if p["name"] == "targetId"]
    assert len(references) == 2
    read = http.get(f"{fhir_hub.https_url}/fhir/{references[0]}", timeout=20)
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == queries.family


def test_iti83_post_of_the_sample_parameters(fhir_hub: HubProcess, http: requests.Session, queries: Queries) -> None:
    response = http.post(f"{fhir_hub.https_url}{PIX}", data=queries.all_domains,
                         headers={"Content-Type": "application/fhir+xml"}, timeout=20)
    assert response.status_code == 200
    assert _identifiers(response.json()) == queries.all_expected


def test_iti83_target_systems_and_xml_format(fhir_hub: HubProcess, http: requests.Session, queries: Queries) -> None:
    """Two target systems, and the XML format asked for in the parameters."""
    response = http.get(f"{fhir_hub.https_url}{PIX}", params=_request_parameters(queries.two_targets), timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{FHIR_NS}}}Parameters"
    found = {
        (i.find("f:system", NS).get("value"), i.find("f:value", NS).get("value"))
        for i in root.findall("f:parameter/f:valueIdentifier", NS)
    }
    assert found == queries.two_expected
    assert len(found) == 2


def test_iti83_one_target_system(fhir_hub: HubProcess, http: requests.Session) -> None:
    response = http.get(f"{fhir_hub.https_url}{PIX}", timeout=20, params={
        "sourceIdentifier": f"{ROUGE}|BJR-417", "targetSystem": BLEU})
    assert _identifiers(response.json()) == {(BLEU, "BJB-417")}


def test_iti83_post_json_parameters(fhir_hub: HubProcess, http: requests.Session) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "sourceIdentifier", "valueIdentifier": {"system": ROUGE, "value": "BJR-417"}},
        {"name": "targetSystem", "valueUri": VERT},
    ]}
    response = http.post(f"{fhir_hub.https_url}{PIX}", json=body, headers={"Content-Type": "application/fhir+json"}, timeout=20)
    assert response.status_code == 200
    assert _identifiers(response.json()) == {(VERT, "BJV-417")}


@pytest.mark.parametrize(
    ("params", "status", "code", "diagnostics"),
    [
        ({"sourceIdentifier": f"{ROUGE}|NOBODY"}, 404, "not-found", "sourceIdentifier Patient Identifier not found"),
        ({"sourceIdentifier": "urn:oid:2.999.83.404|X"}, 404, "code-invalid",
         "sourceIdentifier Assigning Authority not found"),
        ({"sourceIdentifier": f"{ROUGE}|BJR-417", "targetSystem": "urn:oid:2.999.83.403"}, 403, "code-invalid",
         "targetSystem not found"),
        ({}, 400, "required", ""),
        ({"sourceIdentifier": "BJR-417"}, 400, "invalid", ""),
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
