"""Development PKI (`tsnhub pki init`): a CA, the hub's TLS server certificate, a client
(software) certificate for mutual TLS, and a VIHF signing certificate (the structure's
organisation certificate that signs assertions). For development and tests only.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key", "vihf-signer.pem", "vihf-signer.key")


class PkiExistsError(FileExistsError):
    """The folder already holds a PKI and `force` was not given."""


@dataclass
class Issued:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def _name(common_name: str, organisation: str = "tsnhub development") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKeyTypes, days: int) -> x509.CertificateBuilder:
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
    )


def make_ca(common_name: str = "tsnhub development CA", days: int = 3650) -> Issued:
    key = _key()
    name = _name(common_name)
    certificate = (
        _builder(name, name, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def issue(
    ca: Issued,
    common_name: str,
    usage: x509.ObjectIdentifier | tuple[x509.ObjectIdentifier, ...] | None,
    days: int = 825,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    organisation: str = "tsnhub development",
) -> Issued:
    """A leaf certificate signed by `ca`: for TLS with `usage`, the extended key usage(s)
    (serverAuth, clientAuth), or a signing certificate with usage None (no extended key
    usage, so that TLS peers refuse it)."""
    key = _key()
    builder = (
        _builder(_name(common_name, organisation), ca.certificate.subject, key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if usage is None:
        builder = builder.add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage(list(usage) if isinstance(usage, tuple) else [usage]), critical=False)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, secret: bool) -> None:
    path.write_bytes(data)
    if secret:
        os.chmod(path, 0o600)


def init(directory: Path, force: bool = False) -> list[Path]:
    """Write the development PKI into `directory`; idempotent: an existing complete PKI
    is kept, a partial or existing one is only replaced with `force`."""
    directory = Path(directory)
    present = [directory / f for f in FILES if (directory / f).exists()]
    if present and not force:
        if len(present) == len(FILES):
            return []
        raise PkiExistsError(f"{directory} holds a partial PKI; use --force to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca()
    # The hub's certificate is also its client certificate for outbound TLS (syslog, MLLP,
    # SOAP): serverAuth and clientAuth (INTERFACES.md).
    server = issue(
        ca,
        "localhost",
        (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        dns=("localhost",),
        ips=("127.0.0.1", "::1"),
    )
    client = issue(ca, "tsnhub development client software", ExtendedKeyUsageOID.CLIENT_AUTH)
    signer = issue(ca, "tsnhub development VIHF signer", None, organisation="tsnhub development structure")
    written = []
    for stem, issued in (("ca", ca), ("server", server), ("client", client), ("vihf-signer", signer)):
        for suffix, data, secret in (
            ("pem", certificate_pem(issued.certificate), False),
            ("key", key_pem(issued.key), True),
        ):
            path = directory / f"{stem}.{suffix}"
            _write(path, data, secret)
            written.append(path)
    return written
