"""ITI-45 PIXV3 Query over HTTPS: the four cases of ITI TF-2b 3.45.4.2.3, on queries built
by the project and on the corpus queries (after a feed of the identities they ask about).
The schema validity of each answer (HL7 v3 NE2008 schemas, in the corpus) and the corpus
samples are the interoperability layer."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from lxml import etree

from conformance.hubprocess import HubProcess
from pixpdqv3_support import ACTION, MessageSource, Reply, assert_valid, cases, corpus_message, feed, pix_query, send

QUERY_ACTION = ACTION + "PRPA_IN201309UV02"
PARAMETERS = "/PRPA_IN201309UV02/controlActProcess/queryByParameter/parameterList"

# Synthetic patient of the built queries: local domains under 2.999, an INS under the INS
# test OID (its NIR key correct).
IPP = "2.999.45.1"
EXTERNAL = "2.999.45.2"
INS_TEST = "1.2.250.1.213.1.4.10"
INS = "284056312345608"
LEGOFF = [(IPP, "IPP-4501"), (EXTERNAL, "EXT-4501"), (INS_TEST, INS)]


@pytest.fixture(scope="module", autouse=True)
def identities(v3_hub: HubProcess, http: requests.Session) -> None:
    """The synthetic patient, and the patients the corpus queries ask about, fed through ITI-44."""
    for ids, family, given, birth, sex in (
        (LEGOFF, "LE GOFF", "CLARA", "19840523", "F"),
        ([("1.3.6.1.4.1.21367.2017.2.5.103", "900010"), ("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010"),
          ("2.16.756.5.30.1.127.3.10.3", "761337610435209999")], "MUSTER", "MAJA", "19600618", "F"),
        ([("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ("1.3.6.1.4.1.21367.2005.1.2", "XYZ10501")],
         "MOORE", "CHIP", "19380224", "M"),
    ):
        reply = send(v3_hub.https_url, http, "/pix", ACTION + "PRPA_IN201301UV02", feed(ids, family, given, birth, sex))
        assert reply.ack_code == "AA", reply.details


def _query(hub: HubProcess, http: requests.Session, message: etree._Element) -> Reply:
    reply = send(hub.https_url, http, "/pix", QUERY_ACTION, message)
    assert reply.status == 200
    assert reply.action == "urn:hl7-org:v3:PRPA_IN201310UV02"
    return reply


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda: pix_query(LEGOFF[0], [EXTERNAL, INS_TEST]), {LEGOFF[1]}, id="project"),
    pytest.param(corpus_message("ITI-45_request_raw.xml"), {
        ("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010"), ("2.16.756.5.30.1.127.3.10.3", "761337610435209999"),
    }, id="ITI-45_request_raw.xml", marks=pytest.mark.corpus),
])
def test_iti45_query_with_data_sources(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                       expected: set[tuple[str, str]]) -> None:
    """Case 1: identifiers in the requested domains only, the queried one left out (and,
    in the built query, the INS asked for withheld: the identity fed is not qualified)."""
    reply = _query(v3_hub, http, make())
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert reply.identifiers() == expected
    echoed = reply.message.find("{urn:hl7-org:v3}controlActProcess/{urn:hl7-org:v3}queryByParameter")
    assert echoed is not None


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda: pix_query(LEGOFF[1], [IPP]), {LEGOFF[0]}, id="project"),
    pytest.param(corpus_message("PIXv3_QUERY.xml"), {("1.3.6.1.4.1.21367.2005.1.2", "XYZ10501")},
                 id="PIXv3_QUERY.xml", marks=pytest.mark.corpus),
    pytest.param(corpus_message("NistPixpdq_Mesa10501-04_Example_01.xml"), {("1.3.6.1.4.1.21367.2005.1.2", "XYZ10501")},
                 id="NistPixpdq_Mesa10501-04_Example_01.xml", marks=pytest.mark.corpus),
])
def test_iti45_query_one_domain(v3_hub: HubProcess, http: requests.Session, make: MessageSource,
                                expected: set[tuple[str, str]]) -> None:
    reply = _query(v3_hub, http, make())
    assert (reply.ack_code, reply.query_response_code) == ("AA", "OK")
    assert reply.identifiers() == expected


@pytest.mark.parametrize("make", [
    pytest.param(lambda: pix_query((IPP, "IPP-4599")), id="project"),
    pytest.param(corpus_message("NistPixpdq_Mesa10502-03~UnknownId_Example_01.xml"),
                 id="NistPixpdq_Mesa10502-03~UnknownId_Example_01.xml", marks=pytest.mark.corpus),
])
def test_iti45_unknown_identifier_is_AE_204(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    """Case 3 (as NIST MESA 10502-03): a known domain, an unknown patient id."""
    reply = _query(v3_hub, http, make())
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/patientIdentifier/value")]
    assert reply.patients() == []


def _unknown_patient_domain() -> etree._Element:
    return pix_query(("1.2.250.1.999.45.404", "X"))


def test_iti45_unknown_patient_domain_is_AE_204(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _query(v3_hub, http, _unknown_patient_domain())
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/patientIdentifier/value/@root")]


def _unknown_data_source() -> etree._Element:
    return pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ["1.3.6.1.4.1.21367.2005.1.2", "1.2.250.1.999.45.405"])


def test_iti45_unknown_data_source_is_AE_204_at_its_repetition(v3_hub: HubProcess, http: requests.Session) -> None:
    """Case 4: the location names the DataSource that is not recognised."""
    reply = _query(v3_hub, http, _unknown_data_source())
    assert (reply.ack_code, reply.query_response_code) == ("AE", "AE")
    assert reply.details == [("204", f"{PARAMETERS}/dataSource[2]/value")]


def _no_identifier_in_domain() -> etree._Element:
    return pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"), ["2.16.756.5.30.1.127.3.10.3"])


def test_iti45_no_identifier_in_requested_domain_is_NF(v3_hub: HubProcess, http: requests.Session) -> None:
    """Case 2: the patient is known, it has no identifier in the domain asked for."""
    reply = _query(v3_hub, http, _no_identifier_in_domain())
    assert (reply.ack_code, reply.query_response_code) == ("AA", "NF")
    assert reply.patients() == []


def _without_data_source() -> etree._Element:
    return pix_query(("1.3.6.1.4.1.21367.2017.2.5.93", "RED-900010"))


def test_iti45_without_data_source_returns_every_other_identifier(v3_hub: HubProcess, http: requests.Session) -> None:
    reply = _query(v3_hub, http, _without_data_source())
    assert reply.identifiers() == {
        ("1.3.6.1.4.1.21367.2017.2.5.103", "900010"), ("2.16.756.5.30.1.127.3.10.3", "761337610435209999"),
    }


ANSWERED: dict[str, Callable[[], etree._Element]] = {
    "data-sources": lambda: pix_query(LEGOFF[0], [EXTERNAL, INS_TEST]),
    "one-domain": lambda: pix_query(LEGOFF[1], [IPP]),
    "unknown-identifier": lambda: pix_query((IPP, "IPP-4599")),
    "unknown-patient-domain": _unknown_patient_domain,
    "unknown-data-source": _unknown_data_source,
    "no-identifier-in-domain": _no_identifier_in_domain,
    "without-data-source": _without_data_source,
}
CORPUS_QUERIES = [
    "ITI-45_request_raw.xml", "PIXv3_QUERY.xml", "NistPixpdq_Mesa10501-04_Example_01.xml",
    "NistPixpdq_Mesa10502-03~UnknownId_Example_01.xml",
]


@pytest.mark.parametrize("make", cases(ANSWERED, CORPUS_QUERIES, interop_only=True))
def test_iti45_answer_is_schema_valid(v3_hub: HubProcess, http: requests.Session, make: MessageSource) -> None:
    """Interop: the PRPA_IN201310UV02 answer (OK, NF or AE) is valid against the HL7 v3
    NE2008 schema."""
    assert_valid(_query(v3_hub, http, make()).message)


def test_iti45_query_without_patient_identifier_is_AE_101(v3_hub: HubProcess, http: requests.Session) -> None:
    message = pix_query(("1.3.6.1.4.1.21367.2005.1.1", "PIX10501"))
    parameter = message.find(".//{urn:hl7-org:v3}patientIdentifier")
    parameter.getparent().remove(parameter)
    reply = send(v3_hub.https_url, http, "/pix", QUERY_ACTION, message)
    assert reply.ack_code == "AE"
    assert reply.details == [("101", f"{PARAMETERS}/patientIdentifier/value")]
