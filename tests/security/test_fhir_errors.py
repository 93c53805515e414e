"""Issue 18, finding 11 on the FHIR endpoint (`/fhir/Patient`, PDQm ITI-78 and PIXm
ITI-83): bad input is a 4xx with an OperationOutcome, never a 500, and the links of a
searchset (`fullUrl`, `self`, `next`) start at the hub's public base URL, never at the
request's Host header.

Real hubs (VIHF required, as by default) on loopback; every request carries a fresh signed
VIHF assertion (IUA `Authorization: SAML`)."""
from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess, launch_hub
from vihf.issue import Signer, issue

IPP = "1.2.250.1.999.18.11"
CONFIG = f'[identity]\naccepted_domains = ["{IPP}"]\n'
PUBLIC_BASE_URL = "https://hub.example.org:9443"
EVIL = "evil.example"


def _feed(hub: HubProcess) -> None:
    for n in range(3):
        reply = hub.mllp(
            f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101||ADT^A28^ADT_A05|ERR-{n}|P|2.5\rEVN||20260101\r"
            f"PID|1||ERR-{n}^^^&{IPP}&ISO^PI||LEGRAND^ALIX{n}^^^^^L||1980010{n + 1}|F\rPV1|1|N\r"
        ).decode()
        assert "MSA|AA" in reply, reply


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("fhir-errors"), pki, CONFIG)
    _feed(process)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def saml(signer: Signer) -> Callable[[], str]:
    def fresh() -> str:
        assertion = issue(signer, subject_id="899900012347", subject_name="MARTIN, Paul, Médecine générale",
                          roles=["10", "SM26"], structure_id="49990001234701", sector="SA07")
        return "SAML " + base64.urlsafe_b64encode(etree.tostring(assertion)).decode("ascii").rstrip("=")

    return fresh


def _outcome(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert (body["issue"][0]["severity"], body["issue"][0]["code"]) == ("error", code)


# -- no 500 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"parameter":7}',
    b'{"resourceType":"Parameters","parameter":7}',
    b'{"resourceType":"Parameters","parameter":null}',
    b'{"resourceType":"Parameters","parameter":"sourceIdentifier"}',
    b'{"resourceType":"Parameters","parameter":[7]}',
    b'{"resourceType":"Parameters","parameter":[{"name":7,"valueString":"x"}]}',
    b'{"resourceType":"Parameters","parameter":[{"name":"sourceIdentifier","valueIdentifier":[1,2]}]}',
    b'{"resourceType":"Parameters","parameter":[{"name":"sourceIdentifier",'
    b'"valueIdentifier":{"system":{"a":1},"value":["x"]}}]}',
    b"[7]",
    b'"Parameters"',
    b"[" * 100_000,
    b"\xff\xfe{",
], ids=lambda body: body[:40].decode("latin-1"))
def test_iti83_malformed_parameters_body_is_400(hub: HubProcess, http: requests.Session, saml: Callable[[], str],
                                                body: bytes) -> None:
    response = http.post(f"{hub.https_url}/fhir/Patient/$ihe-pix", data=body, timeout=30,
                         headers={"Authorization": saml(), "Content-Type": "application/fhir+json"})
    _outcome(response, 400, "invalid")


@pytest.mark.parametrize(("search", "code"), [
    ("_count=%C2%B2", "invalid"),
    ("_count=-5", "invalid"),
    ("_count=1e3", "invalid"),
    ("birthdate=2020-13-45", "invalid"),
    ("birthdate=0000-01-01", "invalid"),
    ("birthdate=1980-02-30", "invalid"),
])
def test_iti78_bad_count_or_date_is_400(hub: HubProcess, http: requests.Session, saml: Callable[[], str],
                                        search: str, code: str) -> None:
    response = http.get(f"{hub.https_url}/fhir/Patient?family=LEGRAND&{search}", headers={"Authorization": saml()},
                        timeout=30)
    _outcome(response, 400, code)


@pytest.mark.parametrize("count", ["9" * 5000, "99999999999999999999", "0000000000000000000002"])
def test_iti78_huge_count_is_a_page_the_server_chooses(hub: HubProcess, http: requests.Session,
                                                       saml: Callable[[], str], count: str) -> None:
    """FHIR lets the server return fewer than `_count`: any count reads as at most its
    largest page, never as an error of the hub."""
    response = http.get(f"{hub.https_url}/fhir/Patient?family=LEGRAND&_count={count}",
                        headers={"Authorization": saml()}, timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.json()["entry"]) == (2 if count.endswith("2") else 3)


def test_iti78_id_beyond_any_record_matches_nothing(hub: HubProcess, http: requests.Session,
                                                    saml: Callable[[], str]) -> None:
    """`_id` is a legal FHIR id of 26 digits: no record has it (a search finds nothing, a
    read is 404), where it used to overflow the database driver (500)."""
    huge = "9" * 26
    search = http.get(f"{hub.https_url}/fhir/Patient?_id={huge}", headers={"Authorization": saml()}, timeout=30)
    assert search.status_code == 200, search.text
    assert (search.json()["resourceType"], search.json().get("entry")) == ("Bundle", None)
    _outcome(http.get(f"{hub.https_url}/fhir/Patient/{huge}", headers={"Authorization": saml()}, timeout=30),
             404, "not-found")


# -- links from the public base URL -------------------------------------------------------------

def _links(bundle: dict) -> list[str]:  # type: ignore[type-arg]
    return [link["url"] for link in bundle["link"]] + [entry["fullUrl"] for entry in bundle.get("entry", [])]


def test_iti78_links_ignore_the_host_header(hub: HubProcess, http: requests.Session, saml: Callable[[], str]) -> None:
    response = http.get(f"{hub.https_url}/fhir/Patient?family=LEGRAND&_count=2", timeout=30,
                        headers={"Authorization": saml(), "Host": EVIL})
    assert response.status_code == 200, response.text
    links = _links(response.json())
    assert {"self", "next"} <= {link["relation"] for link in response.json()["link"]}
    assert EVIL not in response.text
    assert all(url.startswith(f"{hub.https_url}/fhir/Patient") for url in links), links


def test_iti78_links_start_at_the_configured_public_base_url(
    start_hub: Callable[..., HubProcess], saml: Callable[[], str]
) -> None:
    hub = start_hub(CONFIG + f'\n[server]\npublic_base_url = "{PUBLIC_BASE_URL}/"\n')
    _feed(hub)
    with hub.session() as http:
        response = http.get(f"{hub.https_url}/fhir/Patient?family=LEGRAND&_count=2", timeout=30,
                            headers={"Authorization": saml(), "Host": EVIL})
    assert response.status_code == 200, response.text
    links = _links(response.json())
    assert len(links) == 4  # self, next, two entries
    assert all(url.startswith(f"{PUBLIC_BASE_URL}/fhir/Patient") for url in links), links
    assert EVIL not in response.text
