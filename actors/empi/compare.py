"""Comparison rules: for each identity trait, the agreement level of two records.

Each function reads two `Traits` and names how far they agree ("exact", "typo",
"transposed", ...). Levels carry no weight here: `actors.empi.matcher` turns them into
log-likelihood weights, so that the rules and the calibration can be read and tested
apart. `LEVELS` lists every level of every trait.
"""
from __future__ import annotations

from typing import Final

from rapidfuzz.distance import OSA, JaroWinkler

from actors.empi.traits import (
    PARTICLES,
    NormalisedGivenNames,
    NormalisedName,
    PartialDate,
    Traits,
)

LEVELS: Final[dict[str, tuple[str, ...]]] = {
    "ins": ("equal", "different", "missing"),
    "birth_name": (
        "exact", "particle", "typo", "compound", "used_name", "disagree_woman", "disagree",
        "missing",
    ),
    "used_name": ("exact", "typo", "disagree", "missing"),
    "given_names": ("exact", "swapped", "compound", "usual_name", "typo", "disagree", "missing"),
    "birth_date": ("exact", "partial", "transposed", "digit", "year", "disagree", "missing"),
    "sex": ("equal", "different", "missing"),
    "birthplace": ("equal", "department", "different", "missing"),
    "postal_code": ("equal", "department", "different", "missing"),
}


def typo_close(a: str, b: str) -> bool:
    """Whether two folded names differ by what a typing slip makes.

    Two neighbouring letters swapped, always; otherwise one edit (substitution,
    insertion, deletion) when one of the names has four letters or more, two when both
    have eight or more.
    """
    allowed = 2 if min(len(a), len(b)) >= 8 else 1 if max(len(a), len(b)) >= 4 else 0
    distance = OSA.distance(a, b, score_cutoff=max(allowed, 1))
    return distance <= allowed or (distance == 1 and sorted(a) == sorted(b))


def _names_level(a: NormalisedName, b: NormalisedName) -> str:
    """Family names: same spelling; same without particles (or with them glued); a typing
    slip, or the same French sound with close spelling; one compound name holding the
    other's words."""
    if a.full == b.full:
        return "exact"
    if a.core == b.core:
        return "particle"
    if _glued_particles(a.full, b.core) or _glued_particles(b.full, a.core):
        return "compound"
    if typo_close(a.full, b.full) or typo_close(a.core, b.core):
        return "typo"
    if a.phonetic == b.phonetic and JaroWinkler.similarity(a.core, b.core) >= 0.88:
        return "typo"
    if a.tokens and b.tokens and (a.tokens <= b.tokens or b.tokens <= a.tokens):
        return "compound"
    return "disagree"


def _glued_particles(full: str, core: str) -> bool:
    """DELAFONTAINE against FONTAINE: particles glued to the name in one record."""
    return full != core and full.endswith(core) and _only_particles(full[: -len(core)])


def _only_particles(text: str) -> bool:
    return not text or any(
        text.startswith(p) and _only_particles(text[len(p):]) for p in PARTICLES
    )


def compare_ins(a: Traits, b: Traits) -> str:
    """INS: equal matricules identify one person; two valid matricules of the same type
    (NIR or NIA) that differ identify two. A NIA and a NIR say nothing: a person's NIA
    is replaced by a NIR."""
    if a.ins_n is None or b.ins_n is None or a.ins_type != b.ins_type:
        return "equal" if a.ins_n is not None and a.ins_n == b.ins_n else "missing"
    return "equal" if a.ins_n == b.ins_n else "different"


def compare_birth_name(a: Traits, b: Traits) -> str:
    """Birth name against birth name; failing that, against the other record's used name.

    A married woman is often registered under her married name as if it were her birth
    name: agreement of a birth name with the other's used name (or of the two used names
    when the birth names differ) is the "used_name" level; for the same reason, differing
    birth names of two women ("disagree_woman") are weaker evidence than of two men.
    """
    if a.birth_name_n is None or b.birth_name_n is None:
        return "missing"
    level = _names_level(a.birth_name_n, b.birth_name_n)
    if level != "disagree":
        return level
    crossings = (
        (a.birth_name_n, b.used_name_n),
        (a.used_name_n, b.birth_name_n),
        (a.used_name_n, b.used_name_n),
    )
    for x, y in crossings:
        if x is not None and y is not None and _names_level(x, y) in ("exact", "particle", "typo"):
            return "used_name"
    return "disagree_woman" if "F" in (a.sex, b.sex) and "M" not in (a.sex, b.sex) else "disagree"


def compare_used_name(a: Traits, b: Traits) -> str:
    """Used names, when both records carry one."""
    if a.used_name_n is None or b.used_name_n is None:
        return "missing"
    level = _names_level(a.used_name_n, b.used_name_n)
    if level in ("exact", "particle"):
        return "exact"
    return "typo" if level == "typo" else "disagree"


def _hyphen_lost(split: NormalisedGivenNames, whole: NormalisedGivenNames) -> bool:
    """JEAN-PIERRE written JEAN PIERRE, read as two first names."""
    return len(split.names) >= 2 and split.names[0] + split.names[1] == whole.first


def _is_cut_compound(short: NormalisedGivenNames, long: NormalisedGivenNames) -> bool:
    """JEAN-PIERRE cut to JEAN.

    Accepted only when the names after the cut one are also the long record's: JEAN
    LUC is not JEAN-FRANCOIS cut, and MARIE FRANCE is not MARIE-LAURE.
    """
    compound = long.words[0]
    if len(compound) < 2 or len(short.words[0]) != 1 or short.first != compound[0]:
        return False
    return all(name in long.names[1:] for name in short.names[1:])


def compare_given_names(a: Traits, b: Traits) -> str:
    """First names: same first one (a compound one with or without its hyphen); a
    compound first name cut to its first word; the first two
    in the other order ("swapped"); one record's first name among the other's later ones,
    a usual first name registered alone ("usual_name", weaker: MARIE is the second first
    name of many women); a typing slip in the first one. The last two also accept a
    typing slip in the name found among the later ones."""
    x, y = a.given_names_n, b.given_names_n
    if x is None or y is None:
        return "missing"
    if x.first == y.first or _hyphen_lost(x, y) or _hyphen_lost(y, x):
        return "exact"
    if _is_cut_compound(x, y) or _is_cut_compound(y, x):
        return "compound"
    if x.first in y.names and y.first in x.names:
        return "swapped"
    if _first_among_later(x, y) or _first_among_later(y, x):
        return "usual_name"
    if typo_close(x.first, y.first):
        return "typo"
    return "disagree"


def _first_among_later(x: NormalisedGivenNames, y: NormalisedGivenNames) -> bool:
    """x's first name (or its first two glued, a compound whose hyphen was lost) is,
    within a typing slip, one of y's later first names."""
    firsts = {x.first, x.names[0] + x.names[1]} if len(x.names) >= 2 else {x.first}
    return any(f == n or typo_close(f, n) for f in firsts for n in y.names[1:])


def _single_slip(a: str, b: str) -> bool:
    """One digit changed, or two neighbouring digits swapped."""
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return False
    i, j = diff
    return a[i] == b[j] and a[j] == b[i]


def compare_birth_date(a: Traits, b: Traits) -> str:
    """Birth dates: equal; equal on the parts both know; day and month transposed; one
    digit slip in day or month; one digit slip in the year with day and month equal."""
    x, y = a.birth_date_n, b.birth_date_n
    if x is None or y is None:
        return "missing"
    if x == y and x.complete:
        return "exact"
    if not (x.complete and y.complete):
        return "partial" if _partial_agree(x, y) else "disagree"
    if x.year == y.year and x.day == y.month and x.month == y.day:
        return "transposed"
    dx, dy = x.digits(), y.digits()
    if _single_slip(dx, dy):
        return "year" if dx[4:] == dy[4:] else "digit"
    return "disagree"


def _partial_agree(x: PartialDate, y: PartialDate) -> bool:
    return x.year == y.year and (x.month is None or y.month is None or x.month == y.month) and (
        x.day is None or y.day is None or x.day == y.day
    )


def compare_sex(a: Traits, b: Traits) -> str:
    """Sex, when both records know it (U is unknown)."""
    if a.sex == "U" or b.sex == "U":
        return "missing"
    return "equal" if a.sex == b.sex else "different"


def _code_level(x: str | None, y: str | None) -> str:
    if x is None or y is None:
        return "missing"
    if x == y:
        return "equal"
    return "department" if x[:2] == y[:2] else "different"


def compare_birthplace(a: Traits, b: Traits) -> str:
    """INSEE code of the birthplace: same commune, same department (or same foreign
    country group, 99xxx), different."""
    return _code_level(a.birthplace_n, b.birthplace_n)


def compare_postal_code(a: Traits, b: Traits) -> str:
    """Postal code of the address: weak evidence, people move."""
    return _code_level(a.postal_code_n, b.postal_code_n)


RULES: Final = {
    "ins": compare_ins,
    "birth_name": compare_birth_name,
    "used_name": compare_used_name,
    "given_names": compare_given_names,
    "birth_date": compare_birth_date,
    "sex": compare_sex,
    "birthplace": compare_birthplace,
    "postal_code": compare_postal_code,
}
"""The comparison rule of each trait, in the order explanations list them."""
