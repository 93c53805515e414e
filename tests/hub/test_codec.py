"""SOAP 1.2 / MTOM codec and hardened XML parsing, without a server."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given, strategies as st
from lxml import etree

from hub.wire import mtom, soap, xmlsafe

LIMITS = soap.Limits()


def _envelope(body: str, header: str = "<wsa:Action>urn:a</wsa:Action><wsa:MessageID>urn:uuid:m1</wsa:MessageID>") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{soap.SOAP12}" xmlns:wsa="{soap.WSA}"><s:Header>{header}</s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for content_id, data in parts:
        out += f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-ID: <{content_id}>\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_plain_request_exposes_addressing_headers_and_body() -> None:
    request = soap.parse_request("application/soap+xml", _envelope("<q:Query xmlns:q='urn:q'/>"), LIMITS)
    assert request.action == "urn:a"
    assert request.message_id == "urn:uuid:m1"
    assert etree.QName(request.body).localname == "Query"
    assert not request.mtom


def test_xop_include_resolves_to_the_mime_part_without_copy() -> None:
    root = _envelope(f"<d:Doc xmlns:d='urn:d'><xop:Include xmlns:xop='{soap.XOP}' href='cid:doc%401'/></d:Doc>")
    payload = bytes(range(256)) * 10 + b"\r\n--b0undar"  # looks like a boundary, is not one
    body = _multipart([("root@1", root), ("doc@1", payload)])
    request = soap.parse_request(
        'multipart/related; type="application/xop+xml"; boundary="b0undary"; start="<root@1>"', body, LIMITS
    )
    data = request.binary(request.body)
    assert isinstance(data, memoryview)
    assert bytes(data) == payload
    assert request.mtom


def test_inline_base64_is_accepted_where_mtom_is_optional() -> None:
    encoded = base64.b64encode(b"%PDF-1.4 inline").decode()
    request = soap.parse_request("application/soap+xml", _envelope(f"<d:Doc xmlns:d='urn:d'>{encoded}</d:Doc>"), LIMITS)
    assert request.binary(request.body) == b"%PDF-1.4 inline"


def test_xop_include_naming_no_part_is_a_sender_fault() -> None:
    root = _envelope(f"<d:Doc xmlns:d='urn:d'><xop:Include xmlns:xop='{soap.XOP}' href='cid:missing'/></d:Doc>")
    request = soap.parse_request('multipart/related; boundary="b0undary"', _multipart([("r", root)]), LIMITS)
    with pytest.raises(soap.SoapFault) as caught:
        request.binary(request.body)
    assert caught.value.code == "Sender"


def test_too_many_mime_parts_are_refused() -> None:
    parts = [("root", _envelope("<x/>"))] + [(f"p{i}", b"x") for i in range(5)]
    with pytest.raises(soap.SoapFault, match="more than 3 MIME parts"):
        soap.parse_request('multipart/related; boundary="b0undary"', _multipart(parts), soap.Limits(max_parts=3))


def test_duplicate_content_ids_are_refused() -> None:
    parts = [("root", _envelope("<x/>")), ("dup", b"1"), ("dup", b"2")]
    with pytest.raises(soap.SoapFault, match="duplicate Content-ID"):
        soap.parse_request('multipart/related; boundary="b0undary"', _multipart(parts), LIMITS)


@given(st.binary(max_size=2000))
def test_mtom_round_trip_keeps_any_bytes(payload: bytes) -> None:
    root = _envelope(f"<d:Doc xmlns:d='urn:d'><xop:Include xmlns:xop='{soap.XOP}' href='cid:a@b'/></d:Doc>")
    content_type, chunks = mtom.build(root, [("a@b", payload)], "urn:a")
    _, params = mtom.parse_content_type(content_type)
    request = soap.parse_request(content_type, b"".join(chunks), LIMITS)
    assert params["start-info"] == "application/soap+xml"
    assert bytes(request.binary(request.body)) == payload


def test_response_attachments_are_inlined_for_a_non_mtom_client() -> None:
    request = soap.parse_request("application/soap+xml", _envelope("<x/>"), LIMITS)
    element = etree.Element("{urn:d}Document")
    response = soap.SoapResponse(body=element, action="urn:a:Response")
    response.attach(element, b"bytes of a document")
    encoded = soap.encode_response(response, request)
    assert encoded.content_type.startswith("application/soap+xml")
    root = etree.fromstring(b"".join(encoded.chunks))
    assert base64.b64decode(root.findtext(".//{urn:d}Document")) == b"bytes of a document"
    assert root.findtext(f".//{{{soap.WSA}}}RelatesTo") == "urn:uuid:m1"


def test_response_attachments_stay_binary_parts_for_an_mtom_client() -> None:
    body = _multipart([("root", _envelope("<x/>"))])
    request = soap.parse_request('multipart/related; boundary="b0undary"', body, LIMITS)
    element = etree.Element("{urn:d}Document")
    response = soap.SoapResponse(body=element, action="urn:a:Response")
    response.attach(element, b"\x00binary\xff")
    encoded = soap.encode_response(response, request)
    assert encoded.content_type.startswith("multipart/related")
    assert b"\x00binary\xff" in encoded.chunks
    parsed = soap.parse_request(encoded.content_type, b"".join(bytes(c) for c in encoded.chunks), LIMITS)
    assert bytes(parsed.binary(parsed.body.getparent()[0])) == b"\x00binary\xff"


def test_fault_carries_code_subcode_reason_and_relates_to() -> None:
    fault = soap.SoapFault("Sender", "expired assertion", ((soap.WSSE, "InvalidSecurityToken"),))
    fault.relates_to = "urn:uuid:req"
    encoded = soap.encode_fault(fault)
    assert encoded.status == 400
    root = etree.fromstring(b"".join(encoded.chunks))
    value = root.find(f".//{{{soap.SOAP12}}}Subcode/{{{soap.SOAP12}}}Value")
    prefix, local = value.text.split(":")
    assert (value.nsmap[prefix], local) == (soap.WSSE, "InvalidSecurityToken")
    assert root.findtext(f".//{{{soap.WSA}}}RelatesTo") == "urn:uuid:req"
    assert root.findtext(f".//{{{soap.SOAP12}}}Reason/{{{soap.SOAP12}}}Text") == "expired assertion"


def test_receiver_faults_are_http_500() -> None:
    assert soap.encode_fault(soap.SoapFault("Receiver", "store down")).status == 500


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b"<?xml version='1.0'?>" + b"<!-- " + b"p" * 5000 + b" -->" + b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><x/>',
    ],
    ids=["xxe", "doctype-after-a-long-comment", "external-dtd"],
)
def test_documents_with_a_dtd_are_refused(document: bytes) -> None:
    with pytest.raises(xmlsafe.UnsafeXmlError, match="document type declarations"):
        xmlsafe.parse(document)


def test_size_and_depth_limits() -> None:
    with pytest.raises(xmlsafe.UnsafeXmlError, match="larger than"):
        xmlsafe.parse(b"<x/>" + b" " * 100, xmlsafe.XmlLimits(max_bytes=50))
    with pytest.raises(xmlsafe.UnsafeXmlError, match="deeper than 5"):
        xmlsafe.parse(b"<a>" * 6 + b"</a>" * 6, xmlsafe.XmlLimits(max_depth=5))
    assert xmlsafe.parse(b"<a>" * 5 + b"</a>" * 5, xmlsafe.XmlLimits(max_depth=5)).tag == "a"


def test_malformed_xml_is_reported() -> None:
    with pytest.raises(xmlsafe.UnsafeXmlError, match="not well-formed"):
        xmlsafe.parse(b"<a><b></a>")
