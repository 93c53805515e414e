"""ITI-45 PIXV3 Query over HTTPS: the corpus queries answered after a feed of the
identities they ask about, the four cases of ITI TF-2b 3.45.4.2.3."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from conformance.hubprocess import HubProcess
from pixpdqv3_support import ACTION, assert_valid, feed, load_message, pix_query, send

QUERY_ACTION = ACTION + "PRPA_IN201309UV02"
PARAMETERS = "/PRPA_IN201309UV02/controlActProcess/queryByParameter/parameterList"


@pytest.fixture(scope="module", autouse=True)
def identities(v3_hub: HubProcess, http: requests.Session) -> None:
    """The patients the corpus queries ask about, fed through ITI-44."""
    for ids, family, given, birth, sex in (
        ([("1.3.6.1.4.1.21367.2017.2.5.103", "900010"), ("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010"),
          ("2.16.756.5.30.1.127.3.10.3", "761337610435209999")], "MUSTER", "MAJA", "19600618", "F"),
        ([("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ("1.3.6.1.4.1.21367.2005.1.2", "XYZ10501")],
         "MOORE", "CHIP", "19380224", "M"),
    ):
        reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", feed(ids, family, given, birth, sex))
        assert reply.ack_code == "AA", reply.details


def _query(hub: HubProcess, http: requests.Session, message):  # type: ignore[no-untyped-def]
    reply = send(hub.https_url, http, "/pix", QUERY_ACTION, message)
    assert reply.status == 200
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201310UV02"
    assert_valid(reply.message)
    return reply


def test_iti45_corpus_query_with_data_sources(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """Case 1: identifiers in the requested domains only, the queried one left out."""
    reply = _query(v3_hub, http, load_message(corpus / "hl7v3" / "ITI-45_request_raw.xml"))
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert reply.identifiers() == {
        ("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010"), ("2.16.756.5.30.1.127.3.10.3", "761337610435209999"),
    }
    echoed = reply.message.find("{urn:hl7-org:v3}controlActProcess/{urn:hl7-org:v3}queryByParameter")
    assert echoed is not None


@pytest.mark.parametrize("sample", ["PIXv3_QUERY.xml", "NistPixpdq_Mesa10501-04_Example_01.xml"])
def test_iti45_corpus_query_one_domain(v3_hub: HubProcess, http: requests.Session, corpus: Path, sample: str) -> None:
    reply = _query(v3_hub, http, load_message(corpus / "hl7v3" / sample))
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert reply.identifiers() == {("1.3.6.1.4.1.21367.2005.1.2", "XYZ10501")}


def test_iti45_corpus_unknown_identifier_is_AE_204(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    """Case 3 (NIST MESA 10502-03): a known domain, an unknown patient id."""
    reply = _query(v3_hub, http, load_message(corpus / "hl7v3" / "NistPixpdq_Mesa10502-03~UnknownId_Example_01.xml"))
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/patientIdentifier/value")]
    assert reply.patients() == []


def test_iti45_unknown_patient_domain_is_AE_204(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _query(v3_hub, http, pix_query(("1.2.250.1.999.45.404", "X")))
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/patientIdentifier/value/@root")]


def test_iti45_unknown_data_source_is_AE_204_at_its_repetition(v3_hub: HubProcess, http: requests.Session) -> None:
    """Case 4: the location names the DataSource that is not recognised."""
    message = pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ["1.3.6.1.4.1.21367.2005.1.2", "1.2.250.1.999.45.405"])
    reply = _query(v3_hub, http, message)
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/dataSource[2]/value")]


def test_iti45_no_identifier_in_requested_domain_is_NF(v3_hub: HubProcess, http: requests.Session) -> None:
    """Case 2: the patient is known, it has no identifier in the domain asked for."""
    message = pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ["2.16.756.5.30.1.127.3.10.3"])
    reply = _query(v3_hub, http, message)
    assert (reply.ack_code, reply.query_response_code) == ("AA", "NF")
    assert reply.patients() == []


def test_iti45_without_data_source_returns_every_other_identifier(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _query(v3_hub, http, pix_query(("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010")))
    assert reply.identifiers() == {
        ("1.3.6.1.4.1.21367.2017.2.5.103", "900010"), ("2.16.756.5.30.1.127.3.10.3", "761337610435209999"),
    }


def test_iti45_query_without_patient_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    message = pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"))
    parameter = message.find(".//{urn:hl7-org:v3}patientIdentifier")
    parameter.getparent().remove(parameter)
    reply = send(v3_hub.https_url, http, "/pix", QUERY_ACTION, message)
    assert reply.ack_code == "AE"
    assert reply.details == [("101", f"{PARAMETERS}/patientIdentifier/value")]
