"""SOAP 1.2 codec with WS-Addressing 1.0 and MTOM/XOP.

Turns an HTTP body into a `SoapRequest` (envelope, addressing headers, attachments) and a
`SoapResponse` or `SoapFault` back into an HTTP body. Knows nothing of IHE transactions.
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from hub.wire import mtom, xmlsafe

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XOP = "http://www.w3.org/2004/08/xop/include"
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
WSA_FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"

# Header blocks the hub processes; any other block marked mustUnderstand is refused.
UNDERSTOOD_HEADERS = frozenset(
    f"{{{WSA}}}{name}" for name in ("Action", "MessageID", "To", "ReplyTo", "FaultTo", "From", "RelatesTo")
) | {f"{{{WSSE}}}Security"}


@dataclass
class Limits:
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 256
    max_parts: int = 1000
    max_elements: int = 500_000


class SoapFault(Exception):
    """A SOAP 1.2 fault. `code` is Sender, Receiver, VersionMismatch, MustUnderstand or
    DataEncodingUnknown; `subcodes` are (namespace, local name) pairs, outermost first."""

    def __init__(
        self,
        code: str,
        reason: str,
        subcodes: tuple[tuple[str, str], ...] = (),
        detail: etree._Element | None = None,
        soap11: bool = False,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.subcodes = subcodes
        self.detail = detail
        self.soap11 = soap11
        self.relates_to: str | None = None

    @property
    def http_status(self) -> int:
        # SOAP 1.2 HTTP binding, table 20: env:Sender -> 400, everything else -> 500.
        return 400 if self.code == "Sender" else 500


def sender_fault(reason: str, *subcodes: tuple[str, str]) -> SoapFault:
    return SoapFault("Sender", reason, tuple(subcodes))


@dataclass
class SoapRequest:
    envelope: etree._Element
    header: etree._Element | None
    body: etree._Element
    action: str
    message_id: str | None
    to: str | None
    reply_to: str | None
    attachments: Mapping[str, memoryview]
    mtom: bool
    endpoint: str = ""
    peer: str = ""
    peer_certificate: Any = None
    principal: Any = None

    @property
    def security(self) -> etree._Element | None:
        if self.header is None:
            return None
        return self.header.find(f"{{{WSSE}}}Security")

    def binary(self, element: etree._Element) -> bytes | memoryview:
        """Content of a base64Binary element: the MTOM part its xop:Include names, or the
        inline base64 text (MTOM is optional where the WSDL allows inline content)."""
        include = element.find(f"{{{XOP}}}Include")
        if include is not None:
            content_id = mtom.normalise_cid(include.get("href", ""))
            try:
                return self.attachments[content_id]
            except KeyError:
                raise sender_fault(f"xop:Include names no MIME part: {content_id}") from None
        try:
            return base64.b64decode("".join((element.text or "").split()), validate=True)
        except ValueError:
            raise sender_fault(f"{etree.QName(element).localname} is not valid base64") from None


@dataclass
class SoapResponse:
    body: etree._Element
    action: str
    # Content-ID -> bytes, each referenced from `body` by an xop:Include element.
    attachments: dict[str, bytes | memoryview] = field(default_factory=dict)
    http_status: int = 200
    # The patient the transaction was about, for the audit record (an id, never traits).
    audit_patient: str | None = None
    # An answer in the transaction's own vocabulary that refuses the caller (e.g. an XDS
    # "not authorised" Failure): audited as "refused" with this detail, not as a success.
    audit_refusal: str | None = None
    # The access decisions behind the answer, for its audit record (`access allow:R4-circle=2 ...`).
    audit_access: str | None = None

    def attach(self, element: etree._Element, data: bytes | memoryview) -> None:
        """Put `data` as the content of `element`, as an MTOM part (inlined later if the
        client did not speak MTOM)."""
        content_id = f"{uuid.uuid4().hex}@tsnhub"
        include = etree.SubElement(element, f"{{{XOP}}}Include", nsmap={"xop": XOP})
        include.set("href", f"cid:{content_id}")
        self.attachments[content_id] = data


def _text(header: etree._Element | None, name: str) -> str | None:
    if header is None:
        return None
    element = header.find(f"{{{WSA}}}{name}")
    if element is None:
        return None
    if name in {"ReplyTo", "FaultTo", "From"}:
        element = element.find(f"{{{WSA}}}Address")
        if element is None:
            return None
    return (element.text or "").strip()


def parse_request(content_type: str, body: bytes, limits: Limits) -> SoapRequest:
    """Decode an HTTP POST body into a SOAP 1.2 request, or raise `SoapFault`."""
    media_type, params = mtom.parse_content_type(content_type or "application/soap+xml")
    attachments: Mapping[str, memoryview] = {}
    is_mtom = media_type == "multipart/related"
    if is_mtom:
        boundary = params.get("boundary")
        if not boundary:
            raise sender_fault("multipart/related without boundary")
        try:
            multipart = mtom.split(body, boundary, params.get("start"), limits.max_parts)
        except mtom.MtomError as exc:
            raise sender_fault(f"MTOM: {exc}") from None
        xml: bytes | memoryview = multipart.root.data
        attachments = multipart.attachments
    else:
        xml = body
    try:
        envelope = xmlsafe.parse(
            xml,
            xmlsafe.XmlLimits(max_bytes=limits.max_bytes, max_depth=limits.max_depth, max_elements=limits.max_elements),
        )
    except xmlsafe.UnsafeXmlError as exc:
        raise sender_fault(str(exc)) from None
    qname = etree.QName(envelope)
    if qname.localname != "Envelope":
        raise sender_fault("root element is not a SOAP Envelope")
    if qname.namespace != SOAP12:
        fault = SoapFault("VersionMismatch", "only SOAP 1.2 envelopes are accepted", soap11=qname.namespace == SOAP11)
        raise fault
    header = envelope.find(f"{{{SOAP12}}}Header")
    body_element = envelope.find(f"{{{SOAP12}}}Body")
    if body_element is None or len(body_element) == 0:
        raise sender_fault("SOAP Body missing or empty")
    message_id = _text(header, "MessageID")
    if header is not None:
        for block in header:
            if not isinstance(block.tag, str):
                continue
            must = block.get(f"{{{SOAP12}}}mustUnderstand", "false").strip()
            if must in {"true", "1"} and block.tag not in UNDERSTOOD_HEADERS:
                fault = SoapFault("MustUnderstand", f"header block {block.tag} not understood")
                fault.relates_to = message_id
                raise fault
    action = _text(header, "Action")
    if not action:
        fault = sender_fault(
            "WS-Addressing Action header is required",
            (WSA, "InvalidAddressingHeader"),
            (WSA, "MessageAddressingHeaderRequired"),
        )
        fault.relates_to = message_id
        raise fault
    return SoapRequest(
        envelope=envelope,
        header=header,
        body=body_element[0],
        action=action,
        message_id=message_id,
        to=_text(header, "To"),
        reply_to=_text(header, "ReplyTo"),
        attachments=attachments,
        mtom=is_mtom,
    )


def addressed_envelope(
    action: str, relates_to: str | None = None, to: str | None = None
) -> tuple[etree._Element, etree._Element, etree._Element]:
    """(Envelope, Header, Body) of a SOAP 1.2 message with its WS-Addressing headers:
    Action (mustUnderstand), a new MessageID, and RelatesTo / To when given."""
    envelope = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12, "wsa": WSA})
    header = etree.SubElement(envelope, f"{{{SOAP12}}}Header")
    action_element = etree.SubElement(header, f"{{{WSA}}}Action")
    action_element.set(f"{{{SOAP12}}}mustUnderstand", "true")
    action_element.text = action
    etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
    if relates_to:
        etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = relates_to
    if to:
        etree.SubElement(header, f"{{{WSA}}}To").text = to
    body = etree.SubElement(envelope, f"{{{SOAP12}}}Body")
    return envelope, header, body


def _envelope(action: str, relates_to: str | None) -> tuple[etree._Element, etree._Element]:
    envelope, _, body = addressed_envelope(action, relates_to)
    return envelope, body


_PREFIXES = {WSA: "wsa", WSSE: "wsse", SOAP12: "soap"}


@dataclass
class Encoded:
    status: int
    content_type: str
    chunks: list[bytes | memoryview]


def encode_response(response: SoapResponse, request: SoapRequest) -> Encoded:
    """Serialise a response: MTOM when the request was MTOM and there are attachments,
    otherwise a plain envelope with any attachment inlined as base64."""
    envelope, body = _envelope(response.action, request.message_id)
    body.append(response.body)
    if response.attachments and request.mtom:
        content_type, chunks = mtom.build(
            etree.tostring(envelope, encoding="UTF-8", xml_declaration=False),
            response.attachments.items(),
            response.action,
        )
        return Encoded(response.http_status, content_type, list(chunks))
    if response.attachments:
        for include in envelope.iter(f"{{{XOP}}}Include"):
            content_id = mtom.normalise_cid(include.get("href", ""))
            parent = include.getparent()
            assert parent is not None
            parent.remove(include)
            parent.text = base64.b64encode(bytes(response.attachments[content_id])).decode("ascii")
    data = etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)
    return Encoded(
        response.http_status,
        f'application/soap+xml; charset=UTF-8; action="{response.action}"',
        [data],
    )


def _soap11_version_mismatch(fault: SoapFault) -> Encoded:
    # SOAP 1.2 Part 1, appendix A: answer a SOAP 1.1 message with a SOAP 1.1
    # VersionMismatch fault carrying an Upgrade header that names SOAP 1.2.
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11, "env12": SOAP12})
    header = etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    upgrade = etree.SubElement(header, f"{{{SOAP12}}}Upgrade")
    supported = etree.SubElement(upgrade, f"{{{SOAP12}}}SupportedEnvelope")
    supported.set("qname", "env12:Envelope")
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    fault_element = etree.SubElement(body, f"{{{SOAP11}}}Fault")
    etree.SubElement(fault_element, "faultcode").text = "soap:VersionMismatch"
    etree.SubElement(fault_element, "faultstring").text = fault.reason
    return Encoded(500, "text/xml; charset=UTF-8", [etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)])


def encode_fault(fault: SoapFault) -> Encoded:
    """Serialise a SOAP 1.2 fault (Code/Subcode/Reason/Detail) with WS-Addressing headers."""
    if fault.soap11:
        return _soap11_version_mismatch(fault)
    envelope, body = _envelope(WSA_FAULT_ACTION, fault.relates_to)
    fault_element = etree.SubElement(body, f"{{{SOAP12}}}Fault")
    code = etree.SubElement(fault_element, f"{{{SOAP12}}}Code")
    etree.SubElement(code, f"{{{SOAP12}}}Value").text = f"soap:{fault.code}"
    parent = code
    for namespace, local in fault.subcodes:
        subcode = etree.SubElement(parent, f"{{{SOAP12}}}Subcode")
        # The QName prefix is declared on the Value element itself so that it resolves.
        prefix = _PREFIXES.get(namespace, "ns")
        value = etree.SubElement(subcode, f"{{{SOAP12}}}Value", nsmap={prefix: namespace})
        value.text = f"{prefix}:{local}"
        parent = subcode
    reason = etree.SubElement(fault_element, f"{{{SOAP12}}}Reason")
    text = etree.SubElement(reason, f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = fault.reason
    if fault.detail is not None:
        etree.SubElement(fault_element, f"{{{SOAP12}}}Detail").append(fault.detail)
    return Encoded(
        fault.http_status,
        "application/soap+xml; charset=UTF-8",
        [etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)],
    )


def action_not_supported(action: str, relates_to: str | None) -> SoapFault:
    """WS-Addressing 1.0 SOAP binding §6.4.1: wsa:ActionNotSupported with ProblemAction."""
    detail = etree.Element(f"{{{WSA}}}ProblemAction", nsmap={"wsa": WSA})
    etree.SubElement(detail, f"{{{WSA}}}Action").text = action
    fault = SoapFault(
        "Sender",
        f"the endpoint does not support the action {action}",
        ((WSA, "ActionNotSupported"),),
        detail=detail,
    )
    fault.relates_to = relates_to
    return fault
