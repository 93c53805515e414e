"""ITI-44 Patient Identity Feed HL7 V3 over HTTPS: every feed sample of the corpus, the
acknowledgement (MCCI_IN000002UV01) and its error details, no partial write."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from pixpdqv3_support import ACTION, assert_valid, feed, interaction, load_message, pix_query, send

FEED_SAMPLES = [
    "A01_Response.xml", "A04_Response.xml", "A08_Response.xml", "ITI-44_request_raw.xml", "prpa-valid.xml",
    "PIX_FEED_REG_Maximal_Request.xml", "PIXv3_FEED_REG_Maximal_Request.xml",
    "A40_Response.xml", "PIX_FEED_MERGE_Maximal_Request.xml", "PIXv3_FEED_MERGE_Maximal_Request.xml",
]


def _pix(hub: HubProcess, http: requests.Session, message):  # type: ignore[no-untyped-def]
    return send(hub.https_url, http, "/pix", ACTION + interaction(message), message)


@pytest.mark.parametrize("sample", FEED_SAMPLES)
def test_iti44_corpus_sample_is_accepted(v3_hub: HubProcess, http: requests.Session, corpus: Path, sample: str) -> None:
    message = load_message(corpus / "hl7v3" / sample)
    reply = _pix(v3_hub, http, message)
    assert reply.status == 200
    assert reply.action == "urn:hl7-org:v3:MCCI_IN000002UV01"
    assert reply.ack_code == "AA", reply.details
    assert_valid(reply.message)
    target = reply.message.find("{urn:hl7-org:v3}acknowledgement/{urn:hl7-org:v3}targetMessage/{urn:hl7-org:v3}id")
    sent_id = message.find("{urn:hl7-org:v3}id")
    assert (target.get("root"), target.get("extension")) == (sent_id.get("root"), sent_id.get("extension"))


def test_iti44_add_makes_identifiers_cross_referenced(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """ITI-44 sample with two Patient.id: each is then found by ITI-45 with the other."""
    _pix(v3_hub, http, load_message(corpus / "hl7v3" / "ITI-44_request_raw.xml"))
    reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02",
                 pix_query(("1.3.6.1.4.1.21367.2017.2.5.89", "TestSystemId")))
    assert reply.ack_code == "AA"
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == {("2.16.756.5.30.1.127.3.10.3", "761337610435201235")}


def test_iti44_invalid_message_is_rejected_AR_101(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """prpa-invalid.xml has no message id: the wrapper is rejected (AR, 101 at /id)."""
    reply = _pix(v3_hub, http, load_message(corpus / "hl7v3" / "prpa-invalid.xml"))
    assert reply.ack_code == "AR"
    assert reply.details == [("101", "/PRPA_IN201301UV02/id")]
    assert_valid(reply.message)


def test_iti44_body_not_matching_action_is_rejected_AR_200(v3_hub: HubProcess, http: requests.Session) -> None:
    message = feed([("1.2.250.1.999.44.1", "X1")], "DOE", "JOHN", "19800101", "M")
    reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201302UV02", message)
    assert reply.ack_code == "AR"
    assert reply.details[0][0] == "200"


def test_iti44_patient_without_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    message = feed([], "DOE", "JOHN", "19800101", "M")
    reply = _pix(v3_hub, http, message)
    assert reply.ack_code == "AE"
    assert reply.details == [
        ("101", "/PRPA_IN201301UV02/controlActProcess/subject/registrationEvent/subject1/patient/id")
    ]


def test_iti44_bad_ins_key_is_AE_102_and_nothing_is_stored(v3_hub: HubProcess, http: requests.Session) -> None:
    """An identifier of the INS-NIR authority with a wrong key refuses the whole message:
    the local identifier sent with it is not stored either."""
    message = feed([("1.2.250.1.999.44.2", "LOCAL-1"), ("1.2.250.1.213.1.4.8", "184127512345641")],
                   "MARTIN", "PAUL", "19841201", "M")
    reply = _pix(v3_hub, http, message)
    assert reply.ack_code == "AE"
    assert reply.details == [
        ("102", "/PRPA_IN201301UV02/controlActProcess/subject/registrationEvent/subject1/patient/id[2]/@extension")
    ]
    query = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query(("1.2.250.1.999.44.2", "LOCAL-1")))
    assert query.ack_code == "AE"
    assert [code for code, _ in query.details] == ["204"]


def test_iti44_unknown_gender_code_is_AE_103(v3_hub: HubProcess, http: requests.Session) -> None:
    message = feed([("1.2.250.1.999.44.3", "G1")], "DOE", "JANE", "19800101", "X")
    reply = _pix(v3_hub, http, message)
    assert reply.ack_code == "AE"
    assert reply.details[0][0] == "103"
    assert reply.details[0][1].endswith("/patientPerson/administrativeGenderCode")


def test_iti44_revise_updates_the_traits(v3_hub: HubProcess, http: requests.Session) -> None:
    """201302 changes the name found by PDQ (ITI-47)."""
    from pixpdqv3_support import pdq_query

    _pix(v3_hub, http, feed([("1.2.250.1.999.44.4", "R1")], "AVANT", "LEA", "19910203", "F"))
    revised = feed([("1.2.250.1.999.44.4", "R1")], "APRES", "LEA", "19910203", "F", name="PRPA_IN201302UV02")
    assert _pix(v3_hub, http, revised).ack_code == "AA"
    before = send(v3_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="AVANT", birth="19910203"))
    after = send(v3_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="APRES", birth="19910203"))
    assert before.query_response_code == "NF"
    assert after.query_response_code == "OK"


def test_iti44_merge_retires_the_prior_identifier(v3_hub: HubProcess, http: requests.Session) -> None:
    """201304: the prior patient's identifier no longer designates a patient; the
    surviving identifier still does, with the prior record's other identifiers."""
    domain = "1.2.250.1.999.44.5"
    _pix(v3_hub, http, feed([(domain, "SURV"), ("1.2.250.1.999.44.6", "S-OTHER")], "FUSION", "ANNE", "19700101", "F"))
    _pix(v3_hub, http, feed([(domain, "OLD"), ("1.2.250.1.999.44.7", "O-OTHER")], "FUSION", "ANNE", "19700101", "F"))
    merge = feed([(domain, "SURV")], "FUSION", "ANNE", "19700101", "F", name="PRPA_IN201304UV02", prior=[(domain, "OLD")])
    reply = _pix(v3_hub, http, merge)
    assert reply.ack_code == "AA", reply.details
    old = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query((domain, "OLD")))
    assert old.ack_code == "AE"
    survivor = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02", pix_query((domain, "SURV")))
    assert survivor.ack_code == "AA"
    assert ("1.2.250.1.999.44.7", "O-OTHER") in survivor.identifiers()


def test_iti44_merge_without_prior_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    merge = feed([("1.2.250.1.999.44.8", "M1")], "DOE", "JOHN", "19800101", "M", name="PRPA_IN201304UV02")
    reply = _pix(v3_hub, http, merge)
    assert reply.ack_code == "AE"
    assert reply.details[0][0] == "101"
    assert "replacementOf" in reply.details[0][1]


def test_iti45_after_maximal_feed_returns_identifiers_with_an_oid(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """PIX_FEED_REG_Maximal states ids in OID domains, in asOtherIDs, and one known by
    its assigningAuthorityName only, which no II of an answer can carry."""
    from pixpdqv3_support import assert_valid

    _pix(v3_hub, http, load_message(corpus / "hl7v3" / "PIX_FEED_REG_Maximal_Request.xml"))
    reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201309UV02",
                 pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10515W3")))
    assert reply.query_response_code == "OK"
    assert reply.identifiers() == {
        ("1.2.3.4.5.1000", "PIX10515W4"), ("2.16.840.1.113883.4.1", "100-09-1234"), ("1.2.3", "100-09-123456"),
    }
    assert_valid(reply.message)


def test_iti44_identifiers_of_two_patients_is_AE_205(v3_hub: HubProcess, http: requests.Session) -> None:
    """One message may not join identifiers that already designate two patients."""
    domain = "1.2.250.1.999.44.9"
    _pix(v3_hub, http, feed([(domain, "P-1")], "UN", "ALAIN", "19600101", "M"))
    _pix(v3_hub, http, feed([(domain, "P-2")], "DEUX", "BRUNO", "19610202", "M"))
    reply = _pix(v3_hub, http, feed([(domain, "P-1"), (domain, "P-2")], "UN", "ALAIN", "19600101", "M"))
    assert reply.ack_code == "AE"
    assert reply.details == [
        ("205", "/PRPA_IN201301UV02/controlActProcess/subject/registrationEvent/subject1/patient/id[2]/@extension")
    ]


def test_iti44_birthplace_is_kept_and_returned_by_iti47(v3_hub: HubProcess, http: requests.Session) -> None:
    """patientPerson/birthPlace/addr (INSEE code in county) comes back whole in PDQ."""
    from pixpdqv3_support import pdq_query

    message = feed([("1.2.250.1.999.44.9", "BP1")], "LENAIN", "ROSE", "19660512", "F")
    hl7 = "urn:hl7-org:v3"
    person = message.find(f".//{{{hl7}}}patientPerson")
    place = etree.SubElement(person, f"{{{hl7}}}birthPlace")
    address = etree.SubElement(place, f"{{{hl7}}}addr")
    for tag, text in (("city", "Ajaccio"), ("postalCode", "20000"), ("country", "FRA"), ("county", "2A004")):
        etree.SubElement(address, f"{{{hl7}}}{tag}").text = text
    assert_valid(message)
    assert _pix(v3_hub, http, message).ack_code == "AA"
    found = send(v3_hub.https_url, http, "/pdq", ACTION + "PRPA_IN201305UV02", pdq_query(family="LENAIN", birth="19660512"))
    assert found.query_response_code == "OK"
    assert_valid(found.message)
    returned = found.message.find(f".//{{{hl7}}}patientPerson/{{{hl7}}}birthPlace/{{{hl7}}}addr")
    assert {etree.QName(child).localname: child.text for child in returned} == {
        "city": "Ajaccio", "postalCode": "20000", "country": "FRA", "county": "2A004",
    }
