"""A zeep client built from the WSDL the hub serves (`GET /pix?wsdl`, `GET /pdq?wsdl`)
feeds a corpus patient and queries it: the WSDLs name the operations, messages and
WS-Addressing actions a standard SOAP toolkit needs."""
from __future__ import annotations

from pathlib import Path

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from conformance.hubprocess import HubProcess
from pixpdqv3_support import NS, load_message


def _client(hub: HubProcess, http: requests.Session, path: str) -> Client:
    return Client(f"{hub.https_url}{path}?wsdl", transport=Transport(session=http),
                  plugins=[WsAddressingPlugin()], settings=Settings(raw_response=True))


def _call(client: Client, operation: str, message: etree._Element) -> etree._Element:
    response = client.service[operation](_value_1=list(message), _attr_1=dict(message.attrib))
    assert response.status_code == 200
    envelope = etree.fromstring(response.content)
    return envelope.find("soap:Body", NS)[0]


def test_zeep_feeds_and_queries_through_the_served_wsdls(v3_hub: HubProcess, http: requests.Session, corpus: Path) -> None:
    pix = _client(v3_hub, http, "/pix")
    ack = _call(pix, "PIXManager_PRPA_IN201301UV02", load_message(corpus / "hl7v3" / "A01_Response.xml"))
    assert etree.QName(ack).localname == "MCCI_IN000002UV01"
    assert ack.find("hl7:acknowledgement/hl7:typeCode", NS).get("code") == "AA"
    pdq = _client(v3_hub, http, "/pdq")
    query = load_message(corpus / "hl7v3" / "PDQ_ID_Query.xml")
    answer = _call(pdq, "PDQSupplier_PRPA_IN201305UV02", query)
    assert etree.QName(answer).localname == "PRPA_IN201306UV02"
    assert answer.find("hl7:acknowledgement/hl7:typeCode", NS).get("code") == "AA"
