"""Formats of XDS metadata values (ITI TF-3 Table 4.2.3.1.7-2): OIDs, UUIDs, DTM times,
and the HL7 v2.5 datatypes CX, XCN, XON and XTN as XDS profiles them.

Each checker returns None when the value is valid, or a short reason when it is not.
"""
from __future__ import annotations

import re

_OID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")
_UUID_URN = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DTM = re.compile(r"^[0-9]{4}([0-9]{2}([0-9]{2}([0-9]{2}([0-9]{2}([0-9]{2})?)?)?)?)?$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_UNIQUE_ID_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")


def is_uuid_urn(value: str) -> bool:
    return bool(_UUID_URN.match(value))


def check_oid(value: str) -> str | None:
    """An OID: dotted numbers without leading zeros, at most 64 characters."""
    if len(value) > 64:
        return "longer than 64 characters"
    if not _OID.match(value):
        return "not an OID"
    return None


def check_unique_id(value: str) -> str | None:
    """DocumentEntry/SubmissionSet/Folder uniqueId: an OID, or OID^extension (ITI TF-3 4.2.3.2.26)."""
    if len(value) > 128:
        return "longer than 128 characters"
    root, sep, extension = value.partition("^")
    reason = check_oid(root)
    if reason:
        return reason
    if sep and not _UNIQUE_ID_EXTENSION.match(extension):
        return "extension is not 1-16 alphanumeric characters"
    return None


def check_dtm(value: str) -> str | None:
    """An XDS DTM: YYYY[MM[DD[hh[mm[ss]]]]] in UTC, with valid calendar fields."""
    if not _DTM.match(value):
        return "not an HL7 DTM (YYYY[MM[DD[hh[mm[ss]]]]])"
    limits = ((4, 6, 1, 12), (6, 8, 1, 31), (8, 10, 0, 23), (10, 12, 0, 59), (12, 14, 0, 59))
    for start, end, low, high in limits:
        if len(value) >= end and not low <= int(value[start:end]) <= high:
            return "field out of range"
    return None


def pad_dtm(value: str, fill: str = "0") -> str:
    """DTM widened to 14 digits so that times of different precision compare as strings."""
    if fill == "0" and len(value) in (4, 6):
        # a missing month or day is the first one, not month/day zero
        value = value + "01" * ((8 - len(value)) // 2)
    return value + fill * (14 - len(value))


def check_sha1(value: str) -> str | None:
    return None if _SHA1.match(value) else "not a hexadecimal SHA-1 digest"


def check_language(value: str) -> str | None:
    return None if _LANGUAGE.match(value) else "not an RFC 3066 language tag"


def check_integer(value: str) -> str | None:
    return None if value.isdigit() else "not a non-negative integer"


def _hd_universal(hd: str) -> str | None:
    """HD as XDS requires it in an assigning authority: &OID&ISO."""
    parts = hd.split("&")
    if len(parts) != 3 or parts[0] != "" or parts[2] != "ISO" or check_oid(parts[1]):
        return "assigning authority is not &OID&ISO"
    return None


def check_cx(value: str) -> str | None:
    """XDS patient id: CX with only CX.1 and CX.4 (universal id, type ISO) valued."""
    parts = value.split("^")
    if len(parts) != 4:
        return "CX must have exactly the components id^^^&OID&ISO"
    if not parts[0]:
        return "CX.1 (id number) is empty"
    if parts[1] or parts[2]:
        return "CX.2 and CX.3 must be empty"
    return _hd_universal(parts[3])


def cx_authority(value: str) -> str | None:
    """The OID of the assigning authority of a CX, or None."""
    parts = value.split("^")
    if len(parts) < 4:
        return None
    hd = parts[3].split("&")
    return hd[1] if len(hd) >= 2 else None


def check_cxi(value: str) -> str | None:
    """referenceIdList value: CXi with CX.1, CX.4 and CX.5 (ITI TF-3 4.2.3.1.7)."""
    parts = value.split("^")
    if not parts[0]:
        return "CXi.1 (id) is empty"
    if len(parts) < 5 or not parts[4]:
        return "CXi.5 (identifier type code) is required"
    return None


def check_xcn(value: str) -> str | None:
    """authorPerson: XCN with an id (then an assigning authority) or a family/given name."""
    parts = value.split("^")
    has_id = bool(parts[0])
    has_name = len(parts) > 2 and bool(parts[1] or parts[2])
    if len(parts) == 1:
        # free text name (the IHE examples use it); accepted as a name
        return None if value.strip() else "empty"
    if not has_id and not has_name:
        return "XCN needs XCN.1 or a family/given name"
    if has_id and len(parts) > 8 and parts[8]:
        hd = parts[8].split("&")
        if len(hd) >= 3 and hd[2] and hd[2] != "ISO":
            return "XCN.9 universal id type must be ISO"
    return None


def check_xon(value: str) -> str | None:
    """authorInstitution: XON with XON.1 (name); XON.10 (id) when present with an OID authority."""
    parts = value.split("^")
    if not parts[0]:
        return "XON.1 (organization name) is empty"
    if len(parts) > 1 and any(parts[i] for i in (1, 2, 3, 4, 7, 8) if i < len(parts)):
        return "only XON.1, XON.6 and XON.10 may be valued"
    return None


def check_xtn(value: str) -> str | None:
    """authorTelecommunication: XTN with XTN.3 (type) and XTN.4 (address) for email."""
    parts = value.split("^")
    if len(parts) < 3:
        return "XTN needs at least XTN.2 and XTN.3"
    if parts[2] == "Internet" and (len(parts) < 4 or "@" not in parts[3]):
        return "XTN.4 must be an email address when XTN.3 is Internet"
    return None
