"""Identity traits compared by the EMPI, and their normalisation for French names.

The traits are those of the French identity referential (RNIV, INS): birth name
(*nom de naissance*), used name (*nom utilisé*, often a married name), the ordered list
of birth first names, birth date, sex, birthplace (INSEE COG code) and the INS matricule.
Matching works on normalised forms: upper case, no diacritics, ligatures expanded,
separators (hyphen, apostrophe, space, dot) removed, "ST"/"STE" read as "SAINT"/"SAINTE",
and, as a second form, the name without its leading particles ("DE LA FONTAINE" also
reads "FONTAINE").
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Literal

from actors.empi.phonetic import phonetic_fr

Sex = Literal["M", "F", "U"]
InsType = Literal["NIR", "NIA"]

# Particles that may lead a French (or Romance/Dutch) family name and that registration
# clerks keep, drop or glue to the name: "DE LA FONTAINE", "DELAFONTAINE", "FONTAINE".
PARTICLES = frozenset(
    {"D", "DA", "DE", "DEL", "DELA", "DES", "DI", "DO", "DOS", "DU", "L", "LA", "LE", "LES",
     "VAN", "VANDER", "VON"}
)
_SAINTS = {"ST": "SAINT", "STE": "SAINTE"}
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})
_SEPARATORS = re.compile(r"[^A-Z]+")
_INS_FORMAT = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")


def fold(text: str) -> str:
    """Upper-case `text`, drop its diacritics and expand ligatures (Œ, Æ, ß)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def name_tokens(text: str | None) -> tuple[str, ...]:
    """Words of a name, folded, split on any separator, with "ST"/"STE" spelled out."""
    if not text:
        return ()
    return tuple(_SAINTS.get(t, t) for t in _SEPARATORS.split(fold(text)) if t)


@dataclass(frozen=True)
class PartialDate:
    """A birth date of which the day, or the day and month, may be unknown.

    HL7 v2 allows `1960` and `196005`; French registries also know "lunar" dates whose
    day is unknown. A complete date is better given as a `datetime.date`.
    """

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def of(cls, value: date | PartialDate) -> PartialDate:
        """The partial form of a complete or partial date."""
        if isinstance(value, PartialDate):
            return value
        return cls(value.year, value.month, value.day)

    @property
    def complete(self) -> bool:
        """Whether year, month and day are all known."""
        return self.month is not None and self.day is not None

    def digits(self) -> str:
        """`YYYYMMDD` with unknown parts as zeros."""
        return f"{self.year:04d}{self.month or 0:02d}{self.day or 0:02d}"


@dataclass(frozen=True)
class NormalisedName:
    """One family name in the forms the comparison uses."""

    full: str
    """All words glued: "DE LA FONTAINE" and "DELAFONTAINE" both read "DELAFONTAINE"."""
    core: str
    """Without leading particles: "FONTAINE" (the full form when only particles remain)."""
    tokens: frozenset[str]
    """Words without particles, for compound names: {"DUPONT", "MARTIN"}."""
    phonetic: str
    """French phonetic key of the core form."""

    @classmethod
    def of(cls, text: str | None) -> NormalisedName | None:
        """Normalise a family name; None when nothing is left of it."""
        words = name_tokens(text)
        if not words:
            return None
        start = 0
        while start < len(words) - 1 and words[start] in PARTICLES:
            start += 1
        core_words = words[start:]
        core = "".join(core_words)
        return cls(
            full="".join(words),
            core=core,
            tokens=frozenset(w for w in core_words if w not in PARTICLES),
            phonetic=phonetic_fr(core),
        )


@dataclass(frozen=True)
class NormalisedGivenNames:
    """The birth first names, in order, in the forms the comparison uses."""

    names: tuple[str, ...]
    """Each first name glued ("JEAN-PIERRE" reads "JEANPIERRE"), first name first."""
    words: tuple[tuple[str, ...], ...]
    """The words of each first name: (("JEAN", "PIERRE"), ("MARIE",))."""

    @property
    def first(self) -> str:
        """The first birth first name (*premier prénom de naissance*)."""
        return self.names[0]

    @classmethod
    def of(cls, given_names: tuple[str, ...]) -> NormalisedGivenNames | None:
        """Normalise a list of first names.

        An element holding spaces is read as several first names (HL7 XPN-3 lists them
        space-separated); a hyphen keeps a compound first name whole, as the civil
        registry writes it.
        """
        words: list[tuple[str, ...]] = []
        for element in given_names:
            for part in fold(element).split():
                tokens = tuple(t for t in _SEPARATORS.split(part) if t)
                if tokens:
                    words.append(tokens)
        if not words:
            return None
        return cls(names=tuple("".join(w) for w in words), words=tuple(words))


def ins_key_valid(ins: str) -> bool:
    """Whether a 15-character INS matricule (NIR or NIA) has a correct control key.

    Key = 97 − (N mod 97) on the 13-character base, Corsican "2A"/"2B" read as 19/18.
    """
    if not _INS_FORMAT.match(ins):
        return False
    base = ins[:13].replace("2A", "19").replace("2B", "18")
    return 97 - int(base) % 97 == int(ins[13:])


@dataclass(frozen=True)
class Traits:
    """The identity traits of one patient record, as received from one domain.

    Strings may come as sent (accents, hyphens, lower case): they are normalised once,
    on first comparison. `given_names` is the ordered list of birth first names, first
    name first. `ins` is the 15-character INS matricule (with its key) when the record
    carries one; a matricule whose key is wrong is ignored by the matching.
    """

    birth_name: str | None = None
    given_names: tuple[str, ...] = ()
    birth_date: date | PartialDate | None = None
    sex: Sex = "U"
    used_name: str | None = None
    birthplace: str | None = None
    ins: str | None = None
    ins_type: InsType = "NIR"
    postal_code: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.given_names, (list, str)):
            names = (self.given_names,) if isinstance(self.given_names, str) else self.given_names
            object.__setattr__(self, "given_names", tuple(names))
        if self.sex not in ("M", "F", "U"):
            raise ValueError(f"sex must be M, F or U, not {self.sex!r}")

    @cached_property
    def birth_name_n(self) -> NormalisedName | None:
        """Normalised birth name."""
        return NormalisedName.of(self.birth_name)

    @cached_property
    def used_name_n(self) -> NormalisedName | None:
        """Normalised used name."""
        return NormalisedName.of(self.used_name)

    @cached_property
    def given_names_n(self) -> NormalisedGivenNames | None:
        """Normalised first names."""
        return NormalisedGivenNames.of(self.given_names)

    @cached_property
    def birth_date_n(self) -> PartialDate | None:
        """Birth date as a `PartialDate`."""
        return None if self.birth_date is None else PartialDate.of(self.birth_date)

    @cached_property
    def birthplace_n(self) -> str | None:
        """INSEE code of the birthplace, upper case (Corsican "2A"/"2B"), or None."""
        code = (self.birthplace or "").strip().upper()
        return code if len(code) == 5 else None

    @cached_property
    def postal_code_n(self) -> str | None:
        """Postal code, or None."""
        code = (self.postal_code or "").strip()
        return code or None

    @cached_property
    def ins_n(self) -> str | None:
        """The INS matricule when its format and key are valid, else None."""
        ins = (self.ins or "").strip().upper()
        return ins if ins and ins_key_valid(ins) else None
