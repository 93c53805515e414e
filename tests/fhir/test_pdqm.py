"""ITI-78 PDQm over HTTPS: searches on identities fed through ITI-8 (the project's
synthetic patient Aurore Vernadet with identifiers in three domains, and five PAGINA
persons; in the interoperability layer the IHE PIXm sample patient Alice Mohr and every
FHIR Patient sample of the corpus), paging with next links, JSON and XML, retrieve by
id, and OperationOutcome refusals."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from lxml import etree

import interop
from conformance.hubprocess import HubProcess, launch_hub
from fhir_support import FHIR_NS, ack_code, adt_a04, feed_patient_resource

# The project patient's domains (tests/fhir/conftest.py PROJECT_PATIENT).
ROUGE, BLEU, VERT = "urn:oid:2.999.60.1", "urn:oid:2.999.60.2", "urn:oid:2.999.60.3"


@pytest.fixture(scope="module", autouse=True)
def identities(fhir_hub: HubProcess, project_patient: dict[str, Any]) -> None:
    for n in range(5):
        message = adt_a04([(f"PG-{n}", "2.999.78.1")], "PAGINA", f"ZOE{n}", f"2001020{n + 1}", "F", f"PG-{n}",
                          address=f"{n} RUE HAUTE^^{'NANTES' if n % 2 else 'RENNES'}^^4400{n}^FRA^H", phone=f"019900000{n}")
        assert ack_code(fhir_hub.mllp(message)) == "AA"


def _get(hub: HubProcess, http: requests.Session, query: str, **headers: str) -> requests.Response:
    return http.get(f"{hub.https_url}/fhir/Patient{query}", headers=headers, timeout=20)


def _outcome(response: requests.Response, status: int, code: str) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    assert body["issue"][0]["code"] == code
    return body


def test_iti78_search_by_traits_returns_the_patient_sample(fhir_hub: HubProcess, http: requests.Session,
                                                          sample_patient: dict[str, Any]) -> None:
    name, address = sample_patient["name"][0], sample_patient["address"][0]
    query = f"?family={name['family']}&given={name['given'][0]}&birthdate={sample_patient['birthDate']}&gender={sample_patient['gender']}"
    response = _get(fhir_hub, http, query)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    assert len(bundle["entry"]) == 1
    patient = bundle["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{patient['id']}")
    assert {(i["system"], i["value"]) for i in patient["identifier"]} == {
        (i["system"], i["value"]) for i in sample_patient["identifier"]}
    assert patient["name"][0]["family"] == name["family"]
    assert patient["name"][0]["given"] == name["given"]
    assert (patient["gender"], patient["birthDate"]) == (sample_patient["gender"], sample_patient["birthDate"])
    assert patient["address"][0]["city"] == address["city"]
    assert patient["address"][0]["postalCode"] == address["postalCode"]


def test_iti78_string_search_is_starts_with_and_accent_insensitive(fhir_hub: HubProcess, http: requests.Session) -> None:
    assert len(_get(fhir_hub, http, "?family=vern").json()["entry"]) == 1
    assert "entry" not in _get(fhir_hub, http, "?family:exact=VERN").json()
    assert len(_get(fhir_hub, http, "?family=Vërnadét").json()["entry"]) == 1


def test_iti78_search_by_identifier(fhir_hub: HubProcess, http: requests.Session) -> None:
    found = _get(fhir_hub, http, f"?identifier={BLEU}|BJB-417").json()
    assert found["entry"][0]["resource"]["name"][0]["family"] == "VERNADET"
    assert "entry" not in _get(fhir_hub, http, f"?identifier={ROUGE}|BJB-417").json()


def test_iti78_domain_restriction_returns_that_domain_only(fhir_hub: HubProcess, http: requests.Session) -> None:
    """identifier=system| asks for the identifiers of one domain (PDQm 3.78.4.1.3)."""
    bundle = _get(fhir_hub, http, f"?family=VERNADET&identifier={VERT}|").json()
    assert bundle["entry"][0]["resource"]["identifier"] == [{"system": VERT, "value": "BJV-417"}]


def test_iti78_unknown_domain_is_404(fhir_hub: HubProcess, http: requests.Session) -> None:
    _outcome(_get(fhir_hub, http, "?family=VERNADET&identifier=urn:oid:2.999.78.404|"), 404, "not-found")


def test_iti78_paging_follows_next_links(fhir_hub: HubProcess, http: requests.Session) -> None:
    """_count=2 over five persons: pages of 2, 2, 1, each person once, no next link at the end."""
    url = f"{fhir_hub.https_url}/fhir/Patient?family=PAGINA&_count=2"
    seen: list[str] = []
    sizes: list[int] = []
    while url:
        bundle = http.get(url, timeout=20).json()
        entries = bundle.get("entry", [])
        sizes.append(len(entries))
        seen += [e["resource"]["identifier"][0]["value"] for e in entries]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert parse_qs(urlsplit(links["self"]).query)["family"] == ["PAGINA"]
        url = links.get("next", "")
    assert sizes == [2, 2, 1]
    assert sorted(seen) == [f"PG-{n}" for n in range(5)]


def test_iti78_used_page_token_is_refused(fhir_hub: HubProcess, http: requests.Session) -> None:
    first = _get(fhir_hub, http, "?family=PAGINA&_count=2").json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert http.get(next_url, timeout=20).status_code == 200
    _outcome(http.get(next_url, timeout=20), 404, "not-found")


@pytest.mark.parametrize("how", [{"query": "&_format=xml"}, {"query": "&_format=application/fhir%2Bxml"},
                                 {"query": "", "Accept": "application/fhir+xml"}])
def test_iti78_xml_on_request(fhir_hub: HubProcess, http: requests.Session, how: dict[str, str]) -> None:
    headers = {"Accept": how["Accept"]} if "Accept" in how else {}
    response = _get(fhir_hub, http, f"?family=VERNADET{how['query']}", **headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{FHIR_NS}}}Bundle"
    ns = {"f": FHIR_NS}
    assert root.find("f:type", ns).get("value") == "searchset"
    patient = root.find("f:entry/f:resource/f:Patient", ns)
    assert patient.find("f:name/f:family", ns).get("value") == "VERNADET"
    assert patient.find("f:birthDate", ns).get("value") == "1963-03-11"
    assert patient.find("f:extension", ns).get("url").endswith("fr-core-identity-reliability")


def test_iti78_retrieve_by_id(fhir_hub: HubProcess, http: requests.Session) -> None:
    entry = _get(fhir_hub, http, "?family=VERNADET").json()["entry"][0]
    read = http.get(entry["fullUrl"], timeout=20)
    assert read.status_code == 200
    assert read.json() == entry["resource"]
    _outcome(_get(fhir_hub, http, "/999999"), 404, "not-found")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?telecom=0199000001", "not-supported"),
        ("?family=PAGINA&telecom=email|zoe@example.org", "not-supported"),
        ("?family=PAGINA&address:exact=NANTES", "not-supported"),
        ("?family=VERNADET&address-state=XX", "not-supported"),
        ("?nickname=AU", "not-supported"),
        ("?family:contains=RNA", "not-supported"),
        ("?birthdate=1963", "not-supported"),
        ("?birthdate=ge1963-03-11", "not-supported"),
        ("?gender=f", "code-invalid"),
        ("?family=VERNADET,DOE", "not-supported"),
        ("?family=VERNADET&_count=0", "invalid"),
        ("", "required"),
    ],
)
def test_iti78_bad_or_unknown_parameter_is_400(fhir_hub: HubProcess, http: requests.Session, query: str, code: str) -> None:
    _outcome(_get(fhir_hub, http, query), 400, code)


def test_iti78_unsupported_format_is_406(fhir_hub: HubProcess, http: requests.Session) -> None:
    _outcome(_get(fhir_hub, http, "?family=VERNADET&_format=turtle"), 406, "not-supported")


def test_iti78_address_and_telecom_narrow_the_search(fhir_hub: HubProcess, http: requests.Session) -> None:
    """address (any part, starts with) and telecom (phone): evaluated on the persons the
    other parameters find."""
    nantes = _get(fhir_hub, http, "?family=PAGINA&address=nan").json()
    assert sorted(e["resource"]["identifier"][0]["value"] for e in nantes["entry"]) == ["PG-1", "PG-3"]
    street = _get(fhir_hub, http, "?family=VERNADET&address=14 allée").json()
    assert len(street["entry"]) == 1
    assert "entry" not in _get(fhir_hub, http, "?family=VERNADET&address=NANTES").json()
    phone = _get(fhir_hub, http, "?family=PAGINA&telecom=phone|01 99 00 00 04").json()
    assert [e["resource"]["identifier"][0]["value"] for e in phone["entry"]] == ["PG-4"]


def test_iti78_paging_with_a_parameter_evaluated_on_the_persons_found(fhir_hub: HubProcess, http: requests.Session) -> None:
    """Three persons in RENNES among five PAGINA, two per page: 2 then 1, each once."""
    url = f"{fhir_hub.https_url}/fhir/Patient?family=PAGINA&address=RENNES&_count=2"
    pages: list[list[str]] = []
    while url:
        bundle = http.get(url, timeout=20).json()
        pages.append([e["resource"]["identifier"][0]["value"] for e in bundle.get("entry", [])])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
    assert pages == [["PG-0", "PG-2"], ["PG-4"]]


# -- the interoperability layer: every FHIR Patient sample of the corpus ----------------------

@pytest.fixture(scope="module")
def replay_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path, corpus: Path) -> Iterator[HubProcess]:
    """A hub of its own: the samples update one another's records (same identifiers)."""
    process = launch_hub(tmp_path_factory.mktemp("fhir-replay"), pki,
                         '[security]\nrequire_vihf = false\n\n[identity]\naccepted_domains = ["*"]\n')
    yield process
    process.stop()


# The sample holding all of Alice Mohr's identifiers first: a feed whose identifiers
# belonged to two records fed before would be refused (205); the one-domain samples then
# update her records, and the maiden-name record is fed and then updated.
REPLAY = sorted(interop.corpus_files("fhir", "Patient-*.json"), key=lambda name: name != "Patient-MohrAlice.json")


@pytest.mark.corpus
@pytest.mark.parametrize("name", REPLAY or ["(corpus absent)"])
def test_every_fhir_patient_sample_is_found_by_each_identifier(replay_hub: HubProcess, corpus: Path, name: str) -> None:
    """Fed (ITI-8, AA), each sample is found by PDQm through each of its identifiers,
    with its name, gender and birth date."""
    patient = feed_patient_resource(replay_hub, corpus / "fhir" / name)
    with replay_hub.session() as session:
        for identifier in patient["identifier"]:
            response = session.get(f"{replay_hub.https_url}/fhir/Patient",
                                   params={"identifier": f"{identifier['system']}|{identifier['value']}"}, timeout=20)
            assert response.status_code == 200
            entries = response.json()["entry"]
            assert len(entries) == 1, identifier
            found = entries[0]["resource"]
            assert (identifier["system"], identifier["value"]) in {(i["system"], i["value"]) for i in found["identifier"]}
            assert found["name"][0]["family"] == patient["name"][0]["family"]
            assert found["name"][0]["given"] == patient["name"][0]["given"]
            assert (found["gender"], found["birthDate"]) == (patient["gender"], patient["birthDate"])
