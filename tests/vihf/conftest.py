"""VIHF fixtures: signers from the development PKI (and from a foreign CA), assertion
templates brought up to date and signed at test time.

The templates come from two sources (vihf_testing.SOURCES): the assertions the project
composes in code (`conformance.vihf_samples`), always, and the shared composed templates
of the third-party corpus (composed/vihf/*.xml), marked `corpus`. A test that uses
`template`, `signed` or `facts` runs once per source."""
from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from conformance import vihf_samples
from hub import pki as hub_pki
from hub.store import Store
from vihf.issue import Signer, sign
from hub.store.replay import ReplayCache
from vihf.trust import TrustStore
from vihf.verify import Settings, Verifier
from vihf_testing import FACTS, SOURCES, Facts, refresh


@pytest.fixture(scope="session")
def signer(pki: Path) -> Signer:
    return Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem")


@pytest.fixture(scope="session")
def foreign_signer() -> Signer:
    """A signer whose CA is not in the hub's trust store."""
    ca = hub_pki.make_ca("foreign CA")
    issued = hub_pki.issue(ca, "foreign VIHF signer", None, organisation="foreign structure")
    return Signer(issued.key, issued.certificate)


@pytest.fixture(scope="session")
def ca_signer(pki: Path) -> Signer:
    """The development CA itself (trusted, but not allowed to sign assertions)."""
    return Signer.load(pki / "ca.key", pki / "ca.pem")


@pytest.fixture(scope="session")
def corpus_templates(corpus: Path) -> dict[str, etree._Element]:
    """The shared composed templates of the corpus (composed/vihf/*.xml), by name."""
    folder = corpus / "composed" / "vihf"
    return {
        path.stem: etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
        for path in folder.glob("*.xml")
    }


@pytest.fixture(params=SOURCES)
def vihf_source(request: pytest.FixtureRequest) -> str:
    """Where the templates come from: `project` (conformance.vihf_samples) or `corpus`."""
    source: str = request.param
    return source


@pytest.fixture
def facts(vihf_source: str) -> Facts:
    """What the templates of the current source say about their people."""
    return FACTS[vihf_source]


Template = Callable[..., etree._Element]


@pytest.fixture
def template(request: pytest.FixtureRequest, vihf_source: str, signer: Signer) -> Template:
    """An up-to-date UNSIGNED template of the current source: issued now (or at `now`),
    `Issuer` = `issuer` (default: the development signer's subject DN)."""
    if vihf_source == "corpus":
        templates: dict[str, etree._Element] = request.getfixturevalue("corpus_templates")

        def from_corpus(
            name: str = "vihf-gp-cps-directe", issuer: str | None = None, now: datetime | None = None
        ) -> etree._Element:
            return refresh(copy.deepcopy(templates[name]), issuer or signer.issuer_dn, now)

        return from_corpus

    def from_project(
        name: str = "vihf-gp-cps-directe", issuer: str | None = None, now: datetime | None = None
    ) -> etree._Element:
        return vihf_samples.compose(name, issuer=issuer or signer.issuer_dn, now=now)

    return from_project


@pytest.fixture
def signed(template: Template, signer: Signer) -> Template:
    """An up-to-date template of the current source signed by `by` (default: the development signer);
    `edit(assertion)` runs before signing."""

    def make(
        name: str = "vihf-gp-cps-directe",
        by: Signer | None = None,
        edit: Callable[[etree._Element], None] | None = None,
        now: datetime | None = None,
        sha1: bool = False,
    ) -> etree._Element:
        by = by or signer
        assertion = template(name, issuer=by.issuer_dn, now=now)
        if edit is not None:
            edit(assertion)
        return sign(assertion, by, sha1=sha1)

    return make


@pytest.fixture
def verifier(pki: Path, store: Store) -> Verifier:
    """A verifier trusting the development CA, with its replay cache on `store`."""
    return Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store), Settings())


@pytest.fixture(scope="session")
def expired_signer(pki: Path) -> Signer:
    """A signing certificate of the trusted development CA whose validity ended yesterday."""
    from datetime import timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired VIHF signer")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return Signer(key, certificate)
