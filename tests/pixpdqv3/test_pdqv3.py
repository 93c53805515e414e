"""ITI-47 Patient Demographics Query HL7 V3 over HTTPS: every query sample of the corpus
answered (valid PRPA_IN201306UV02), matches by traits and identifiers, domain filtering,
unknown domains, and the continuation protocol (QUQI_IN000003UV01)."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from conformance.hubprocess import HubProcess
from pixpdqv3_support import ACTION, assert_valid, continuation, feed, load_message, pdq_query, send

QUERY_ACTION = ACTION + "PRPA_IN201305UV02"
PARAMETERS = "/PRPA_IN201305UV02/controlActProcess/queryByParameter/parameterList"
QUERY_SAMPLES = [
    "01_PDQQuery1.xml", "ITI-47_request_raw.xml", "PDQ.xml", "PDQ_ID_Query.xml", "PDQ_Maximal_Query.xml",
    "PDQ_unused_global_namespace_issue.xml", "iti55-sample-request.xml",
]
# Samples asking for everyone born on a day (birth date and sex, or birth date and the
# name `*`): too broad for the supplier's caps ([identity] pdq_min_name_chars).
TOO_BROAD_SAMPLES = ["PDQ_with_PID4.xml", "PDQv3.xml"]


@pytest.fixture(scope="module", autouse=True)
def identities(v3_hub: HubProcess, http: requests.Session) -> None:
    """Patients the corpus queries describe, and a family of six for paging."""
    people = [
        ([("1.2.840.114350.1.13.99997.2.3412", "1234"), ("1.2.840.114350.1.13.99998.8734", "JJ-1"),
          ("2.16.840.1.113883.4.1", "58910"), ("1.2.250.1.999.47.9", "JJ-LOCAL")], "Jones", "Jimmy", "19630804", "M", ""),
        ([("1.3.6.1.4.1.21367.2005.1.2", "HEIDI-1")], "Heidi", "MARY", "19400101", "F", "Some City"),
        ([("1.3.6.1.4.1.21367.2005.1.2", "HEIDI-2")], "Heidi", "MARY", "19400101", "F", "Other City"),
        ([("1.2.3.4", "PDQ113XX03"), ("1.2.3.4.5", "PDQ113XX04"), ("1.2.3", "ACC001")], "ALPHA", "ANNA", "19800131", "F", ""),
        ([("1.1.1.2.2", "08242eb8-dd47-4298-8d2f-25d60114f137"), ("1.3.6.1.4.1.21367.2017.2.5.93", "EPD-77"),
          ("1.2.250.1.999.47.8", "EPD-LOCAL")], "Tauxe", "Maja", "19600618", "F", ""),
        ([("1.2.250.1.999.47.1", "CHIP-1"), ("2.16.756.5.30.1.127.3.10.3", "7613376")], "MOORE", "CHIP", "19511111", "M", ""),
    ]
    people += [([("1.2.250.1.999.47.2", f"PAGE-{n}")], "PAGINE", f"PRENOM{n}", f"200001{n + 10}", "F", "") for n in range(6)]
    for ids, family, given, birth, sex, city in people:
        street = "3443 North Arctic Avenue" if city else ""
        message = feed(ids, family, given, birth, sex, city=city, street=street)
        reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", message)
        assert reply.ack_code == "AA", reply.details


def _pdq(hub: HubProcess, http: requests.Session, message, action: str = QUERY_ACTION):  # type: ignore[no-untyped-def]
    reply = send(hub.https_url, http, "/pdq", action, message)
    assert reply.status == 200
    return reply


@pytest.mark.parametrize("sample", QUERY_SAMPLES)
def test_iti47_corpus_query_is_answered(v3_hub: HubProcess, http: requests.Session, corpus: Path, sample: str) -> None:
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / sample))
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201306UV02"
    assert reply.ack_code == "AA", reply.details
    assert reply.query_response_code in {"OK", "NF"}
    assert_valid(reply.message)
    assert reply.quantity("resultCurrentQuantity") == len(reply.patients())


@pytest.mark.parametrize("sample", TOO_BROAD_SAMPLES)
def test_iti47_corpus_query_too_broad_is_AE(v3_hub: HubProcess, http: requests.Session, corpus: Path, sample: str) -> None:
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / sample))
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("207", PARAMETERS)]
    assert reply.patients() == []
    assert_valid(reply.message)


def test_iti47_query_by_traits_finds_the_patient(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """01_PDQQuery1: Jimmy Jones, M, 1963-08-04, LivingSubjectId 1234; identifiers
    limited to the three OtherIDsScopingOrganization domains."""
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / "01_PDQQuery1.xml"))
    assert reply.query_response_code == "OK"
    assert len(reply.patients()) == 1
    assert reply.identifiers() == {
        ("1.2.840.114350.1.13.99997.2.3412", "1234"), ("1.2.840.114350.1.13.99998.8734", "JJ-1"),
        ("2.16.840.1.113883.4.1", "58910"),
    }
    person = reply.patients()[0].find("{urn:hl7-org:v3}patientPerson")
    assert person.findtext("{urn:hl7-org:v3}name/{urn:hl7-org:v3}family") == "Jones"
    assert person.find("{urn:hl7-org:v3}birthTime").get("value") == "19630804"
    assert person.find("{urn:hl7-org:v3}administrativeGenderCode").get("code") == "M"


def test_iti47_names_split_over_two_parameters(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """PDQ.xml gives the given name and the family name in two LivingSubjectName."""
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / "PDQ.xml"))
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == {("1.3.6.1.4.1.21367.2005.1.2", "HEIDI-1")}


def test_iti47_several_living_subject_ids_all_apply(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / "PDQ_ID_Query.xml"))
    assert reply.query_response_code == "OK"
    assert len(reply.patients()) == 1
    mismatch = pdq_query(identifiers=[("1.2.3.4", "PDQ113XX03"), ("1.2.250.1.999.47.1", "CHIP-1")])
    assert _pdq(v3_hub, http, mismatch).query_response_code == "NF"


def test_iti47_domain_filter_keeps_requested_domain_only(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    reply = _pdq(v3_hub, http, load_message(corpus / "hl7v3" / "ITI-47_request_raw.xml"))
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == {("1.3.6.1.4.1.21367.2017.2.5.93", "EPD-77")}


def test_iti47_unknown_domain_is_AE_204_at_its_repetition(v3_hub: HubProcess, http: requests.Session) -> None:
    """ITI TF-2b 3.47.4.2.3 case 4: AE, 204, location of the OtherIDsScopingOrganization."""
    reply = _pdq(v3_hub, http, pdq_query(family="MOORE", domains=["1.2.250.1.999.47.1", "1.2.250.1.999.47.404"]))
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/otherIDsScopingOrganization[2]/value")]
    assert reply.patients() == []
    assert_valid(reply.message)


def test_iti47_no_match_is_NF(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _pdq(v3_hub, http, pdq_query(family="NOBODY", birth="19000101"))
    assert (reply.ack_code, reply.query_response_code) == ("AA", "NF")
    assert reply.quantity("resultTotalQuantity") == 0


def test_iti47_empty_parameter_list_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _pdq(v3_hub, http, pdq_query())
    assert reply.ack_code == "AE"
    assert reply.details == [("101", PARAMETERS)]


def test_iti47_bad_birth_time_is_AE_102(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _pdq(v3_hub, http, pdq_query(family="MOORE", birth="1951-11-11"))
    assert reply.ack_code == "AE"
    assert reply.details == [("102", f"{PARAMETERS}/livingSubjectBirthTime/value")]


def test_iti47_continuation_pages_through_all_results(v3_hub: HubProcess, http: requests.Session) -> None:
    """initialQuantity 2 of 6; continue by 3; continue; each person once, the last
    answer with nothing remaining; then the query is over."""
    reply = _pdq(v3_hub, http, pdq_query(family="PAGINE", quantity=2, query_id="paging-1"))
    assert [reply.quantity(n) for n in ("resultTotalQuantity", "resultCurrentQuantity", "resultRemainingQuantity")] == [6, 2, 4]
    seen = [id_ for p in reply.patients() for id_ in reply.identifiers(p)]
    next_page = _pdq(v3_hub, http, continuation("paging-1", quantity=3), ACTION + "QUQI_IN000003UV01_Continue")
    assert next_page.ack_code == "AA", next_page.details
    assert_valid(next_page.message)
    assert [next_page.quantity(n) for n in ("resultTotalQuantity", "resultCurrentQuantity", "resultRemainingQuantity")] == [6, 3, 1]
    seen += [id_ for p in next_page.patients() for id_ in next_page.identifiers(p)]
    last = _pdq(v3_hub, http, continuation("paging-1"), ACTION + "QUQI_IN000003UV01_Continue")
    assert [last.quantity(n) for n in ("resultCurrentQuantity", "resultRemainingQuantity")] == [1, 0]
    seen += [id_ for p in last.patients() for id_ in last.identifiers(p)]
    assert sorted(seen) == sorted(("1.2.250.1.999.47.2", f"PAGE-{n}") for n in range(6))
    over = _pdq(v3_hub, http, continuation("paging-1"), ACTION + "QUQI_IN000003UV01_Continue")
    assert over.ack_code == "AE"
    assert over.details[0][0] == "204"


def test_iti47_cancel_ends_the_query(v3_hub: HubProcess, http: requests.Session) -> None:
    _pdq(v3_hub, http, pdq_query(family="PAGINE", quantity=2, query_id="paging-2"))
    cancelled = _pdq(v3_hub, http, continuation("paging-2", cancel=True), ACTION + "QUQI_IN000003UV01_Cancel")
    assert cancelled.action == "urn:hl7-org:v3:MCCI_IN000002UV01"
    assert cancelled.ack_code == "AA"
    assert_valid(cancelled.message)
    after = _pdq(v3_hub, http, continuation("paging-2"), ACTION + "QUQI_IN000003UV01_Continue")
    assert after.ack_code == "AE"


def test_iti47_pdq_wsdl_is_served(v3_hub: HubProcess, http: requests.Session) -> None:
    response = http.get(f"{v3_hub.https_url}/pdq?wsdl", timeout=10)
    assert response.status_code == 200
    assert b"urn:hl7-org:v3:QUQI_IN000003UV01_Continue" in response.content
    assert f'location="{v3_hub.https_url}/pdq"'.replace("127.0.0.1", "127.0.0.1").encode() in response.content
