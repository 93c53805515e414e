"""Who calls `/fhir/Patient`: the VIHF assertion carried as an IUA SAML token
(`Authorization: SAML <base64url assertion>`, IHE IUA ITI-72 SAML token option), verified
by the hub's VIHF authenticator exactly as on the SOAP endpoints. Required when the hub
requires VIHF on `/fhir/Patient` (`[security] require_vihf`, `open_endpoints`).
"""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from lxml import etree

from hub.wire import soap, xmlsafe

if TYPE_CHECKING:
    from hub.app import Hub

PATH = "/fhir/Patient"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"


class Unauthenticated(Exception):
    """The request cannot be served to this caller: HTTP status, FHIR issue type, text."""

    def __init__(self, status: int, code: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics


def _assertion(token: str) -> etree._Element:
    padded = token.strip() + "=" * (-len(token.strip()) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError):
        raise Unauthenticated(401, "security", "the SAML token is not base64url") from None
    try:
        assertion = xmlsafe.parse(raw)
    except xmlsafe.UnsafeXmlError as exc:
        raise Unauthenticated(401, "security", f"the SAML token is not an assertion: {exc}") from None
    if assertion.tag != f"{{{SAML2}}}Assertion":
        raise Unauthenticated(401, "security", "the SAML token is not a SAML 2.0 assertion")
    return assertion


def principal(hub: Hub, authorization: str, transaction: str) -> Any:
    """The verified Principal of the caller, None when the hub does not require VIHF on
    `/fhir/Patient`; raises `Unauthenticated`."""
    if not hub.requires_vihf(PATH):
        return None
    if hub.authenticator is None:
        raise Unauthenticated(500, "exception", "no VIHF verifier is configured on this hub")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.upper() != "SAML" or not token.strip():
        raise Unauthenticated(401, "login", "a VIHF assertion is required (Authorization: SAML <base64url assertion>)")
    # The verifier reads the assertion from a SOAP header, as it does for every endpoint.
    envelope = etree.Element(f"{{{soap.SOAP12}}}Envelope")
    header = etree.SubElement(envelope, f"{{{soap.SOAP12}}}Header")
    etree.SubElement(header, f"{{{soap.WSSE}}}Security").append(_assertion(token))
    body = etree.SubElement(envelope, f"{{{soap.SOAP12}}}Body")
    request = soap.SoapRequest(envelope=envelope, header=header, body=body, action="", message_id=None, to=None,
                               reply_to=None, attachments={}, mtom=False, endpoint=PATH)
    try:
        return hub.authenticator.authenticate(request, transaction)
    except soap.SoapFault as fault:
        raise Unauthenticated(401, "security", fault.reason) from None
