"""A French phonetic key for family and first names, in the spirit of Soundex2 FR.

jellyfish's Soundex, NYSIIS and Metaphone encode English spelling: they keep the silent
endings French names are full of (RENAUD, RENAULT and RENAUT get different Soundex codes)
and read C and G the same before every vowel. This key folds the spellings a French
registration clerk hears as one name: hard/soft C and G, PH/F, QU/K, "EAU"/"AU"/"O",
silent H, silent final E, S, T, D, X and Z, doubled letters; then, as Soundex does, it
keeps the vowels of the first letter only. It is a blocking key: coarse on purpose.
"""
from __future__ import annotations

import re

_ONLY_LETTERS = re.compile(r"[^A-Z]")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"E?AU(?:LT|X)$", "O"),
        (r"CHR", "KR"),
        (r"S?CH|SH", "S"),
        (r"PH", "F"),
        (r"TH", "T"),
        (r"GH", "G"),
        (r"RH", "R"),
        (r"CK|QU|Q", "K"),
        (r"GU(?=[EIY])", "K"),
        (r"G(?=[EIY])", "J"),
        (r"G", "K"),
        (r"C(?=[EIY])", "S"),
        (r"C", "K"),
        (r"X$", ""),
        (r"X", "KS"),
        (r"W", "V"),
        (r"Z", "S"),
        (r"Y", "I"),
        (r"EAU|AU", "O"),
        (r"OU", "U"),
        (r"AI|EI", "E"),
        (r"H", ""),
        (r"M(?=[BP])", "N"),
        (r"BV", "V"),
    )
)
_SILENT_ENDING = re.compile(r"(?<=.)[ESTDXZ]+$")
_LATER_VOWELS = re.compile(r"(?<=.)[AEIOU]")
_DOUBLES = re.compile(r"(.)\1+")


def phonetic_fr(name: str) -> str:
    """French phonetic key of a folded (upper case, no diacritics) name; "" if empty.

    >>> phonetic_fr("RENAUD") == phonetic_fr("RENAULT") == phonetic_fr("RENAUT")
    True
    """
    key = _ONLY_LETTERS.sub("", name)
    for pattern, replacement in _RULES:
        key = pattern.sub(replacement, key)
    key = _SILENT_ENDING.sub("", key)
    key = _LATER_VOWELS.sub("", key)
    return _DOUBLES.sub(r"\1", key)
