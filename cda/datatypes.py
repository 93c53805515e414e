"""Checks of HL7 v3 data types used by several rule sets (TS, II, CD) and of the French
national identifiers (INS matricule key)."""
from __future__ import annotations

import re

from lxml import etree

# HL7 v3 TS literal: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZzz]
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_INS_MATRICULE = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")


def ts_precision(value: str) -> tuple[int, bool] | None:
    """(number of date/time digits, has a time-zone offset) of an HL7 TS literal, or None
    when the literal is not a TS."""
    match = _TS.match(value)
    if match is None:
        return None
    digits = sum(len(g) for g in match.groups()[:6] if g)
    return digits, match.group(8) is not None


def is_ii_root(value: str) -> bool:
    """II.root: an OID or a UUID (HL7 v3 data types, II)."""
    return bool(_OID.match(value) or _UUID.match(value))


def ins_key_valid(matricule: str) -> bool:
    """INS (NIR/NIA) matricule of 15 characters whose key is 97 - (N mod 97), with the
    Corsican departments 2A -> 19 and 2B -> 18 (identity-fr 1.3)."""
    if not _INS_MATRICULE.match(matricule):
        return False
    base = matricule[:13].replace("2A", "19").replace("2B", "18")
    return int(matricule[13:]) == 97 - (int(base) % 97)


def ins_format_valid(matricule: str) -> bool:
    return bool(_INS_MATRICULE.match(matricule))


def has_null_flavor(element: etree._Element) -> bool:
    return bool(element.get("nullFlavor"))


def xsi_type(element: etree._Element) -> str:
    """Local name of the xsi:type of `element` (prefix dropped), or ''."""
    value = str(element.get("{http://www.w3.org/2001/XMLSchema-instance}type", ""))
    return value.split(":")[-1]
