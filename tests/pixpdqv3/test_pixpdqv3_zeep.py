"""A zeep client built from the WSDL the hub serves (`GET /pix?wsdl`, `GET /pdq?wsdl`)
feeds a patient and queries it: the WSDLs name the operations, messages and WS-Addressing
actions a standard SOAP toolkit needs. The messages are built by the project, or are
corpus samples (interoperability layer)."""
from __future__ import annotations

import pytest
import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from conformance.hubprocess import HubProcess
from pixpdqv3_support import NS, MessageSource, corpus_message, feed, pdq_query

ZEEP_FEED = [("2.999.46.1", "ZEEP-1"), ("2.999.46.2", "ZEEP-2")]


def _client(hub: HubProcess, http: requests.Session, path: str) -> Client:
    return Client(f"{hub.https_url}{path}?wsdl", transport=Transport(session=http),
                  plugins=[WsAddressingPlugin()], settings=Settings(raw_response=True))


def _call(client: Client, operation: str, message: etree._Element) -> etree._Element:
    response = client.service[operation](_value_1=list(message), _attr_1=dict(message.attrib))
    assert response.status_code == 200
    envelope = etree.fromstring(response.content)
    return envelope.find("soap:Body", NS)[0]


# The built query asks for the patient the built feed gave (OK); the two corpus samples
# are about different patients (NF).
@pytest.mark.parametrize(("feed_message", "query_message", "found"), [
    pytest.param(lambda: feed(ZEEP_FEED, "SOAPIER", "ZOE", "19820202", "F"), lambda: pdq_query(identifiers=ZEEP_FEED),
                 "OK", id="project"),
    pytest.param(corpus_message("A01_Response.xml"), corpus_message("PDQ_ID_Query.xml"), "NF", id="corpus",
                 marks=pytest.mark.corpus),
])
def test_zeep_feeds_and_queries_through_the_served_wsdls(v3_hub: HubProcess, http: requests.Session,
                                                         feed_message: MessageSource, query_message: MessageSource,
                                                         found: str) -> None:
    pix = _client(v3_hub, http, "/pix")
    ack = _call(pix, "PIXManager_PRPA_IN201301UV02", feed_message())
    assert etree.QName(ack).localname == "MCCI_IN000002UV01"
    assert ack.find("hl7:acknowledgement/hl7:typeCode", NS).get("code") == "AA"
    pdq = _client(v3_hub, http, "/pdq")
    answer = _call(pdq, "PDQSupplier_PRPA_IN201305UV02", query_message())
    assert etree.QName(answer).localname == "PRPA_IN201306UV02"
    assert answer.find("hl7:acknowledgement/hl7:typeCode", NS).get("code") == "AA"
    response_code = answer.find("hl7:controlActProcess/hl7:queryAck/hl7:queryResponseCode", NS).get("code")
    assert response_code == found
