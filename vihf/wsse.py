"""Client side: a `wsse:Security` header carrying a VIHF assertion (spec §5.2), for test
software, simulators and the test suite.

- `security_header(assertion)` returns the header block as an lxml element, to put in a
  hand-built SOAP 1.2 envelope (`envelope(...)` builds one);
- `VihfSecurity(source)` is a zeep `wsse=` plugin (`apply` / `verify`). `source` is an
  assertion element, or a callable returning a fresh one for each request, which is what
  a real client does: the hub refuses a replayed assertion ID.

The assertion is inserted unchanged (a signed assertion must stay byte-for-byte as signed).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeAlias, Union

from lxml import etree

from hub.wire import soap
from vihf import names

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"

AssertionSource: TypeAlias = Union[etree._Element, Callable[[], etree._Element]]


def security_header(assertion: etree._Element) -> etree._Element:
    """`<wsse:Security>` holding a copy of `assertion` as its only child."""
    security = etree.Element(f"{{{names.WSSE}}}Security", nsmap={"wsse": names.WSSE})
    security.append(copy.deepcopy(assertion))
    return security


def envelope(action: str, body: etree._Element, assertion: etree._Element | None, to: str | None = None) -> bytes:
    """A SOAP 1.2 request with WS-Addressing headers and, when given, the VIHF header."""
    root, header, soap_body = soap.addressed_envelope(action, to=to)
    if assertion is not None:
        header.append(security_header(assertion))
    soap_body.append(body)
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


class VihfSecurity:
    """zeep `wsse=` plugin putting a VIHF assertion in the header of each request."""

    def __init__(self, source: AssertionSource) -> None:
        self.source = source

    def assertion(self) -> etree._Element:
        if isinstance(self.source, etree._Element):
            return self.source
        return self.source()

    def apply(self, envelope: etree._Element, headers: dict[str, Any]) -> tuple[etree._Element, dict[str, Any]]:
        """Add `wsse:Security` to the SOAP header of `envelope` (created when absent)."""
        namespace = etree.QName(envelope).namespace or SOAP12
        header = envelope.find(f"{{{namespace}}}Header")
        if header is None:
            header = etree.Element(f"{{{namespace}}}Header")
            envelope.insert(0, header)
        header.append(security_header(self.assertion()))
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        """Responses carry no security header to check."""
        return envelope
