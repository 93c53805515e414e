"""Synthetic French national identifiers for test data: the check keys of the NIR (and
so of the INS-NIR) and of RPPS and FINESS numbers, and numbers in ranges that cannot
name a real person or establishment (RPPS `999...`, FINESS department 99). The sample
builders of `conformance` (VIHF, HL7 v2, CDA) share them."""
from __future__ import annotations

import unicodedata


def luhn_key(digits: str) -> str:
    """The Luhn check digit of `digits` (the key of RPPS and FINESS numbers)."""
    if not digits.isdigit():
        raise ValueError(f"digits expected: {digits!r}")
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Whether the last digit of `number` is the Luhn key of the others."""
    return len(number) > 1 and number.isdigit() and luhn_key(number[:-1]) == number[-1]


def rpps(serial: str) -> str:
    """An 11-digit RPPS number in the invented `999...` range: `999` + 7-digit serial + Luhn key."""
    if len(serial) != 7 or not serial.isdigit():
        raise ValueError("a 7-digit serial expected")
    return "999" + serial + luhn_key("999" + serial)


def finess(serial: str, department: str = "99") -> str:
    """A 9-character FINESS number: department, 6-digit serial, Luhn key. Department `99`
    does not exist, so the number cannot name a real establishment."""
    if len(serial) != 6 or not serial.isdigit() or len(department) != 2 or not department.isdigit():
        raise ValueError("a 2-digit department and a 6-digit serial expected")
    return department + serial + luhn_key(department + serial)


def nir_key(base: str) -> str:
    """The 2-digit key of a 13-character NIR/NIA base: 97 - (base mod 97), the Corsican
    departments 2A and 2B read as 19 and 18."""
    if len(base) != 13:
        raise ValueError(f"a NIR base has 13 characters: {base!r}")
    digits = base[:5] + {"2A": "19", "2B": "18"}.get(base[5:7], base[5:7]) + base[7:]
    if not digits.isdigit():
        raise ValueError(f"not a NIR base: {base!r}")
    return f"{97 - int(digits) % 97:02d}"


def nir(sex: str, birth: str, birthplace: str, order: str) -> str:
    """A 15-character NIR: sex (M/F -> 1/2), year and month of birth (`birth` is
    `YYYYMM` or `YYYYMMDD`), INSEE code of the birthplace (5 characters), 3-digit order
    number, key."""
    if sex not in ("M", "F") or len(birth) not in (6, 8) or len(birthplace) != 5 or len(order) != 3:
        raise ValueError("sex M/F, birth YYYYMM[DD], 5-character INSEE code and 3-digit order expected")
    base = ("1" if sex == "M" else "2") + birth[2:6] + birthplace + order
    return base + nir_key(base)


def ins_form(text: str) -> str:
    """A trait as the INSi teleservice returns it: upper case, no diacritics."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
