"""Blocking keys: the few strings under which a record is filed for candidate search.

Store these strings in an indexed column (one row per patient and key); the candidates
of an incoming record are the patients sharing at least one of its keys. The keys are
built so that a single error in one trait leaves at least one key intact:

- `N:<phonetic family name>:<birth year>` for the birth name and for the used name (a
  married name registered as birth name still meets the other record's used name);
- `G:<phonetic family name>:<phonetic first name>` for the birth and used names and
  each first name (a wrong or missing birth date, even with the first names in another
  order);
- `D:<YYYYMMDD>` the complete birth date (a mistyped or changed family name);
- `I:<INS type>:<matricule>` the INS, when its key is valid.

A key is short ASCII text (under 40 characters).
"""
from __future__ import annotations

from actors.empi.phonetic import phonetic_fr
from actors.empi.traits import Traits


def blocking_keys(traits: Traits) -> frozenset[str]:
    """The blocking keys of one record (empty only when it has no usable trait)."""
    keys: set[str] = set()
    names = {n.phonetic for n in (traits.birth_name_n, traits.used_name_n) if n and n.phonetic}
    date = traits.birth_date_n
    given = traits.given_names_n
    firsts = {phonetic_fr(words[0]) for words in given.words} - {""} if given else set()
    for name in names:
        if date is not None:
            keys.add(f"N:{name}:{date.year:04d}")
        keys.update(f"G:{name}:{first}" for first in firsts)
    if date is not None and date.complete:
        keys.add(f"D:{date.digits()}")
    if traits.ins_n:
        keys.add(f"I:{traits.ins_type}:{traits.ins_n}")
    return frozenset(keys)
