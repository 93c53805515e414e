"""EMPI scoring: Fellegi-Sunter weights over the comparison levels, and the decision.

Each trait's agreement level (see `actors.empi.compare`) carries a weight in bits,
log2(m/u): m is how often the level occurs between two records of one person, u between
records of two people. The weights add up; with the prior odds of a match between two
blocked records they give the score, the posterior probability that the two records are
one person. Two thresholds turn the score into a decision: link automatically, put the
pair into the identity-review queue, or create a new patient.

Two rules of identity vigilance come before the sum:

- equal INS matricules are one person (link); two valid matricules of the same type
  that differ are two people (new), whatever the other traits say;
- a pair is never linked automatically when its birth date, first names or sex
  disagree, or (unless both may be women, see "disagree_woman") its family names agree
  on no form: twins share everything else, and homonyms share the names. Such a pair
  goes at most to review. Callers therefore act on `MatchResult.decision`, never on the
  score alone: a pair held back by these rules may score above the link threshold.

Traits are not independent where twins are concerned: two records with the same birth
name and birth date whose first names plainly differ are, far more often than the sum of
weights says, twins (or namesakes born the same day). The "twins" term adds a weight
for that combination, enough to leave such pairs out of the review queue.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from actors.empi.compare import LEVELS, RULES
from actors.empi.traits import Traits

Decision = Literal["link", "review", "new"]
K = TypeVar("K")

DEFAULT_LEVEL_WEIGHTS: Final[Mapping[str, Mapping[str, float]]] = {
    "ins": {"equal": 0.0, "different": 0.0, "missing": 0.0},
    "birth_name": {
        "exact": 9.0, "particle": 8.0, "typo": 6.5, "compound": 6.0, "used_name": 6.0,
        "disagree_woman": -4.0, "disagree": -7.0, "missing": 0.0,
    },
    "used_name": {"exact": 1.5, "typo": 1.0, "disagree": -0.5, "missing": 0.0},
    "given_names": {
        "exact": 7.0, "swapped": 5.5, "compound": 3.5, "usual_name": 3.0, "typo": 4.5,
        "disagree": -9.0, "missing": 0.0,
    },
    "birth_date": {
        "exact": 13.0, "partial": 6.0, "transposed": 7.0, "digit": 3.5, "year": 4.5,
        "disagree": -11.0, "missing": 0.0,
    },
    "sex": {"equal": 0.9, "different": -6.0, "missing": 0.0},
    "birthplace": {"equal": 5.0, "department": -3.5, "different": -4.5, "missing": 0.0},
    "postal_code": {"equal": 3.5, "department": -1.0, "different": -1.5, "missing": 0.0},
}
"""log2(m/u) of each level (bits). The INS is decided by rule, not weighted.

Set from rough frequencies in a French regional population (u: one commune of birth in
~50, one birth date in ~30,000, a one-digit date slip between strangers of the same
year far from rare), then adjusted, with the thresholds, on synthetic seeds 1 to 8 of
`actors.empi.synthetic`; `bench/bench_empi.py` measures them on other seeds."""

# Levels under which a pair cannot be linked automatically.
VETO_LEVELS: Final[Mapping[str, frozenset[str]]] = {
    "birth_name": frozenset({"disagree"}),
    "given_names": frozenset({"disagree"}),
    "birth_date": frozenset({"disagree"}),
    "sex": frozenset({"different"}),
}


# Family-name levels that, with an equal birth date and different first names, suggest twins.
TWIN_NAME_LEVELS: Final = frozenset({"exact", "particle", "typo", "compound", "used_name"})


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds: at or above `link` link automatically; at or above `review`
    queue for identity review; below, create a new patient."""

    link: float = 0.97
    review: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.link <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= review <= link <= 1")


@dataclass(frozen=True)
class Weights:
    """Level weights (bits) and the prior log2-odds that two blocked records match."""

    levels: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: DEFAULT_LEVEL_WEIGHTS
    )
    prior_bits: float = -12.0
    twins_bits: float = -20.0
    """Added when birth name and birth date agree but the first names disagree."""

    def __post_init__(self) -> None:
        for trait, levels in LEVELS.items():
            missing = set(levels) - set(self.levels.get(trait, {}))
            if missing:
                raise ValueError(f"no weight for {trait} levels {sorted(missing)}")


@dataclass(frozen=True)
class TraitComparison:
    """How one trait compared: its level and the weight (bits) it added."""

    trait: str
    level: str
    weight: float


@dataclass(frozen=True)
class MatchResult:
    """Outcome of comparing two records.

    `score` is the probability that both are one person (0 to 1); `bits` the summed
    weights; `explanation` one entry per trait, in `actors.empi.compare.RULES` order,
    then the "twins" term (level "suspected" or "no");
    `reason` says which rule decided when it was not the score alone.
    """

    score: float
    decision: Decision
    bits: float
    explanation: tuple[TraitComparison, ...]
    reason: str = "score"

    def level(self, trait: str) -> str:
        """The agreement level of one trait."""
        for comparison in self.explanation:
            if comparison.trait == trait:
                return comparison.level
        raise KeyError(trait)


class Matcher:
    """Scores a pair of identity records and decides link / review / new.

    Sans-IO: the caller finds the candidates (patients sharing a blocking key, see
    `actors.empi.blocking`) and stores the decision.
    """

    def __init__(self, thresholds: Thresholds | None = None, weights: Weights | None = None):
        self.thresholds = thresholds or Thresholds()
        self.weights = weights or Weights()

    def compare(self, a: Traits, b: Traits) -> MatchResult:
        """Compare two records trait by trait and decide."""
        levels = self.weights.levels
        compared = {trait: rule(a, b) for trait, rule in RULES.items()}
        twins = (
            compared["given_names"] == "disagree"
            and compared["birth_date"] == "exact"
            and compared["birth_name"] in TWIN_NAME_LEVELS
        )
        explanation = tuple(
            TraitComparison(trait, level, levels[trait][level]) for trait, level in compared.items()
        ) + (
            TraitComparison("twins", "suspected", self.weights.twins_bits)
            if twins
            else TraitComparison("twins", "no", 0.0),
        )
        bits = sum(c.weight for c in explanation)
        ins = explanation[0].level
        if ins == "equal":
            return MatchResult(1.0, "link", bits, explanation, "equal INS")
        if ins == "different":
            return MatchResult(0.0, "new", bits, explanation, "different INS")
        score = _logistic2(bits + self.weights.prior_bits)
        vetoes = [c.trait for c in explanation if c.level in VETO_LEVELS.get(c.trait, ())]
        decision: Decision
        if score >= self.thresholds.link and not vetoes:
            decision = "link"
        elif score >= self.thresholds.review:
            decision = "review"
        else:
            decision = "new"
        reason = "score"
        if vetoes and score >= self.thresholds.link:
            reason = "disagreement on " + ", ".join(vetoes)
        return MatchResult(score, decision, bits, explanation, reason)

    def rank(
        self, incoming: Traits, candidates: Iterable[tuple[K, Traits]]
    ) -> list[tuple[K, MatchResult]]:
        """Compare `incoming` with each candidate; links first, then reviews, then the
        rest, each by decreasing score (ties keep the candidates' order)."""
        results = [(key, self.compare(incoming, traits)) for key, traits in candidates]
        results.sort(key=lambda item: (_DECISION_RANK[item[1].decision], -item[1].score))
        return results


_DECISION_RANK: Final[Mapping[Decision, int]] = {"link": 0, "review": 1, "new": 2}


def _logistic2(bits: float) -> float:
    """1 / (1 + 2^-bits), without overflow."""
    if bits >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -bits))
    z = math.pow(2.0, bits)
    return z / (1.0 + z)
