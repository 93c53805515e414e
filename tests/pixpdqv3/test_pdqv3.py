"""ITI-47 Patient Demographics Query HL7 V3 over HTTPS: queries built by the project and
every query sample of the corpus answered, matches by traits and identifiers, domain
filtering, unknown domains, the breadth caps and the continuation protocol
(QUQI_IN000003UV01). The behaviour tests run on built messages; the schema validity of
each answer (HL7 v3 NE2008 schemas, in the corpus) and the corpus samples are the
interoperability layer."""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from pixpdqv3_support import (
    ACTION, Address, MessageSource, Reply, assert_valid, cases, continuation, corpus_message, feed, pdq_query, send,
)

QUERY_ACTION = ACTION + "PRPA_IN201305UV02"
CONTINUE_ACTION = ACTION + "QUQI_IN000003UV01_Continue"
CANCEL_ACTION = ACTION + "QUQI_IN000003UV01_Cancel"
PARAMETERS = "/PRPA_IN201305UV02/controlActProcess/queryByParameter/parameterList"
QUERY_SAMPLES = [
    "01_PDQQuery1.xml", "ITI-47_request_raw.xml", "PDQ.xml", "PDQ_ID_Query.xml", "PDQ_Maximal_Query.xml",
    "PDQ_unused_global_namespace_issue.xml", "iti55-sample-request.xml",
]
# Samples asking for everyone born on a day (birth date and sex, or birth date and the
# name `*`): too broad for the supplier's caps ([identity] pdq_min_name_chars).
TOO_BROAD_SAMPLES = ["PDQ_with_PID4.xml", "PDQv3.xml"]

# Synthetic patients of the built queries: local domains under the example arc 2.999, an
# INS under the INS test OID (its NIR key correct).
IPP = "2.999.47.10"
EXTERNAL = "2.999.47.11"
THIRD = "2.999.47.12"
INS_TEST = "1.2.250.1.213.1.4.10"
INS = "163082910401755"
ROUSSEL = [(IPP, "IPP-4701"), (EXTERNAL, "EXT-4701"), (INS_TEST, INS), (THIRD, "T-4701")]
BLANCHARD = [(IPP, "IPP-4704"), (EXTERNAL, "EXT-4704"), (THIRD, "T-4704")]
PERRIN = [(IPP, "IPP-4705"), (EXTERNAL, "EXT-4705")]
GARNIER_STREET = "12 rue des Ajoncs"


@pytest.fixture(scope="module", autouse=True)
def identities(v3_hub: HubProcess, http: requests.Session) -> None:
    """The synthetic patients of the built queries, the patients the corpus queries
    describe, and a family of six for paging."""
    people: list[tuple[list[tuple[str, str]], str, str, str, str, str]] = [
        (ROUSSEL, "ROUSSEL", "YVES", "19630804", "M", ""),
        ([(EXTERNAL, "G-1")], "GARNIER", "ODILE", "19400101", "F", "Quimper"),
        ([(EXTERNAL, "G-2")], "GARNIER", "ODILE", "19400101", "F", "Brest"),
        (BLANCHARD, "BLANCHARD", "LISE", "19800131", "F", ""),
        (PERRIN, "PERRIN", "MAUD", "19600618", "F", ""),
        # the identities of the corpus queries (interoperability layer)
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
        street = GARNIER_STREET if family == "GARNIER" else "3443 North Arctic Avenue" if city else ""
        address = Address(street=street, city=city) if city else None
        message = feed(ids, family, given, birth, sex, address=address)
        reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", message)
        assert reply.ack_code == "AA", reply.details


def _pdq(hub: HubProcess, http: requests.Session, message: etree._Element, action: str = QUERY_ACTION) -> Reply:
    reply = send(hub.https_url, http, "/pdq", action, message)
    assert reply.status == 200
    return reply


# -- queries built by the project, answered AA ----------------------------------------------

def _traits_query() -> etree._Element:
    """Traits, a LivingSubjectId and three OtherIDsScopingOrganization (the queried
    domain among them), an initialQuantity."""
    return pdq_query(family="ROUSSEL", given="YVES", birth="19630804", sex="M", identifiers=[(IPP, "IPP-4701")],
                     domains=[IPP, INS_TEST, EXTERNAL], quantity=5)


def _split_name_query() -> etree._Element:
    """The given and the family name in two LivingSubjectName, the address telling the
    two homonyms apart, one domain."""
    return pdq_query(family="GARNIER", given="ODILE", birth="19400101", sex="F", split_name=True, domains=[EXTERNAL],
                     address=Address(street=GARNIER_STREET, city="Quimper"))


ANSWERED = {
    "traits-id-domains": _traits_query,
    "split-name-address": _split_name_query,
    "several-ids": lambda: pdq_query(identifiers=BLANCHARD),
    "id-and-domains": lambda: pdq_query(identifiers=[PERRIN[0]], domains=[EXTERNAL, THIRD]),
    "family-name-only": lambda: pdq_query(family="GARNIER"),
    "no-match": lambda: pdq_query(family="PERSONNE", birth="19000101"),
}
TOO_BROAD = {
    "birth-and-sex": lambda: pdq_query(birth="19400101", sex="F"),
    "birth-and-any-name": lambda: pdq_query(family="*", birth="19400101"),
    "short-name-alone": lambda: pdq_query(family="GA"),
}


@pytest.mark.parametrize("make", cases(ANSWERED, QUERY_SAMPLES))
def test_iti47_query_is_answered(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    reply = _pdq(v3_hub, http, make())
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201306UV02"
    assert reply.ack_code == "AA", reply.details
    assert reply.query_response_code in {"OK", "NF"}
    assert reply.quantity("resultCurrentQuantity") == len(reply.patients())


@pytest.mark.parametrize("make", cases(ANSWERED, QUERY_SAMPLES, interop_only=True))
def test_iti47_answer_is_schema_valid(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    """Interop: the PRPA_IN201306UV02 answer is valid against the HL7 v3 NE2008 schema."""
    assert_valid(_pdq(v3_hub, http, make()).message)


@pytest.mark.parametrize("make", cases(TOO_BROAD, TOO_BROAD_SAMPLES))
def test_iti47_query_too_broad_is_AE(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    reply = _pdq(v3_hub, http, make())
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("207", PARAMETERS)]
    assert reply.patients() == []


@pytest.mark.parametrize("make", cases(TOO_BROAD, TOO_BROAD_SAMPLES, interop_only=True))
def test_iti47_too_broad_answer_is_schema_valid(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    assert_valid(_pdq(v3_hub, http, make()).message)


def _person(reply: Reply) -> tuple[str | None, str | None, str | None]:
    person = reply.patients()[0].find("{urn:hl7-org:v3}patientPerson")
    return (person.findtext("{urn:hl7-org:v3}name/{urn:hl7-org:v3}family"),
            person.find("{urn:hl7-org:v3}birthTime").get("value"),
            person.find("{urn:hl7-org:v3}administrativeGenderCode").get("code"))


@pytest.mark.parametrize(("make", "identifiers", "person"), [
    pytest.param(_traits_query, set(ROUSSEL[:2]), ("ROUSSEL", "19630804", "M"), id="project"),
    pytest.param(corpus_message("01_PDQQuery1.xml"), {
        ("1.2.840.114350.1.13.99997.2.3412", "1234"), ("1.2.840.114350.1.13.99998.8734", "JJ-1"),
        ("2.16.840.1.113883.4.1", "58910"),
    }, ("Jones", "19630804", "M"), id="01_PDQQuery1.xml", marks=pytest.mark.corpus),
])
def test_iti47_query_by_traits_finds_the_patient(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                                 identifiers: set[tuple[str, str]], person: tuple[str, str, str]) -> None:
    """Traits and a LivingSubjectId: one patient, its identifiers limited to the
    OtherIDsScopingOrganization domains (the one outside them left out; in the built
    query, the INS asked for is withheld too: the identity fed is not qualified)."""
    reply = _pdq(v3_hub, http, make())
    assert reply.query_response_code == "OK"
    assert len(reply.patients()) == 1
    assert reply.identifiers() == identifiers
    assert _person(reply) == person


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(_split_name_query, {(EXTERNAL, "G-1")}, id="project"),
    pytest.param(corpus_message("PDQ.xml"), {("1.3.6.1.4.1.21367.2005.1.2", "HEIDI-1")}, id="PDQ.xml",
                 marks=pytest.mark.corpus),
])
def test_iti47_names_split_over_two_parameters(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                               expected: set[tuple[str, str]]) -> None:
    """The given name and the family name in two LivingSubjectName; the address keeps
    one of two homonyms born the same day."""
    reply = _pdq(v3_hub, http, make())
    assert reply.query_response_code == "OK"
    assert len(reply.patients()) == 1
    assert reply.identifiers() == expected


@pytest.mark.parametrize("make", [
    pytest.param(lambda: pdq_query(identifiers=BLANCHARD), id="project"),
    pytest.param(corpus_message("PDQ_ID_Query.xml"), id="PDQ_ID_Query.xml", marks=pytest.mark.corpus),
])
def test_iti47_several_living_subject_ids_all_apply(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    reply = _pdq(v3_hub, http, make())
    assert reply.query_response_code == "OK"
    assert len(reply.patients()) == 1
    mismatch = pdq_query(identifiers=[BLANCHARD[0], ROUSSEL[0]])
    assert _pdq(v3_hub, http, mismatch).query_response_code == "NF"


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda: pdq_query(identifiers=[PERRIN[0]], domains=[EXTERNAL, THIRD]), {PERRIN[1]}, id="project"),
    pytest.param(corpus_message("ITI-47_request_raw.xml"), {("1.3.6.1.4.1.21367.2017.2.5.93", "EPD-77")},
                 id="ITI-47_request_raw.xml", marks=pytest.mark.corpus),
])
def test_iti47_domain_filter_keeps_requested_domain_only(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                                        expected: set[tuple[str, str]]) -> None:
    """A LivingSubjectId and two known domains, the patient identified in one of them:
    only that identifier is returned."""
    reply = _pdq(v3_hub, http, make())
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == expected


def _unknown_domain(hub: HubProcess, http: requests.Session) -> list[Reply]:
    return [_pdq(hub, http, pdq_query(family="MOORE", domains=["1.2.250.1.999.47.1", "1.2.250.1.999.47.404"]))]


def test_iti47_unknown_domain_is_AE_204_at_its_repetition(v3_hub: HubProcess, http: requests.Session) -> None:
    """ITI TF-2b 3.47.4.2.3 case 4: AE, 204, location of the OtherIDsScopingOrganization."""
    [reply] = _unknown_domain(v3_hub, http)
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/otherIDsScopingOrganization[2]/value")]
    assert reply.patients() == []


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


QUANTITIES = ("resultTotalQuantity", "resultCurrentQuantity", "resultRemainingQuantity")


def _paging(hub: HubProcess, http: requests.Session) -> list[Reply]:
    """initialQuantity 2 of 6, continue by 3, continue, then continue once too many."""
    query_id = f"paging-{uuid.uuid4().hex[:8]}"
    return [
        _pdq(hub, http, pdq_query(family="PAGINE", quantity=2, query_id=query_id)),
        _pdq(hub, http, continuation(query_id, quantity=3), CONTINUE_ACTION),
        _pdq(hub, http, continuation(query_id), CONTINUE_ACTION),
        _pdq(hub, http, continuation(query_id), CONTINUE_ACTION),
    ]


def test_iti47_continuation_pages_through_all_results(v3_hub: HubProcess, http: requests.Session) -> None:
    """initialQuantity 2 of 6; continue by 3; continue; each person once, the last
    answer with nothing remaining; then the query is over."""
    first, next_page, last, over = _paging(v3_hub, http)
    assert [first.quantity(n) for n in QUANTITIES] == [6, 2, 4]
    assert next_page.ack_code == "AA", next_page.details
    assert next_page.action == "urn:hl7-org:v3:PRPA_IN201306UV02"
    assert [next_page.quantity(n) for n in QUANTITIES] == [6, 3, 1]
    assert [last.quantity(n) for n in QUANTITIES[1:]] == [1, 0]
    seen = [id_ for page in (first, next_page, last) for p in page.patients() for id_ in page.identifiers(p)]
    assert sorted(seen) == sorted(("1.2.250.1.999.47.2", f"PAGE-{n}") for n in range(6))
    assert over.ack_code == "AE"
    assert over.details[0][0] == "204"


def _cancel(hub: HubProcess, http: requests.Session) -> list[Reply]:
    query_id = f"paging-{uuid.uuid4().hex[:8]}"
    return [
        _pdq(hub, http, pdq_query(family="PAGINE", quantity=2, query_id=query_id)),
        _pdq(hub, http, continuation(query_id, cancel=True), CANCEL_ACTION),
        _pdq(hub, http, continuation(query_id), CONTINUE_ACTION),
    ]


def test_iti47_cancel_ends_the_query(v3_hub: HubProcess, http: requests.Session) -> None:
    _first, cancelled, after = _cancel(v3_hub, http)
    assert cancelled.action == "urn:hl7-org:v3:MCCI_IN000002UV01"
    assert cancelled.ack_code == "AA"
    assert after.ack_code == "AE"


EXCHANGES: dict[str, Callable[[HubProcess, requests.Session], list[Reply]]] = {
    "unknown-domain": _unknown_domain, "paging": _paging, "cancel": _cancel,
}


@pytest.mark.corpus
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_iti47_exchange_answers_are_schema_valid(v3_hub: HubProcess, http: requests.Session, exchange: str) -> None:
    """Interop: every answer of the exchange (PRPA_IN201306UV02 pages, the
    MCCI_IN000002UV01 of a cancel) is valid against its HL7 v3 NE2008 schema."""
    for reply in EXCHANGES[exchange](v3_hub, http):
        assert_valid(reply.message)


def test_iti47_pdq_wsdl_is_served(v3_hub: HubProcess, http: requests.Session) -> None:
    response = http.get(f"{v3_hub.https_url}/pdq?wsdl", timeout=10)
    assert response.status_code == 200
    assert b"urn:hl7-org:v3:QUQI_IN000003UV01_Continue" in response.content
    assert f'location="{v3_hub.https_url}/pdq"'.replace("127.0.0.1", "127.0.0.1").encode() in response.content
