"""The hub as a user runs it: `tsnhub serve` on loopback, real TLS, real MLLP sockets."""
from __future__ import annotations

import socket
import ssl
import time
import uuid
import warnings

import pytest
import requests
from lxml import etree

from hub.wire import soap
from conformance.hubprocess import HubProcess, mllp_exchange

NS = {"s": soap.SOAP12, "wsa": soap.WSA}


def envelope(action: str, message_id: str, body: str = "<ping xmlns='urn:test'/>") -> str:
    return (
        f'<s:Envelope xmlns:s="{soap.SOAP12}" xmlns:wsa="{soap.WSA}"><s:Header>'
        f"<wsa:Action>{action}</wsa:Action><wsa:MessageID>{message_id}</wsa:MessageID>"
        f"<wsa:To>https://127.0.0.1/xds/registry</wsa:To></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def mtom_post(hub: HubProcess, path: str, root_xml: str, attachment: bytes) -> requests.Response:
    boundary = "uuid:" + uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
        f"Content-Transfer-Encoding: binary\r\nContent-ID: <root@test>\r\n\r\n{root_xml}\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <doc1@test>\r\n\r\n"
    ).encode() + attachment + f"\r\n--{boundary}--\r\n".encode()
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root@test>"; start-info="application/soap+xml"'
    )
    return hub.session().post(hub.https_url + path, data=body, headers={"Content-Type": content_type}, timeout=30)


def fault_of(response: requests.Response) -> etree._Element:
    root = etree.fromstring(response.content)
    fault = root.find(".//s:Body/s:Fault", NS)
    assert fault is not None, response.text
    return fault


def test_health_over_https(open_hub: HubProcess) -> None:
    response = open_hub.session().get(open_hub.https_url + "/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": "ok"}


def test_plain_http_is_not_served_on_the_https_port(open_hub: HubProcess) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{open_hub.https_port}/health", timeout=5)


def test_mtom_request_with_unknown_action_gets_action_not_supported(open_hub: HubProcess) -> None:
    message_id = f"urn:uuid:{uuid.uuid4()}"
    root_xml = envelope(
        "urn:tsnhub:test:NoSuchAction",
        message_id,
        "<doc xmlns='urn:test'><xop:Include xmlns:xop='http://www.w3.org/2004/08/xop/include' href='cid:doc1@test'/></doc>",
    )
    response = mtom_post(open_hub, "/xds/registry", root_xml, b"\x00\x01binary")
    assert response.status_code == 400
    fault = fault_of(response)
    assert fault.findtext("s:Code/s:Value", namespaces=NS) == "soap:Sender"
    subcode = fault.find("s:Code/s:Subcode/s:Value", NS)
    prefix, local = subcode.text.split(":")
    assert (subcode.nsmap[prefix], local) == (soap.WSA, "ActionNotSupported")
    root = etree.fromstring(response.content)
    assert root.findtext("s:Header/wsa:RelatesTo", namespaces=NS) == message_id
    assert root.findtext("s:Header/wsa:Action", namespaces=NS) == soap.WSA_FAULT_ACTION
    assert fault.findtext("s:Detail/wsa:ProblemAction/wsa:Action", namespaces=NS) == "urn:tsnhub:test:NoSuchAction"


def test_soap11_envelope_gets_version_mismatch(open_hub: HubProcess) -> None:
    body = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        "<ping xmlns='urn:test'/></soapenv:Body></soapenv:Envelope>"
    )
    response = open_hub.session().post(
        open_hub.https_url + "/xds/registry", data=body,
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '"urn:x"'}, timeout=10,
    )
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    assert root.findtext(".//faultcode").endswith(":VersionMismatch")
    upgrade = root.find(f".//{{{soap.SOAP12}}}Upgrade/{{{soap.SOAP12}}}SupportedEnvelope")
    prefix, local = upgrade.get("qname").split(":")
    assert (upgrade.nsmap[prefix], local) == (soap.SOAP12, "Envelope")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&lol9;</x></s:Body></s:Envelope>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&xxe;</x></s:Body></s:Envelope>"""


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_attacks_get_a_sender_fault_fast(open_hub: HubProcess, attack: str) -> None:
    started = time.monotonic()
    response = open_hub.session().post(
        open_hub.https_url + "/xds/registry", data=attack.encode(),
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"}, timeout=10,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    fault = fault_of(response)
    assert fault.findtext("s:Code/s:Value", namespaces=NS) == "soap:Sender"
    assert "root:" not in response.text  # nothing of /etc/passwd
    assert elapsed < 10  # the request timeout; the benchmark of the figure lives in bench/


def test_oversized_request_is_refused_before_reading_it(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub = start_hub("[security]\nrequire_vihf = false\n[server]\nmax_request_bytes = 10000\n")
    response = hub.session().post(
        hub.https_url + "/xds/registry", data=b"<" * 20000,
        headers={"Content-Type": "application/soap+xml"}, timeout=10,
    )
    assert response.status_code == 413


def test_deep_nesting_is_refused(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub = start_hub("[security]\nrequire_vihf = false\n[server]\nmax_xml_depth = 20\n")
    body = "<a>" * 30 + "</a>" * 30
    response = hub.session().post(
        hub.https_url + "/xds/registry", data=envelope("urn:x", "urn:uuid:1", body).encode(),
        headers={"Content-Type": "application/soap+xml"}, timeout=10,
    )
    assert response.status_code == 400
    assert "deeper than 20" in fault_of(response).findtext("s:Reason/s:Text", namespaces=NS)


def test_missing_action_header_is_a_wsa_fault(open_hub: HubProcess) -> None:
    body = f'<s:Envelope xmlns:s="{soap.SOAP12}"><s:Body><x/></s:Body></s:Envelope>'
    response = open_hub.session().post(
        open_hub.https_url + "/xds/registry", data=body, headers={"Content-Type": "application/soap+xml"}, timeout=10
    )
    assert response.status_code == 400
    values = [v.text for v in fault_of(response).iter(f"{{{soap.SOAP12}}}Value")]
    assert values == ["soap:Sender", "wsa:InvalidAddressingHeader", "wsa:MessageAddressingHeaderRequired"]


def test_unknown_mandatory_header_gets_must_understand(open_hub: HubProcess) -> None:
    body = (
        f'<s:Envelope xmlns:s="{soap.SOAP12}" xmlns:wsa="{soap.WSA}"><s:Header>'
        '<wsa:Action>urn:x</wsa:Action><z:Secret xmlns:z="urn:z" s:mustUnderstand="true"/>'
        "</s:Header><s:Body><x/></s:Body></s:Envelope>"
    )
    response = open_hub.session().post(
        open_hub.https_url + "/xds/registry", data=body, headers={"Content-Type": "application/soap+xml"}, timeout=10
    )
    assert fault_of(response).findtext("s:Code/s:Value", namespaces=NS) == "soap:MustUnderstand"


def hl7(message_type: str, control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|SENDER|FACILITY|TSNHUB|PFT|20260101120000||{message_type}|{control_id}|P|2.5\r"
        "EVN||20260101120000\r"
    ).encode()


def segments_of(response: bytes) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for segment in response.decode().split("\r"):
        if segment:
            fields = segment.split("|")
            parsed[fields[0]] = fields
    return parsed


def test_unknown_message_type_gets_ack_ar_with_err(open_hub: HubProcess) -> None:
    answer = segments_of(open_hub.mllp(hl7("ZZZ^Z99^ZZZ", "CTRL-1")))
    assert answer["MSA"][1:3] == ["AR", "CTRL-1"]
    assert answer["ERR"][3].split("^")[0] == "200"
    assert answer["ERR"][2] == "MSH^1^9^1"
    assert answer["MSH"][8].startswith("ACK")


def test_every_mllp_message_leaves_an_audit_record(open_hub: HubProcess) -> None:
    from sqlalchemy import select

    from hub.store import Store
    from hub.store.models.audit import AuditRecord

    open_hub.mllp(hl7("ZZZ^Z42^ZZZ", "AUDIT-1"))
    store = Store(open_hub.db_url)
    try:
        with store.session() as session:
            record = session.scalars(select(AuditRecord).where(AuditRecord.transaction == "ZZZ^Z42")).one()
    finally:
        store.close()
    assert (record.outcome, record.who) == ("refused", "SENDER@FACILITY")
    assert record.peer.startswith("127.0.0.1:")
    assert record.detail == "MSH^1^9^1:200"


def test_garbage_between_frames_does_not_kill_the_connection(open_hub: HubProcess) -> None:
    with open_hub.mllp_connect() as connection:
        connection.sendall(b"garbage\r\n\x00\xff not a frame ")
        first = segments_of(mllp_exchange(connection, hl7("ZZZ^Z01", "AFTER-GARBAGE")))
        second = segments_of(mllp_exchange(connection, hl7("ZZZ^Z02", "SECOND")))
    assert first["MSA"][2] == "AFTER-GARBAGE"
    assert second["MSA"][2] == "SECOND"


def test_pipelined_frames_are_answered_in_order(open_hub: HubProcess) -> None:
    frames = b"".join(b"\x0b" + hl7("ZZZ^Z01", f"P{i}") + b"\x1c\x0d" for i in range(5))
    with open_hub.mllp_connection() as connection:
        # Split the bytes at awkward places: the framing must not depend on read sizes.
        for i in range(0, len(frames), 7):
            connection.socket.sendall(frames[i : i + 7])
        ids = [segments_of(connection.read())["MSA"][2] for _ in range(5)]
    assert ids == [f"P{i}" for i in range(5)]


def test_oversized_mllp_frame_is_rejected_and_the_connection_survives(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub = start_hub("[security]\nrequire_vihf = false\n[server]\nmax_mllp_message_bytes = 5000\n")
    big = hl7("ADT^A01^ADT_A01", "BIG") + b"NTE|1||" + b"x" * 20000 + b"\r"
    with hub.mllp_connect() as connection:
        answer = segments_of(mllp_exchange(connection, big))
        after = segments_of(mllp_exchange(connection, hl7("ZZZ^Z01", "NEXT")))
    assert answer["MSA"][1:3] == ["AR", "BIG"]
    assert after["MSA"][2] == "NEXT"


def test_metrics_count_requests_per_endpoint_and_transaction(open_hub: HubProcess) -> None:
    open_hub.mllp(hl7("ZZZ^Z99", "M1"))
    text = open_hub.session().get(open_hub.https_url + "/metrics", timeout=10).text
    assert "# TYPE tsnhub_requests_total counter" in text
    assert 'listener="mllp"' in text
    assert "tsnhub_request_seconds_bucket" in text


def _tls_client(max_version: ssl.TLSVersion, ca: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = max_version
    # Let the client itself offer the old protocol, so the refusal is the server's.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def test_tls_1_1_client_is_refused(open_hub: HubProcess) -> None:
    context = _tls_client(ssl.TLSVersion.TLSv1_1, str(open_hub.pki / "ca.pem"))
    with socket.create_connection(("127.0.0.1", open_hub.https_port), timeout=10) as raw:
        # The server's alert, not a client-side refusal: "protocol version" (alert 70).
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            with context.wrap_socket(raw, server_hostname="localhost"):
                pass


def test_tls_1_2_client_is_served(open_hub: HubProcess) -> None:
    context = _tls_client(ssl.TLSVersion.TLSv1_2, str(open_hub.pki / "ca.pem"))
    with socket.create_connection(("127.0.0.1", open_hub.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"


def test_mutual_tls_refuses_a_client_without_certificate(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub = start_hub("[security]\nrequire_vihf = false\n[server]\nrequire_client_cert = true\n")
    with pytest.raises(requests.exceptions.RequestException):
        hub.session().get(hub.https_url + "/health", timeout=10)
    response = hub.session(client_cert=True).get(hub.https_url + "/health", timeout=10)
    assert response.status_code == 200


def test_sigterm_stops_the_hub_cleanly(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub = start_hub("[security]\nrequire_vihf = false\n")
    assert hub.session().get(hub.https_url + "/health", timeout=10).status_code == 200
    assert hub.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=2)


@pytest.mark.parametrize("query", ["wsdl", "WSDL", "wsdl="])
def test_get_wsdl_returns_the_contract_with_this_hub_address(open_hub: HubProcess, query: str) -> None:
    response = open_hub.session().get(f"{open_hub.https_url}/xds/registry?{query}", timeout=10)
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "definitions"
    locations = [e.get("location") for e in root.iter("{http://schemas.xmlsoap.org/wsdl/soap12/}address")]
    assert locations and all(loc == f"https://127.0.0.1:{open_hub.https_port}/xds/registry" for loc in locations)


def test_get_without_wsdl_is_not_allowed(open_hub: HubProcess) -> None:
    response = open_hub.session().get(f"{open_hub.https_url}/xds/registry", timeout=10)
    assert response.status_code == 405
