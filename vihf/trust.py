"""Trust in the certificate that signed an assertion (spec §6 step 4).

The signer must chain to a certificate of the trust store (a PEM bundle: in production the
IGC Santé organisation CA ACI-EL-ORG, in development the CA of `tsnhub pki init`), every
certificate of the chain valid at the time of the request, and the signer's key usage must
allow signing (digitalSignature or nonRepudiation). Chain building and the X.509 checks are
cryptography's verifier (RFC 5280 / CA/B web PKI rules for the CA side); the signer's own
extensions are free, since organisation signing certificates are not TLS certificates.
Successful checks are cached per certificate for a short time, bounded by the validity of
the chain and by the next update of the revocation lists consulted (`vihf.revocation`,
`[security] crl_files`).
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509 import verification

from vihf.revocation import RevocationListError, RevocationLists

from vihf import faults

CACHE_SECONDS = 300
CACHE_SIZE = 1024


class TrustStoreError(RuntimeError):
    """The trust store cannot be read (a configuration problem, not the caller's)."""


class TrustStore:
    """Trusted CA certificates and a small cache of signers already checked."""

    def __init__(self, anchors: list[x509.Certificate], crl_paths: Sequence[Path] = ()) -> None:
        if not anchors:
            raise TrustStoreError("the VIHF trust store holds no certificate")
        self.anchors = anchors
        self._store = verification.Store(anchors)
        # fingerprint -> (checked until, generation of the revocation lists then in force)
        self._cache: dict[bytes, tuple[datetime, int]] = {}
        self._lock = threading.Lock()
        try:
            self.revocation = RevocationLists(crl_paths, anchors) if crl_paths else None
        except RevocationListError as exc:
            raise TrustStoreError(str(exc)) from None

    @classmethod
    def load(cls, path: Path, crl_paths: Sequence[Path] = ()) -> TrustStore:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise TrustStoreError(f"cannot read the VIHF trust store {path}: {exc.strerror}") from None
        try:
            anchors = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise TrustStoreError(f"the VIHF trust store {path} holds no PEM certificate") from None
        return cls(anchors, crl_paths)

    def _generation(self) -> int:
        if self.revocation is None:
            return 0
        self.revocation.refresh()
        return self.revocation.generation

    def check(self, certificate: x509.Certificate, der: bytes, now: datetime) -> None:
        """Raise `FailedAuthentication` unless `certificate` may sign assertions at `now`."""
        fingerprint = hashlib.sha256(der).digest()
        generation = self._generation()
        with self._lock:
            cached = self._cache.get(fingerprint)
        if cached is not None and now < cached[0] and cached[1] == generation:
            return
        self._key_usage(certificate)
        builder = (
            verification.PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
        )
        try:
            chain = builder.build_client_verifier().verify(certificate, []).chain
        except verification.VerificationError:
            if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                raise faults.failed_authentication("the signing certificate is outside its validity period") from None
            raise faults.failed_authentication("the signing certificate is not issued by a trusted CA") from None
        bounds = [now + timedelta(seconds=CACHE_SECONDS)] + [c.not_valid_after_utc for c in chain]
        if self.revocation is not None:
            next_update = self.revocation.check(chain, now)
            if next_update is not None:
                bounds.append(next_update)
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[fingerprint] = (min(bounds), generation)

    @staticmethod
    def _key_usage(certificate: x509.Certificate) -> None:
        try:
            usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return
        if not (usage.digital_signature or usage.content_commitment):
            raise faults.failed_authentication("the signing certificate's key usage does not allow signing")
        if usage.key_cert_sign:
            raise faults.failed_authentication("a CA certificate may not sign assertions")
