"""Cost of verifying one VIHF assertion, per library (issue 3, "Done when" 4).

Prints median and p99 in microseconds for:

- xmlsec alone (library call with the key read from the certificate, as signxml does);
- xmlsec (the hub's path): the XML-DSig check with the wrapping defence and the canonical
  re-read of the signed content (`vihf.signature.verify`), then the whole verification
  without the store (signature, cached trust check, Principal, content and time rules),
  then with the replay cache on SQLite (one committed insert per assertion);
- signxml (the alternative): `XMLVerifier.verify` of the same assertions with the
  signer's certificate given, which is the comparable signature-only step.

Each assertion is parsed before the clock starts (the SOAP codec has parsed it already
when the authenticator runs). Run as `python -m bench.bench_vihf`.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import signxml
import xmlsec
from lxml import etree

from hub import pki as hub_pki
from hub.wire import xmlsafe
from hub.store import Store
from vihf import signature
from vihf.issue import Signer, issue
from hub.store.replay import ReplayCache
from vihf.trust import TrustStore
from vihf.verify import Verifier

ROUNDS = 1000
WARM_UP = 50


def _report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<52} median {statistics.median(ordered) * 1e6:8.0f} µs   p99 {p99 * 1e6:8.0f} µs   ({len(ordered)} assertions)")


def _measure(name: str, documents: list[bytes], step: Callable[[etree._Element], object]) -> None:
    for data in documents[:WARM_UP]:
        step(xmlsafe.parse(data))
    samples = []
    for data in documents[WARM_UP:]:
        element = xmlsafe.parse(data)
        started = time.perf_counter()
        step(element)
        samples.append(time.perf_counter() - started)
    _report(name, samples)


def _xmlsec_only(assertion: etree._Element) -> None:
    """The library call alone, comparable with signxml's verify (key from the certificate)."""
    found = signature.locate_signature(assertion)
    _, der = signature.signer_certificate(found)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(der, xmlsec.KeyFormat.CERT_DER, None)
    context.register_id(assertion, "ID")
    context.verify(found)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        hub_pki.init(base / "pki")
        signer = Signer.load(base / "pki" / "vihf-signer.key", base / "pki" / "vihf-signer.pem")
        documents = [
            etree.tostring(
                issue(
                    signer,
                    subject_id="899900012347",
                    subject_name="MASSERAN, Aurélien, Médecine générale",
                    roles=["10", "SM26"],
                    structure_id="49990001234701",
                    sector="SA07",
                    patient="287043523811712",
                    ttl=3600,
                )
            )
            for _ in range(ROUNDS + WARM_UP)
        ]
        print(f"one VIHF 3.0 assertion: {len(documents[0])} bytes, RSA-2048, SHA-256")
        trust = TrustStore.load(base / "pki" / "ca.pem")
        store = Store(f"sqlite:///{base / 'store.sqlite'}")
        store.upgrade()
        try:
            _measure("xmlsec  XML-DSig check alone", documents, _xmlsec_only)
            _measure("xmlsec  signature + wrapping defence + re-read", documents, signature.verify)
            without_store = Verifier(trust, None)
            _measure("xmlsec  full verification, no replay cache", documents, without_store.verify_assertion)
            with_store = Verifier(trust, ReplayCache(store))
            _measure("xmlsec  full verification + replay cache (SQLite)", documents, with_store.verify_assertion)
            verifier = signxml.XMLVerifier()
            _measure(
                "signxml signature (XMLVerifier.verify)",
                documents,
                lambda element: verifier.verify(element, x509_cert=signer.certificate, id_attribute="ID"),
            )
        finally:
            store.close()


if __name__ == "__main__":
    main()
