"""Verification of the VIHF assertion of a SOAP request (spec §6), in this order:

1. locate: one `wsse:Security` header holding exactly one `saml2:Assertion` child;
2. signature (`vihf.signature`): enveloped XML-DSig over that very assertion, wrapping
   defence; everything after this step reads only the signed content;
3. trust (`vihf.trust`): signer certificate chains to the trust store, valid now, allowed
   to sign; `Issuer` names the signer's subject (RDN-aware comparison, spec §3.2);
4. content (`vihf.content`): mandatory attributes, code systems, accepted VIHF version;
5. time: `NotBefore` / `NotOnOrAfter` with the configured clock skew, `IssueInstant` not
   in the future, and a maximum age when the assertion has no `NotOnOrAfter`;
6. replay (`vihf.replay`): the assertion ID was not used before within its validity.

Faults and their subcodes are listed in `vihf.faults`.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lxml import etree

from vihf import content, dn, faults, names, signature
from vihf.parse import AssertionFormatError, parse_assertion
from vihf.principal import Principal
from vihf.replay import ReplayCache
from vihf.trust import TrustStore, TrustStoreError

_SECURITY = f"{{{names.WSSE}}}Security"
_ASSERTION = f"{{{names.SAML}}}Assertion"
DEFAULT_MAX_AGE_SECONDS = 300


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Settings:
    """What governs VIHF verification: the trust store and its CRLs, the clock skew, SHA-1
    acceptance, the VIHF versions accepted and the oldest assertion accepted (the host
    fills them from its `[security]` keys)."""

    trust_store: Path | None = None
    crl_files: Collection[Path] = ()
    clock_skew_seconds: int = 120
    allow_sha1: bool = False
    accepted_vihf_versions: Collection[str] = field(default_factory=lambda: list(names.VIHF_VERSIONS_KNOWN))
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS


def locate(header: etree._Element | None) -> etree._Element:
    """The one assertion of the request: the only `saml2:Assertion` child of the only
    `wsse:Security` header block."""
    blocks = [] if header is None else header.findall(_SECURITY)
    if not blocks:
        raise faults.token_unavailable("the request has no wsse:Security header carrying a VIHF assertion")
    if len(blocks) > 1:
        raise faults.invalid_token("the request carries more than one wsse:Security header")
    assertions = blocks[0].findall(_ASSERTION)
    if not assertions:
        raise faults.token_unavailable("wsse:Security carries no SAML 2.0 assertion")
    if len(assertions) > 1:
        raise faults.invalid_token("wsse:Security must carry exactly one SAML 2.0 assertion")
    return assertions[0]


class Verifier:
    """Turns the security header of a request into a verified `Principal`."""

    def __init__(
        self,
        trust: TrustStore,
        replay: ReplayCache | None,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.trust = trust
        self.replay = replay
        self.settings = settings or Settings()
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, replay: ReplayCache | None) -> Verifier:
        """The trust store (and CRLs) of `settings` loaded; `replay` the host's replay
        cache. Raises `TrustStoreError` when the trust store is unusable."""
        if settings.trust_store is None:
            raise TrustStoreError("no trust store is configured")
        return cls(TrustStore.load(settings.trust_store, list(settings.crl_files)), replay, settings)

    def verify_header(self, header: etree._Element | None) -> Principal:
        """Verify the assertion of a SOAP header (spec §6 steps 1-8)."""
        return self.verify_assertion(locate(header))

    def verify_assertion(self, assertion: etree._Element) -> Principal:
        """Verify `assertion` where it stands in its document and return its Principal."""
        now = self.clock()
        verified = signature.verify(assertion, allow_sha1=self.settings.allow_sha1)
        self.trust.check(verified.certificate, verified.certificate_der, now)
        try:
            principal = parse_assertion(verified.assertion, signed=True)
        except AssertionFormatError as exc:
            raise faults.invalid_token(str(exc)) from None
        if not dn.same_subject(principal.issuer, verified.certificate.subject):
            raise faults.failed_authentication("saml2:Issuer is not the subject of the signing certificate")
        content.check(verified.assertion, principal, self.settings.accepted_vihf_versions)
        expires_at = self._check_time(principal, now)
        if self.replay is not None and not self.replay.first_use(principal.assertion_id, expires_at, now):
            raise faults.failed_authentication("the assertion ID was already used (replay)")
        return principal

    def _check_time(self, principal: Principal, now: datetime) -> datetime:
        """Validity window with clock skew (SAML core §2.5.1.2); returns the instant until
        which the ID must be remembered."""
        skew = timedelta(seconds=self.settings.clock_skew_seconds)
        issued = principal.issue_instant
        assert issued is not None  # content.check requires it
        not_before, not_after = principal.not_before, principal.not_on_or_after
        if not_before is not None and not_after is not None and not_after <= not_before:
            raise faults.invalid_token("Conditions: NotOnOrAfter is not after NotBefore")
        if issued > now + skew:
            raise faults.failed_authentication("the assertion is issued in the future")
        if not_before is not None and now + skew < not_before:
            raise faults.failed_authentication("the assertion is not yet valid (NotBefore)")
        if not_after is None:
            not_after = issued + timedelta(seconds=self.settings.max_age_seconds)
        if now - skew >= not_after:
            raise faults.failed_authentication("the assertion has expired (NotOnOrAfter)")
        return not_after + skew
