"""INS (Identifiant National de Santé): matricule format and control key, INS OIDs.

The matricule is a NIR or a temporary NIA: 13 characters and a 2-digit key, the key being
`97 - (N mod 97)` where N is the 13-character base read as an integer, with the Corsican
departments `2A` and `2B` read as `19` and `18` (spec/identity-fr.md §1.3).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Assigning authorities (spec/identity-fr.md §1.2).
OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = frozenset({OID_INS_NIR, OID_INS_NIA, OID_INS_NIR_TEST, OID_INS_NIR_DEMO})
NAMESPACES = {
    OID_INS_NIR: "ASIP-SANTE-INS-NIR",
    OID_INS_NIA: "ASIP-SANTE-INS-NIA",
    OID_INS_NIR_TEST: "ASIP-SANTE-INS-NIR",
    OID_INS_NIR_DEMO: "ASIP-SANTE-INS-NIR",
}
# CX-5 identifier type of an INS (IHE France table 0203), and of the billing NIR that
# shares the INS-NIR OID but is no identity (PID-3 of the beneficiary).
TYPE_INS = "INS"
TYPE_BILLING_NIR = "NH"

_FORMAT = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")


class InsError(ValueError):
    """A value claimed as an INS matricule that is not one; `reason` says why."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"INS {value!r}: {reason}")
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class Matricule:
    """A checked INS matricule (NIR or NIA): the 13-character base and its key."""

    base: str
    key: str

    @property
    def value(self) -> str:
        return self.base + self.key


def control_key(base: str) -> str:
    """The 2-digit key of a 13-character NIR/NIA base (Corsica: 2A -> 19, 2B -> 18)."""
    if len(base) != 13:
        raise InsError(base, "the base of a matricule has 13 characters")
    digits = base[:5] + base[5:7].replace("2A", "19").replace("2B", "18") + base[7:]
    if not digits.isdigit() or not digits.isascii():
        raise InsError(base, "the base of a matricule has digits only (2A/2B allowed as department)")
    return f"{97 - int(digits) % 97:02d}"


def check(value: str) -> Matricule:
    """Check format and key of a 15-character INS matricule; raises `InsError`."""
    if not _FORMAT.match(value):
        raise InsError(value, "not 15 characters of the form 13-character base + 2-digit key")
    base, key = value[:13], value[13:]
    expected = control_key(base)
    if key != expected:
        raise InsError(value, f"control key {key} does not match the base (expected {expected})")
    return Matricule(base, key)


def is_valid(value: str) -> bool:
    try:
        check(value)
    except InsError:
        return False
    return True


def is_ins_authority(universal_id: str) -> bool:
    return universal_id in INS_OIDS


def claims_ins(universal_id: str, namespace: str, type_code: str) -> bool:
    """Whether a CX is presented as an INS: an INS OID (other than the billing NIR typed
    `NH`), an `ASIP-SANTE-INS-*` namespace, or the identifier type `INS`."""
    if type_code == TYPE_BILLING_NIR:
        return False
    return (
        universal_id in INS_OIDS
        or namespace.upper().startswith("ASIP-SANTE-INS-N")
        or type_code.upper() == TYPE_INS
    )
