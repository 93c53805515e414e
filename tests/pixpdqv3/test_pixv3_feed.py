"""ITI-44 Patient Identity Feed HL7 V3 over HTTPS: feeds built by the project (add,
revise, merge) and every feed sample of the corpus accepted, the acknowledgement
(MCCI_IN000002UV01) and its error details, no partial write. The schema validity of the
messages (HL7 v3 NE2008 schemas, in the corpus) and the corpus samples are the
interoperability layer."""
from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from pixpdqv3_support import (
    ACTION, Address, MessageSource, Reply, assert_valid, cases, corpus_message, feed, interaction, pdq_query, pix_query,
    send,
)

HL7 = "urn:hl7-org:v3"
PATIENT = "/PRPA_IN201301UV02/controlActProcess/subject/registrationEvent/subject1/patient"
FEED_SAMPLES = [
    "A01_Response.xml", "A04_Response.xml", "A08_Response.xml", "ITI-44_request_raw.xml", "prpa-valid.xml",
    "PIX_FEED_REG_Maximal_Request.xml", "PIXv3_FEED_REG_Maximal_Request.xml",
    "A40_Response.xml", "PIX_FEED_MERGE_Maximal_Request.xml", "PIXv3_FEED_MERGE_Maximal_Request.xml",
]
# Synthetic identities: local domains under the example arc 2.999.
DOMAIN = "2.999.44.1"
OTHER_DOMAIN = "2.999.44.2"


def _pix(hub: HubProcess, http: requests.Session, message: etree._Element) -> Reply:
    return send(hub.https_url, http, "/pix", ACTION + interaction(message), message)


def _query(hub: HubProcess, http: requests.Session, identifier: tuple[str, str]) -> Reply:
    return send(hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query(identifier))


def _demographics(hub: HubProcess, http: requests.Session, family: str, birth: str) -> Reply:
    return send(hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family=family, birth=birth))


# -- feeds built by the project, accepted AA -------------------------------------------------

def _unique() -> str:
    return uuid.uuid4().hex[:10].upper()


def _maximal() -> etree._Element:
    """Two Patient.id in OID domains, one known by its assigningAuthorityName only, one
    in asOtherIDs; a birth name, an address, a phone, a birthplace."""
    key = _unique()
    return feed([(DOMAIN, f"MAX-{key}"), (OTHER_DOMAIN, f"MAX-{key}")], "MAXIMALE", "IRIS", "19770707", "F",
                named_ids=[("DOMAINE LOCAL", f"NAMED-{key}")], other_ids=[("2.999.44.3", f"OTHER-{key}")],
                birth_family="DUVAL", phone="+33299000000", address=Address("4 place du Champ Jacquet", "Rennes", "35000", "FRA"),
                birthplace=Address(city="Vannes", postal_code="56000", country="FRA", county="56260"))


ACCEPTED: dict[str, MessageSource] = {
    "add": lambda: feed([(DOMAIN, f"ADD-{_unique()}")], "AJOUT", "NINA", "19880808", "F"),
    "add-maximal": _maximal,
    "revise": lambda: feed([(DOMAIN, f"REV-{_unique()}")], "REVISION", "ELIE", "19890909", "M",
                           interaction="PRPA_IN201302UV02"),
    "merge": lambda: feed([(DOMAIN, f"SURV-{_unique()}")], "FUSION", "NOE", "19900110", "M",
                          interaction="PRPA_IN201304UV02", prior=[(DOMAIN, f"OLD-{_unique()}")]),
}


@pytest.mark.parametrize("make", cases(ACCEPTED, FEED_SAMPLES))
def test_iti44_feed_is_accepted(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    message = make()
    reply = _pix(v3_hub, http, message)
    assert reply.status == 200
    assert reply.action == "urn:hl7-org:v3:MCCI_IN000002UV01"
    assert reply.ack_code == "AA", reply.details
    target = reply.message.find(f"{{{HL7}}}acknowledgement/{{{HL7}}}targetMessage/{{{HL7}}}id")
    sent_id = message.find(f"{{{HL7}}}id")
    assert (target.get("root"), target.get("extension")) == (sent_id.get("root"), sent_id.get("extension"))


@pytest.mark.parametrize("make", cases(ACCEPTED, interop_only=True))
def test_iti44_built_feed_is_schema_valid(make: MessageSource) -> None:
    """Interop: the project's feeds are valid against the HL7 v3 NE2008 schema of their
    interaction (PRPA_IN201301UV02, 201302, 201304)."""
    assert_valid(make())


@pytest.mark.parametrize("make", cases(ACCEPTED, FEED_SAMPLES, interop_only=True))
def test_iti44_acknowledgement_is_schema_valid(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    """Interop: the MCCI_IN000002UV01 acknowledgement is valid against its schema."""
    assert_valid(_pix(v3_hub, http, make()).message)


@pytest.mark.parametrize(("make", "queried", "expected"), [
    pytest.param(lambda: feed([(DOMAIN, "SRC-1"), (OTHER_DOMAIN, "XREF-1")], "CROISE", "ALIX", "19750102", "F"),
                 (DOMAIN, "SRC-1"), {(OTHER_DOMAIN, "XREF-1")}, id="project"),
    pytest.param(corpus_message("ITI-44_request_raw.xml"), ("1.3.6.1.4.1.21367.2017.2.5.89", "TestSystemId"),
                 {("2.16.756.5.30.1.127.3.10.3", "761337610435201235")}, id="ITI-44_request_raw.xml",
                 marks=pytest.mark.corpus),
])
def test_iti44_add_makes_identifiers_cross_referenced(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                                      queried: tuple[str, str], expected: set[tuple[str, str]]) -> None:
    """A feed with two Patient.id: each is then found by ITI-45 with the other."""
    assert _pix(v3_hub, http, make()).ack_code == "AA"
    reply = _query(v3_hub, http, queried)
    assert reply.ack_code == "AA"
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == expected


# -- refusals ------------------------------------------------------------------------------

def _without_message_id() -> etree._Element:
    message = feed([(DOMAIN, "NO-ID")], "SANSID", "LEO", "19800101", "M")
    message.remove(message.find(f"{{{HL7}}}id"))
    return message


@pytest.mark.parametrize("make", [
    pytest.param(_without_message_id, id="project"),
    pytest.param(corpus_message("prpa-invalid.xml"), id="prpa-invalid.xml", marks=pytest.mark.corpus),
])
def test_iti44_invalid_message_is_rejected_AR_101(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    """A message without its message id: the wrapper is rejected (AR, 101 at /id)."""
    reply = _pix(v3_hub, http, make())
    assert reply.ack_code == "AR"
    assert reply.details == [("101", "/PRPA_IN201301UV02/id")]


def _action_mismatch(hub: HubProcess, http: requests.Session) -> list[Reply]:
    message = feed([("1.2.250.1.999.44.1", "X1")], "DOE", "JOHN", "19800101", "M")
    return [send(hub.https_url, http, "/pix", ACTION + "PRPA_IN201302UV02", message)]


def test_iti44_body_not_matching_action_is_rejected_AR_200(v3_hub: HubProcess, http: requests.Session) -> None:
    [reply] = _action_mismatch(v3_hub, http)
    assert reply.ack_code == "AR"
    assert reply.details[0][0] == "200"


def _no_identifier(hub: HubProcess, http: requests.Session) -> list[Reply]:
    return [_pix(hub, http, feed([], "DOE", "JOHN", "19800101", "M"))]


def test_iti44_patient_without_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    [reply] = _no_identifier(v3_hub, http)
    assert reply.ack_code == "AE"
    assert reply.details == [("101", f"{PATIENT}/id")]


def _bad_ins_key(hub: HubProcess, http: requests.Session) -> list[Reply]:
    message = feed([("1.2.250.1.999.44.2", "LOCAL-1"), ("1.2.250.1.213.1.4.8", "184127512345641")],
                   "MARTIN", "PAUL", "19841201", "M")
    return [_pix(hub, http, message), _query(hub, http, ("1.2.250.1.999.44.2", "LOCAL-1"))]


def test_iti44_bad_ins_key_is_AE_102_and_nothing_is_stored(v3_hub: HubProcess, http: requests.Session) -> None:
    """An identifier of the INS-NIR authority with a wrong key refuses the whole message:
    the local identifier sent with it is not stored either."""
    reply, query = _bad_ins_key(v3_hub, http)
    assert reply.ack_code == "AE"
    assert reply.details == [("102", f"{PATIENT}/id[2]/@extension")]
    assert query.ack_code == "AE"
    assert [code for code, _ in query.details] == ["204"]


def _unknown_gender(hub: HubProcess, http: requests.Session) -> list[Reply]:
    return [_pix(hub, http, feed([("1.2.250.1.999.44.3", "G1")], "DOE", "JANE", "19800101", "X"))]


def test_iti44_unknown_gender_code_is_AE_103(v3_hub: HubProcess, http: requests.Session) -> None:
    [reply] = _unknown_gender(v3_hub, http)
    assert reply.ack_code == "AE"
    assert reply.details[0][0] == "103"
    assert reply.details[0][1].endswith("/patientPerson/administrativeGenderCode")


def test_iti44_revise_updates_the_traits(v3_hub: HubProcess, http: requests.Session) -> None:
    """201302 changes the name found by PDQ (ITI-47)."""
    _pix(v3_hub, http, feed([("1.2.250.1.999.44.4", "R1")], "AVANT", "LEA", "19910203", "F"))
    revised = feed([("1.2.250.1.999.44.4", "R1")], "APRES", "LEA", "19910203", "F", interaction="PRPA_IN201302UV02")
    assert _pix(v3_hub, http, revised).ack_code == "AA"
    assert _demographics(v3_hub, http, "AVANT", "19910203").query_response_code == "NF"
    assert _demographics(v3_hub, http, "APRES", "19910203").query_response_code == "OK"


def test_iti44_merge_retires_the_prior_identifier(v3_hub: HubProcess, http: requests.Session) -> None:
    """201304: the prior patient's identifier no longer designates a patient; the
    surviving identifier still does, with the prior record's other identifiers."""
    domain = "1.2.250.1.999.44.5"
    _pix(v3_hub, http, feed([(domain, "SURV"), ("1.2.250.1.999.44.6", "S-OTHER")], "FUSION", "ANNE", "19700101", "F"))
    _pix(v3_hub, http, feed([(domain, "OLD"), ("1.2.250.1.999.44.7", "O-OTHER")], "FUSION", "ANNE", "19700101", "F"))
    merge = feed([(domain, "SURV")], "FUSION", "ANNE", "19700101", "F", interaction="PRPA_IN201304UV02",
                 prior=[(domain, "OLD")])
    reply = _pix(v3_hub, http, merge)
    assert reply.ack_code == "AA", reply.details
    assert _query(v3_hub, http, (domain, "OLD")).ack_code == "AE"
    survivor = _query(v3_hub, http, (domain, "SURV"))
    assert survivor.ack_code == "AA"
    assert ("1.2.250.1.999.44.7", "O-OTHER") in survivor.identifiers()


def _merge_without_prior(hub: HubProcess, http: requests.Session) -> list[Reply]:
    merge = feed([("1.2.250.1.999.44.8", "M1")], "DOE", "JOHN", "19800101", "M", interaction="PRPA_IN201304UV02")
    return [_pix(hub, http, merge)]


def test_iti44_merge_without_prior_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    [reply] = _merge_without_prior(v3_hub, http)
    assert reply.ack_code == "AE"
    assert reply.details[0][0] == "101"
    assert "replacementOf" in reply.details[0][1]


def _maximal_cross_reference() -> etree._Element:
    return feed([(DOMAIN, "MAXQ-1"), (OTHER_DOMAIN, "MAXQ-2")], "MAXIMAL", "ODON", "19661010", "M",
                named_ids=[("DOMAINE LOCAL", "MAXQ-3")], other_ids=[("2.999.44.3", "MAXQ-4")])


MAXIMAL_CASES = [
    pytest.param(_maximal_cross_reference, (DOMAIN, "MAXQ-1"), {(OTHER_DOMAIN, "MAXQ-2"), ("2.999.44.3", "MAXQ-4")},
                 id="project"),
    pytest.param(corpus_message("PIX_FEED_REG_Maximal_Request.xml"), ("1.3.6.1.4.1.21367.2005.1.1", "PIX10515W3"), {
        ("1.2.3.4.5.1000", "PIX10515W4"), ("2.16.840.1.113883.4.1", "100-09-1234"), ("1.2.3", "100-09-123456"),
    }, id="PIX_FEED_REG_Maximal_Request.xml", marks=pytest.mark.corpus),
]


def _maximal_then_query(hub: HubProcess, http: requests.Session, make: MessageSource, queried: tuple[str, str]) -> Reply:
    _pix(hub, http, make())
    return _query(hub, http, queried)


@pytest.mark.parametrize(("make", "queried", "expected"), MAXIMAL_CASES)
def test_iti45_after_maximal_feed_returns_identifiers_with_an_oid(
        v3_hub: HubProcess, http: requests.Session, make: MessageSource, queried: tuple[str, str],
        expected: set[tuple[str, str]]) -> None:
    """A feed with ids in OID domains, in asOtherIDs, and one known by its
    assigningAuthorityName only, which no II of an answer can carry."""
    reply = _maximal_then_query(v3_hub, http, make, queried)
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == expected


@pytest.mark.corpus
@pytest.mark.parametrize(("make", "queried", "expected"), MAXIMAL_CASES)
def test_iti45_answer_after_maximal_feed_is_schema_valid(
        v3_hub: HubProcess, http: requests.Session, make: MessageSource, queried: tuple[str, str],
        expected: set[tuple[str, str]]) -> None:
    """Interop: the PRPA_IN201310UV02 answer is valid against its schema."""
    assert_valid(_maximal_then_query(v3_hub, http, make, queried).message)


def _two_patients(hub: HubProcess, http: requests.Session) -> list[Reply]:
    domain = "1.2.250.1.999.44.9"
    _pix(hub, http, feed([(domain, "P-1")], "UN", "ALAIN", "19600101", "M"))
    _pix(hub, http, feed([(domain, "P-2")], "DEUX", "BRUNO", "19610202", "M"))
    return [_pix(hub, http, feed([(domain, "P-1"), (domain, "P-2")], "UN", "ALAIN", "19600101", "M"))]


def test_iti44_identifiers_of_two_patients_is_AE_205(v3_hub: HubProcess, http: requests.Session) -> None:
    """One message may not join identifiers that already designate two patients."""
    [reply] = _two_patients(v3_hub, http)
    assert reply.ack_code == "AE"
    assert reply.details == [("205", f"{PATIENT}/id[2]/@extension")]


BIRTHPLACE = Address(city="Ajaccio", postal_code="20000", country="FRA", county="2A004")


def _birthplace_feed() -> etree._Element:
    return feed([("1.2.250.1.999.44.9", "BP1")], "LENAIN", "ROSE", "19660512", "F", birthplace=BIRTHPLACE)


def _birthplace(hub: HubProcess, http: requests.Session) -> list[Reply]:
    return [_pix(hub, http, _birthplace_feed()), _demographics(hub, http, "LENAIN", "19660512")]


def test_iti44_birthplace_is_kept_and_returned_by_iti47(v3_hub: HubProcess, http: requests.Session) -> None:
    """patientPerson/birthPlace/addr (INSEE code in county) comes back whole in PDQ."""
    acknowledgement, found = _birthplace(v3_hub, http)
    assert acknowledgement.ack_code == "AA"
    assert found.query_response_code == "OK"
    returned = found.message.find(f".//{{{HL7}}}patientPerson/{{{HL7}}}birthPlace/{{{HL7}}}addr")
    assert {etree.QName(child).localname: child.text for child in returned} == {
        "city": "Ajaccio", "postalCode": "20000", "country": "FRA", "county": "2A004",
    }


EXCHANGES: dict[str, Callable[[HubProcess, requests.Session], list[Reply]]] = {
    "action-mismatch-AR-200": _action_mismatch, "no-identifier-AE-101": _no_identifier, "bad-ins-key-AE-102": _bad_ins_key,
    "unknown-gender-AE-103": _unknown_gender, "merge-without-prior-AE-101": _merge_without_prior,
    "two-patients-AE-205": _two_patients, "birthplace": _birthplace,
    "invalid-AR-101": lambda hub, http: [_pix(hub, http, _without_message_id())],
}


@pytest.mark.corpus
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_iti44_exchange_answers_are_schema_valid(v3_hub: HubProcess, http: requests.Session, exchange: str) -> None:
    """Interop: each answer of the exchange (the MCCI_IN000002UV01 acknowledgement, AA,
    AE or AR, and the answers of the queries that follow) is valid against its HL7 v3
    NE2008 schema."""
    for reply in EXCHANGES[exchange](v3_hub, http):
        assert_valid(reply.message)


@pytest.mark.corpus
def test_iti44_corpus_invalid_message_acknowledgement_is_schema_valid(v3_hub: HubProcess, http: requests.Session) -> None:
    assert_valid(_pix(v3_hub, http, corpus_message("prpa-invalid.xml")()).message)


@pytest.mark.corpus
def test_iti44_birthplace_feed_is_schema_valid() -> None:
    """Interop: birthPlace/addr where PRPA_MT201301UV02.Person puts it."""
    assert_valid(_birthplace_feed())
