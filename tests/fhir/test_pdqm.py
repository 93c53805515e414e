"""ITI-78 PDQm over HTTPS: searches on identities fed through ITI-8 (one of them the
PIXm sample patient Alice Mohr), paging with next links, JSON and XML, retrieve by id, and
OperationOutcome refusals."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from fhir_support import FHIR_NS, ack_code, adt_a04, feed_patient_resource

RED, BLUE, GREEN = "1.3.6.1.4.1.21367.13.20.1000", "1.3.6.1.4.1.21367.13.20.3000", "1.3.6.1.4.1.21367.13.20.2000"


@pytest.fixture(scope="module", autouse=True)
def identities(fhir_hub: HubProcess, corpus: Path) -> None:
    feed_patient_resource(fhir_hub, corpus / "fhir" / "Patient-MohrAlice.json")
    for n in range(5):
        message = adt_a04([(f"PG-{n}", "1.2.250.1.999.78.1")], "PAGINA", f"ZOE{n}", f"2001020{n + 1}", "F", f"PG-{n}",
                          address=f"{n} RUE HAUTE^^{'NANTES' if n % 2 else 'RENNES'}^^4400{n}^FRA^H", phone=f"020000000{n}")
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


def test_iti78_search_by_traits_returns_the_patient_sample(fhir_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    response = _get(fhir_hub, http, "?family=MOHR&given=ALICE&birthdate=1958-01-30&gender=female")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    assert len(bundle["entry"]) == 1
    patient = bundle["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{patient['id']}")
    assert {(i["system"], i["value"]) for i in patient["identifier"]} == {
        (f"urn:oid:{RED}", "IHERED-994"), (f"urn:oid:{BLUE}", "IHEBLUE-994"), (f"urn:oid:{GREEN}", "IHEGREEN-994"),
    }
    assert patient["name"][0]["family"] == "MOHR"
    assert patient["name"][0]["given"] == ["ALICE"]
    assert (patient["gender"], patient["birthDate"]) == ("female", "1958-01-30")
    assert patient["address"][0]["city"] == "OAK BROOK"
    assert patient["address"][0]["postalCode"] == "60523"


def test_iti78_string_search_is_starts_with_and_accent_insensitive(fhir_hub: HubProcess, http: requests.Session) -> None:
    assert len(_get(fhir_hub, http, "?family=moh").json()["entry"]) == 1
    assert "entry" not in _get(fhir_hub, http, "?family:exact=MOH").json()
    assert len(_get(fhir_hub, http, "?family=Möhr").json()["entry"]) == 1


def test_iti78_search_by_identifier(fhir_hub: HubProcess, http: requests.Session) -> None:
    found = _get(fhir_hub, http, f"?identifier=urn:oid:{BLUE}|IHEBLUE-994").json()
    assert found["entry"][0]["resource"]["name"][0]["family"] == "MOHR"
    assert "entry" not in _get(fhir_hub, http, f"?identifier=urn:oid:{RED}|IHEBLUE-994").json()


def test_iti78_domain_restriction_returns_that_domain_only(fhir_hub: HubProcess, http: requests.Session) -> None:
    """identifier=system| asks for the identifiers of one domain (PDQm 3.78.4.1.3)."""
    bundle = _get(fhir_hub, http, f"?family=MOHR&identifier=urn:oid:{GREEN}|").json()
    assert bundle["entry"][0]["resource"]["identifier"] == [{"system": f"urn:oid:{GREEN}", "value": "IHEGREEN-994"}]


def test_iti78_unknown_domain_is_404(fhir_hub: HubProcess, http: requests.Session) -> None:
    _outcome(_get(fhir_hub, http, "?family=MOHR&identifier=urn:oid:1.2.250.1.999.78.404|"), 404, "not-found")


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
    response = _get(fhir_hub, http, f"?family=MOHR{how['query']}", **headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{FHIR_NS}}}Bundle"
    ns = {"f": FHIR_NS}
    assert root.find("f:type", ns).get("value") == "searchset"
    patient = root.find("f:entry/f:resource/f:Patient", ns)
    assert patient.find("f:name/f:family", ns).get("value") == "MOHR"
    assert patient.find("f:birthDate", ns).get("value") == "1958-01-30"
    assert patient.find("f:extension", ns).get("url").endswith("fr-core-identity-reliability")


def test_iti78_retrieve_by_id(fhir_hub: HubProcess, http: requests.Session) -> None:
    entry = _get(fhir_hub, http, "?family=MOHR").json()["entry"][0]
    read = http.get(entry["fullUrl"], timeout=20)
    assert read.status_code == 200
    assert read.json() == entry["resource"]
    _outcome(_get(fhir_hub, http, "/999999"), 404, "not-found")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?telecom=0200000001", "not-supported"),
        ("?family=PAGINA&telecom=email|zoe@example.org", "not-supported"),
        ("?family=PAGINA&address:exact=NANTES", "not-supported"),
        ("?family=MOHR&address-state=IL", "not-supported"),
        ("?nickname=AL", "not-supported"),
        ("?family:contains=OH", "not-supported"),
        ("?birthdate=1958", "not-supported"),
        ("?birthdate=ge1958-01-30", "not-supported"),
        ("?gender=f", "code-invalid"),
        ("?family=MOHR,DOE", "not-supported"),
        ("?family=MOHR&_count=0", "invalid"),
        ("", "required"),
    ],
)
def test_iti78_bad_or_unknown_parameter_is_400(fhir_hub: HubProcess, http: requests.Session, query: str, code: str) -> None:
    _outcome(_get(fhir_hub, http, query), 400, code)


def test_iti78_unsupported_format_is_406(fhir_hub: HubProcess, http: requests.Session) -> None:
    _outcome(_get(fhir_hub, http, "?family=MOHR&_format=turtle"), 406, "not-supported")


def test_iti78_address_and_telecom_narrow_the_search(fhir_hub: HubProcess, http: requests.Session) -> None:
    """address (any part, starts with) and telecom (phone): evaluated on the persons the
    other parameters find."""
    nantes = _get(fhir_hub, http, "?family=PAGINA&address=nan").json()
    assert sorted(e["resource"]["identifier"][0]["value"] for e in nantes["entry"]) == ["PG-1", "PG-3"]
    street = _get(fhir_hub, http, "?family=MOHR&address=820 jorie").json()
    assert len(street["entry"]) == 1
    assert "entry" not in _get(fhir_hub, http, "?family=MOHR&address=CHICAGO").json()
    phone = _get(fhir_hub, http, "?family=PAGINA&telecom=phone|02 00 00 00 04").json()
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
