"""Distinguished names as VIHF issuers write them (spec §3.2).

`Issuer` holds the subject DN of the signing certificate, spelt either in RFC 2253 order
(`CN=...,O=...,C=FR`) or in X.500 order (`C=FR, ST=..., CN=...`), with .NET aliases
(`S=` for `ST=`, `G=` for `GN=`). Two spellings name the same subject when they hold the
same multiset of (attribute type, value) pairs; order and spaces after commas are not
significant.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import NameOID

_ALIASES = {
    "S": "ST",
    "STATEORPROVINCENAME": "ST",
    "G": "GIVENNAME",
    "GN": "GIVENNAME",
    "E": "EMAILADDRESS",
    "COMMONNAME": "CN",
    "COUNTRYNAME": "C",
    "ORGANIZATIONNAME": "O",
    "ORGANIZATIONALUNITNAME": "OU",
    "LOCALITYNAME": "L",
    "SURNAME": "SN",
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.4": "SN",
    "2.5.4.42": "GIVENNAME",
}

_OID_NAMES = {
    NameOID.COMMON_NAME: "CN",
    NameOID.COUNTRY_NAME: "C",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GIVENNAME",
    NameOID.EMAIL_ADDRESS: "EMAILADDRESS",
    NameOID.TITLE: "T",
}


def _type(name: str) -> str:
    upper = name.strip().upper()
    return _ALIASES.get(upper, upper)


def _split(text: str, separators: str) -> list[str]:
    """Split on unescaped separators (RFC 4514 backslash escapes)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(chr(int(pair, 16)))
                i += 3
                continue
            out.append(value[i + 1])
            i += 2
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def parse(text: str) -> tuple[tuple[str, str], ...]:
    """The (type, value) pairs of a DN string, in the order written. Raises ValueError."""
    pairs: list[tuple[str, str]] = []
    for rdn in _split(text, ",;"):
        if not rdn.strip():
            raise ValueError("empty relative distinguished name")
        for ava in _split(rdn, "+"):
            if "=" not in ava:
                raise ValueError("attribute without '='")
            name, value = ava.split("=", 1)
            pairs.append((_type(name), _unescape(value.strip())))
    return tuple(pairs)


@lru_cache(maxsize=1024)
def of_certificate(name: x509.Name) -> tuple[tuple[str, str], ...]:
    """The (type, value) pairs of a certificate name."""
    pairs = []
    for attribute in name:
        label = _OID_NAMES.get(attribute.oid, attribute.oid.dotted_string)
        value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
        pairs.append((label, value.strip()))
    return tuple(pairs)


def same_subject(text: str, name: x509.Name) -> bool:
    """Whether the DN string names the certificate subject (order-insensitive)."""
    try:
        written = parse(text)
    except ValueError:
        return False
    return Counter(written) == Counter(of_certificate(name))


def attribute(text: str, kind: str) -> str | None:
    """The first value of `kind` (e.g. "O") in a DN string, or None."""
    try:
        pairs = parse(text)
    except ValueError:
        return None
    wanted = _type(kind)
    return next((value for label, value in pairs if label == wanted), None)
