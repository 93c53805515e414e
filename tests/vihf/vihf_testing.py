"""Helpers of the VIHF tests: composed templates brought up to date, attribute lookup."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from lxml import etree

from vihf import names

S = f"{{{names.SAML}}}"
TEMPLATES = ("vihf-gp-cps-directe", "vihf-hospital-indirecte-nurse", "vihf-break-the-glass", "vihf-automate")


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def refresh(assertion: etree._Element, issuer: str, now: datetime | None = None) -> etree._Element:
    """composed/README.md: fresh ID; IssueInstant = NotBefore = now, NotOnOrAfter = +5 min,
    AuthnInstant = -14 min 48 s; Issuer = subject DN of the signing certificate."""
    now = now or datetime.now(timezone.utc)
    assertion.set("ID", f"_{uuid.uuid4()}")
    assertion.set("IssueInstant", _instant(now))
    conditions = assertion.find(f"{S}Conditions")
    if conditions is not None:
        conditions.set("NotBefore", _instant(now))
        conditions.set("NotOnOrAfter", _instant(now + timedelta(minutes=5)))
    authn = assertion.find(f"{S}AuthnStatement")
    if authn is not None:
        authn.set("AuthnInstant", _instant(now - timedelta(minutes=14, seconds=48)))
    issuer_element = assertion.find(f"{S}Issuer")
    assert issuer_element is not None
    issuer_element.text = issuer
    return assertion


def attribute(assertion: etree._Element, name: str) -> etree._Element:
    """The saml2:Attribute named `name`."""
    for element in assertion.iter(f"{S}Attribute"):
        if element.get("Name") == name:
            return element
    raise KeyError(name)


def request_header(assertion: etree._Element | None, security: etree._Element | None = None) -> etree._Element:
    """The SOAP header of a request carrying `assertion` (or the given `wsse:Security`),
    serialised and parsed back as the hub receives it."""
    from hub import soap, xmlsafe
    from vihf import wsse

    body = etree.Element("{urn:tsnhub:vihf}WhoAmI")
    data = wsse.envelope("urn:tsnhub:vihf:WhoAmI", body, assertion)
    if security is not None:
        root = xmlsafe.parse(data)
        header = root.find(f"{{{soap.SOAP12}}}Header")
        header.append(security)
        data = etree.tostring(root)
    header = xmlsafe.parse(data).find(f"{{{soap.SOAP12}}}Header")
    assert header is not None
    return header
