"""Who calls `/fhir/Patient`: the VIHF assertion carried as an IUA SAML token
(`Authorization: SAML <base64url assertion>`, IHE IUA ITI-72 SAML token option), verified
by the hub's VIHF authenticator exactly as on the SOAP endpoints. Required when the hub
requires VIHF on `/fhir/Patient` (`[security] require_vihf`, `open_endpoints`).
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from lxml import etree

from actors.fhir.resources import FhirError
from hub.wire import xmlsafe
from vihf.faults import VihfRefusal
from vihf.principal import Principal

PATH = "/fhir/Patient"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"


# Verifies an assertion for a transaction: the Principal, or raises `VihfRefusal` (or
# `Unauthenticated` when the hub cannot verify at all). The binding gives the host's.
Authenticate = Callable[[etree._Element, str], Principal]


class Unauthenticated(FhirError):
    """The request cannot be served to this caller."""


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


def principal(authenticate: Authenticate | None, authorization: str, transaction: str) -> Principal | None:
    """The verified Principal of the caller, None when the hub does not require VIHF on
    `/fhir/Patient` (`authenticate` is None); raises `Unauthenticated`."""
    if authenticate is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.upper() != "SAML" or not token.strip():
        raise Unauthenticated(401, "login", "a VIHF assertion is required (Authorization: SAML <base64url assertion>)")
    try:
        return authenticate(_assertion(token), transaction)
    except VihfRefusal as refusal:
        raise Unauthenticated(401, "security", refusal.reason) from None
