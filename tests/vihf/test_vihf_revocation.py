"""Revocation (spec §6 step 4; DMP homologation: CRL of ACI-EL-ORG checked): a signer
listed in its CA's CRL is refused, so is one whose CA's CRL is out of date; CRLs not
signed by a trusted CA are not used; changed CRL files are read again."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree

import vihf.revocation
from conformance.hubprocess import HubProcess
from hub import pki as hub_pki
from hub.wire import soap, xmlsafe
from vihf import faults, wsse
from vihf.issue import Signer
from hub.authentication import WHOAMI_ACTION
from vihf.trust import TrustStore, TrustStoreError
from vihf.verify import Settings, Verifier
from vihf_testing import request_header

NOW = datetime.now(timezone.utc)


def _ca(pki: Path) -> hub_pki.Issued:
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    return hub_pki.Issued(x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes()), key)  # type: ignore[arg-type]


def crl(issuer: hub_pki.Issued, revoked: list[int], *, updated: datetime = NOW, valid: timedelta = timedelta(days=1)) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(updated - timedelta(minutes=5))
        .next_update(updated + valid)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(updated - timedelta(minutes=10)).build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def revoked_signer(pki: Path) -> Signer:
    issued = hub_pki.issue(_ca(pki), "revoked VIHF signer", None)
    return Signer(issued.key, issued.certificate)


def _verifier(pki: Path, crl_file: Path) -> Verifier:
    return Verifier(TrustStore.load(pki / "ca.pem", [crl_file]), None, Settings())


def _refused(verifier: Verifier, assertion: etree._Element) -> faults.VihfRefusal:
    with pytest.raises(faults.VihfRefusal) as caught:
        verifier.verify_header(request_header(assertion))
    return caught.value


def test_a_revoked_signer_is_refused_and_the_others_accepted(pki: Path, tmp_path: Path, signed, revoked_signer, signer) -> None:
    path = tmp_path / "ca.crl"
    path.write_bytes(crl(_ca(pki), [revoked_signer.certificate.serial_number]))
    verifier = _verifier(pki, path)
    fault = _refused(verifier, signed(by=revoked_signer))
    assert (fault.subcode, fault.reason) == (faults.FAILED_AUTHENTICATION, "the signing certificate is revoked")
    assert verifier.verify_header(request_header(signed(by=signer))).subject_id


def test_der_crls_are_read_too(pki: Path, tmp_path: Path, signed, revoked_signer) -> None:
    pem = crl(_ca(pki), [revoked_signer.certificate.serial_number])
    path = tmp_path / "ca.crl"
    path.write_bytes(x509.load_pem_x509_crl(pem).public_bytes(serialization.Encoding.DER))
    assert _refused(_verifier(pki, path), signed(by=revoked_signer)).reason == "the signing certificate is revoked"


def test_an_out_of_date_crl_refuses_every_signer_of_its_ca(pki: Path, tmp_path: Path, signed, signer) -> None:
    path = tmp_path / "old.crl"
    path.write_bytes(crl(_ca(pki), [], updated=NOW - timedelta(days=3), valid=timedelta(days=1)))
    fault = _refused(_verifier(pki, path), signed(by=signer))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "out of date" in fault.reason


def test_a_crl_not_signed_by_a_trusted_ca_is_not_used(pki: Path, tmp_path: Path) -> None:
    path = tmp_path / "foreign.crl"
    foreign = hub_pki.make_ca("tsnhub development CA")  # same name, other key
    path.write_bytes(crl(foreign, []))
    with pytest.raises(TrustStoreError, match="not signed by a CA of the VIHF trust store"):
        TrustStore.load(pki / "ca.pem", [path])


def test_a_changed_crl_file_is_read_again_and_the_signer_cache_forgotten(
    pki: Path, tmp_path: Path, signed, revoked_signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ca.crl"
    path.write_bytes(crl(_ca(pki), []))
    verifier = _verifier(pki, path)
    assert verifier.verify_header(request_header(signed(by=revoked_signer))).subject_id  # cached as good
    monkeypatch.setattr(vihf.revocation, "RELOAD_SECONDS", 0.0)
    path.write_bytes(crl(_ca(pki), [revoked_signer.certificate.serial_number], updated=NOW + timedelta(seconds=1)))
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    assert _refused(verifier, signed(by=revoked_signer)).reason == "the signing certificate is revoked"


def test_a_changed_crl_that_does_not_verify_leaves_the_previous_lists(
    pki: Path, tmp_path: Path, signed, revoked_signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ca.crl"
    path.write_bytes(crl(_ca(pki), [revoked_signer.certificate.serial_number]))
    verifier = _verifier(pki, path)
    monkeypatch.setattr(vihf.revocation, "RELOAD_SECONDS", 0.0)
    path.write_bytes(b"not a CRL at all")
    assert _refused(verifier, signed(by=revoked_signer)).reason == "the signing certificate is revoked"


# -- through a running hub ------------------------------------------------------------------


@pytest.fixture
def crl_hub(start_hub, pki: Path, revoked_signer: Signer, tmp_path: Path) -> HubProcess:
    path = tmp_path / "ca.crl"
    path.write_bytes(crl(_ca(pki), [revoked_signer.certificate.serial_number]))
    hub: HubProcess = start_hub(f'[security]\ncrl_files = ["{path}"]\n')
    return hub


def _whoami(hub: HubProcess, assertion: etree._Element) -> requests.Response:
    body = etree.Element("{urn:tsnhub:vihf}WhoAmI")
    http = hub.session()
    return http.post(
        f"{hub.https_url}/vihf/whoami", data=wsse.envelope(WHOAMI_ACTION, body, assertion), timeout=20,
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"},
    )


def test_the_hub_refuses_a_revoked_signer_named_in_crl_files(crl_hub: HubProcess, signed, revoked_signer, signer) -> None:
    refused = _whoami(crl_hub, signed(by=revoked_signer))
    assert refused.status_code == 400
    fault = xmlsafe.parse(refused.content).find(f"{{{soap.SOAP12}}}Body/{{{soap.SOAP12}}}Fault")
    assert fault.findtext(f"{{{soap.SOAP12}}}Code/{{{soap.SOAP12}}}Subcode/{{{soap.SOAP12}}}Value").endswith(faults.FAILED_AUTHENTICATION)
    assert "revoked" in fault.findtext(f"{{{soap.SOAP12}}}Reason/{{{soap.SOAP12}}}Text")
    assert _whoami(crl_hub, signed(by=signer)).status_code == 200
