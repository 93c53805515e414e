"""The hub's one outbound SOAP 1.2 client (zeep over `requests`): a call to a partner's
operation described by a WSDL, with an overall timeout, TLS with given files (mutual TLS
when a client certificate is named), an optional WS-Security plugin, WS-Addressing, and a
cap on the answer read. The answer is read with the hub's hardened XML parser, and a SOAP
fault is an error: the caller gets the first element of the answer's Body, or
`SoapCallError`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import zeep.exceptions
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from hub.wire import soap, xmlsafe

DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024


class SoapCallError(Exception):
    """The partner could not be reached, timed out, answered too much, answered something
    that is not a SOAP envelope, or answered a SOAP fault."""


@dataclass(frozen=True)
class Partner:
    """A partner's SOAP endpoint: its address, the WSDL and binding that describe it, the
    timeout of one call, and the TLS files (`ca_file` empty: the system CAs)."""

    address: str
    wsdl: Path
    binding: str  # "{namespace}BindingName" in the WSDL
    timeout_seconds: float
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""


def call(partner: Partner, operation: str, message: etree._Element, wsse: Any = None,
         max_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> etree._Element:
    """Call `operation` of `partner` with `message` as the content of the request's Body
    (its children and attributes given to zeep's any-content); `wsse` a zeep WS-Security
    plugin (e.g. `vihf.wsse.VihfSecurity`) or None."""
    session = requests.Session()
    session.trust_env = False  # the environment's CA bundle must not override `verify`
    session.verify = partner.ca_file or True
    if partner.client_cert:
        session.cert = (partner.client_cert, partner.client_key) if partner.client_key else partner.client_cert
    try:
        transport = Transport(  # type: ignore[no-untyped-call]
            session=session, timeout=partner.timeout_seconds, operation_timeout=partner.timeout_seconds)
        client = Client(  # type: ignore[no-untyped-call]
            str(partner.wsdl), transport=transport, plugins=[WsAddressingPlugin()], settings=Settings(raw_response=True),
            wsse=wsse)
        service = client.create_service(partner.binding, partner.address)  # type: ignore[no-untyped-call]
        try:
            response = service[operation](_value_1=list(message), _attr_1=dict(message.attrib))
        except (requests.RequestException, zeep.exceptions.Error) as exc:
            raise SoapCallError(f"{partner.address}: {exc}") from None
        if len(response.content) > max_bytes:
            raise SoapCallError(f"the answer of {partner.address} is larger than {max_bytes} bytes")
        try:
            envelope = xmlsafe.parse(response.content)
        except xmlsafe.UnsafeXmlError as exc:
            raise SoapCallError(f"{partner.address} answered HTTP {response.status_code}: {exc}") from None
    finally:
        session.close()
    body = envelope.find(f"{{{soap.SOAP12}}}Body")
    first = next((element for element in body if isinstance(element.tag, str)), None) if body is not None else None
    if first is None:
        raise SoapCallError(f"{partner.address} answered HTTP {response.status_code} without a SOAP body")
    if etree.QName(first).localname == "Fault":
        reason = " ".join(first.itertext()).split()
        raise SoapCallError(f"{partner.address} answered a SOAP fault: {' '.join(reason)[:300]}")
    return first
