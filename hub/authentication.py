"""VIHF on the hub's SOAP endpoints: the authenticator and the WhoAmI diagnostic service.

`install(hub)` sets `hub.authenticator`, which every SOAP endpoint requiring VIHF calls
before its handler (`hub.endpoints.handle` audits refusals), and mounts `/vihf/whoami`.

WhoAmI (`/vihf/whoami`, Action `urn:tsnhub:vihf:WhoAmI`, transaction `VIHF-WhoAmI`) is a
service for integrators checking their assertions: it verifies the assertion of the
request exactly as every other endpoint does (even when the hub runs without VIHF) and
answers what the hub read from it. Request body:

    <vihf:WhoAmI xmlns:vihf="urn:tsnhub:vihf">
      <vihf:PatientId>INS^^^&amp;1.2.250.1.213.1.4.10&amp;ISO</vihf:PatientId>   (optional)
    </vihf:WhoAmI>

With a `PatientId`, the access policy is asked whether the assertion may be used to query
that patient; a refusal is a `wsse:FailedAuthentication` fault. The answer,
`vihf:WhoAmIResponse` (Action `urn:tsnhub:vihf:WhoAmIResponse`), lists the Principal:
assertion id, issuer, validity, VIHF version, subject (id, type, name), roles, sector,
structure, authentication, purpose of use, patient, calling software and, when asked, the
access decision. `GET /vihf/whoami?wsdl` gives its WSDL (`vihf/whoami.wsdl`).
"""
from __future__ import annotations

import logging
import threading
from functools import partial
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from hub.config import Config
from hub.store.replay import ReplayCache
from hub.wire import soap
from vihf.faults import VihfRefusal
from vihf.policy import AccessPolicy
from vihf.principal import Code, Principal
from vihf.trust import TrustStoreError
from vihf.verify import Settings, Verifier, locate

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

NS = "urn:tsnhub:vihf"
WHOAMI_PATH = "/vihf/whoami"
WHOAMI_ACTION = "urn:tsnhub:vihf:WhoAmI"
WHOAMI_RESPONSE_ACTION = "urn:tsnhub:vihf:WhoAmIResponse"
WHOAMI_TRANSACTION = "VIHF-WhoAmI"
WHOAMI_WSDL = Path(__file__).resolve().parent.parent / "vihf" / "whoami.wsdl"


def settings(config: Config) -> Settings:
    """The verification settings of the hub's `[security]` keys and PKI folder."""
    security = config.security
    return Settings(
        trust_store=config.trust_store_path,
        crl_files=[Path(p) for p in security.crl_files],
        clock_skew_seconds=security.clock_skew_seconds,
        allow_sha1=security.allow_sha1,
        accepted_vihf_versions=list(security.accepted_vihf_versions),
        max_age_seconds=security.max_assertion_age_seconds,
    )


def soap_fault(refusal: VihfRefusal) -> soap.SoapFault:
    """A refused assertion as SOAP 1.2 answers it: `Sender`, with the WS-Security code as
    `wsse:` subcode."""
    return soap.SoapFault("Sender", refusal.reason, ((soap.WSSE, refusal.subcode),))


class VihfAuthenticator:
    """`hub.endpoints.Authenticator`: verifies the one assertion of `request.security`."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._verifier: Verifier | None = None
        self._lock = threading.Lock()

    @property
    def verifier(self) -> Verifier:
        with self._lock:
            if self._verifier is None:
                try:
                    self._verifier = Verifier.from_settings(settings(self.hub.config), ReplayCache(self.hub.store))
                except TrustStoreError as exc:
                    log.error("VIHF verification unavailable: %s", exc)
                    raise soap.SoapFault("Receiver", "the hub cannot verify VIHF assertions (trust store)") from None
            return self._verifier

    def prepare(self) -> bool:
        """Build the verifier now; False when it cannot be (the reason is logged)."""
        try:
            return self.verifier is not None
        except soap.SoapFault:
            return False

    def authenticate(self, request: soap.SoapRequest, transaction: str) -> Principal:
        """The verified Principal of `request`, or a SOAP fault (see `vihf.faults`)."""
        try:
            return self.authenticate_assertion(locate(request.header), transaction)
        except VihfRefusal as refusal:
            raise soap_fault(refusal) from None

    def authenticate_assertion(self, assertion: etree._Element, transaction: str) -> Principal:
        """The verified Principal of an assertion carried otherwise than in a SOAP header
        (the IUA SAML token of FHIR requests); raises `VihfRefusal`, or a `Receiver`
        SOAP fault when the hub cannot verify assertions at all."""
        principal = self.verifier.verify_assertion(assertion)
        if principal.break_the_glass:
            log.warning("%s access in %s by %s", principal.purpose, transaction, principal.audit_who)
        return principal


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _add(parent: etree._Element, tag: str, text: str | None = None, **attributes: str | None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    for key, value in attributes.items():
        if value is not None:
            element.set(key, value)
    if text is not None:
        element.text = text
    return element


def _code(parent: etree._Element, tag: str, code: Code | None) -> None:
    if code is not None:
        _add(parent, tag, code=code.code, codeSystem=code.code_system, displayName=code.display_name)


def describe(principal: Principal) -> etree._Element:
    """`vihf:WhoAmIResponse` listing the Principal."""
    root = etree.Element(f"{{{NS}}}WhoAmIResponse", nsmap={"vihf": NS})
    _add(root, "AssertionID", principal.assertion_id)
    _add(root, "Issuer", principal.issuer)
    _add(root, "VihfVersion", principal.vihf_version)
    _add(
        root,
        "Validity",
        issueInstant=_instant(principal.issue_instant),
        notBefore=_instant(principal.not_before),
        notOnOrAfter=_instant(principal.not_on_or_after),
    )
    _add(root, "Subject", principal.subject_name, id=principal.subject_id, type=principal.subject_id_type)
    for role in principal.roles:
        _code(root, "Role", role)
    _code(root, "Sector", principal.sector)
    _add(root, "Structure", id=principal.structure_id, name=principal.structure_name)
    _add(root, "Authentication", mode=principal.authentication_mode, context=principal.authn_context)
    _code(root, "PurposeOfUse", principal.purpose_of_use)
    if principal.break_the_glass_reason:
        _add(root, "BreakTheGlassReason", principal.break_the_glass_reason)
    if principal.patient is not None:
        _add(
            root,
            "Patient",
            principal.patient.cx(),
            id=principal.patient.id,
            assigningAuthority=principal.patient.assigning_authority,
        )
    _add(root, "ResourceURN", principal.resource_urn)
    software = principal.software
    _add(
        root,
        "Software",
        name=software.name,
        version=software.version,
        instanceId=software.instance_id,
        registrationId=software.registration_id,
    )
    return root


def whoami(request: soap.SoapRequest, authenticator: VihfAuthenticator) -> soap.SoapResponse:
    """VIHF-WhoAmI: what the hub reads from the caller's assertion."""
    if request.body.tag != f"{{{NS}}}WhoAmI":
        raise soap.sender_fault("the body of a WhoAmI request must be vihf:WhoAmI")
    principal = request.principal
    if principal is None:
        principal = authenticator.authenticate(request, WHOAMI_TRANSACTION)
        request.principal = principal
    body = describe(principal)
    patient = request.body.find(f"{{{NS}}}PatientId")
    audit_patient = principal.patient.cx() if principal.patient is not None else None
    if patient is not None:
        requested = "".join(patient.itertext()).strip()
        decision = AccessPolicy().may_query_patient(principal, requested)
        if not decision.allowed:
            raise soap_fault(decision.refusal())
        audit_patient = requested
        _add(body, "Access", decision.reason, allowed="true", breakTheGlass=str(decision.break_the_glass).lower())
    response = soap.SoapResponse(body, WHOAMI_RESPONSE_ACTION)
    response.audit_patient = audit_patient
    return response


def install(hub: Hub) -> None:
    """Set the hub's VIHF authenticator and mount the WhoAmI service."""
    authenticator = hub.authenticator = VihfAuthenticator(hub)
    if hub.config.security.require_vihf and not hub.config.trust_store_path.exists():
        log.warning("VIHF trust store %s is missing: every SOAP request will be refused", hub.config.trust_store_path)
    elif hub.config.security.require_vihf and hub.config.security.crl_files:
        # Built now rather than at the first request, so that a CRL that does not verify
        # is logged at start-up (requests are then refused).
        authenticator.prepare()
    hub.soap_endpoint(WHOAMI_PATH, WHOAMI_WSDL if WHOAMI_WSDL.exists() else None).operation(
        WHOAMI_ACTION, WHOAMI_TRANSACTION, partial(whoami, authenticator=authenticator)
    )


__all__ = ["VihfAuthenticator", "describe", "install", "settings", "soap_fault", "whoami"]
