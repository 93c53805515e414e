"""Revocation of VIHF signing certificates (spec §6 step 4): certificate revocation lists.

The lists are files the operator keeps current (IGC Santé publishes the CRL of each CA,
e.g. ACI-EL-ORG.crl, which a cron job fetches): `[security] crl_files`, PEM or DER, one or
more CRLs per file. Each CRL must be signed by a CA of the trust store, or the hub
refuses to use any of them. A certificate of a signer's chain whose serial number a CRL
of its issuer lists is refused; so is any certificate issued by a CA whose CRL is past
its nextUpdate (the revocation status is then unknown: fail closed). The files are read
again when they change, checked at most every `RELOAD_SECONDS`; a changed file that does
not verify is logged and the lists already loaded stay in force.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from vihf import faults

log = logging.getLogger(__name__)

RELOAD_SECONDS = 60.0


class RevocationListError(RuntimeError):
    """A configured CRL cannot be read or is not signed by a trusted CA."""


def _parse(path: Path) -> list[x509.CertificateRevocationList]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RevocationListError(f"cannot read the CRL file {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            blocks = data.split(b"-----END X509 CRL-----")
            return [x509.load_pem_x509_crl(block + b"-----END X509 CRL-----\n") for block in blocks if b"-----BEGIN X509 CRL-----" in block]
        return [x509.load_der_x509_crl(data)]
    except ValueError:
        raise RevocationListError(f"{path} holds no readable CRL (PEM or DER)") from None


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return False
    return crl.issuer == issuer.subject and crl.is_signature_valid(key)


class RevocationLists:
    """The CRLs of `paths`, verified against `issuers` (the trust store's CAs)."""

    def __init__(
        self, paths: Sequence[Path], issuers: Sequence[x509.Certificate], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.issuers = list(issuers)
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = self._stamps()
        self._checked_at = 0.0
        self._by_issuer = self._load()
        self.generation = 0  # incremented at every reload (signer caches key on it)

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self.paths:
            try:
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def _load(self) -> dict[bytes, x509.CertificateRevocationList]:
        lists: dict[bytes, x509.CertificateRevocationList] = {}
        for path in self.paths:
            for crl in _parse(path):
                if not any(_signed_by(crl, issuer) for issuer in self.issuers):
                    raise RevocationListError(f"a CRL of {path} is not signed by a CA of the VIHF trust store")
                key = crl.issuer.public_bytes()
                known = lists.get(key)
                if known is None or crl.last_update_utc > known.last_update_utc:
                    lists[key] = crl
        return lists

    def refresh(self) -> None:
        """Read the files again if they changed (checked at most every RELOAD_SECONDS)."""
        now = self._clock()
        with self._lock:
            if now - self._checked_at < RELOAD_SECONDS:
                return
            self._checked_at = now
            stamp = self._stamps()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self._by_issuer = self._load()
                self.generation += 1
                log.info("VIHF revocation lists reloaded (%d issuers)", len(self._by_issuer))
            except RevocationListError as exc:
                log.error("VIHF revocation lists not reloaded, the previous ones stay in force: %s", exc)

    def check(self, chain: Sequence[x509.Certificate], now: datetime) -> datetime | None:
        """Raise `FailedAuthentication` when a certificate of `chain` (leaf first) is
        revoked or its issuer's CRL is out of date; return the earliest nextUpdate of the
        CRLs consulted (None when none applies)."""
        self.refresh()
        earliest: datetime | None = None
        for certificate, issuer in zip(chain, chain[1:]):
            crl = self._by_issuer.get(issuer.subject.public_bytes())
            if crl is None:
                continue
            next_update = crl.next_update_utc
            if next_update is not None and now >= next_update:
                raise faults.failed_authentication("the revocation list of the signing certificate's issuer is out of date")
            if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
                raise faults.failed_authentication("the signing certificate is revoked")
            if next_update is not None and (earliest is None or next_update < earliest):
                earliest = next_update
        return earliest
