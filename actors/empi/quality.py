"""Match quality over a data set with known truth: precision and recall of decisions.

Candidate pairs are those the blocking yields (records sharing a key), as the store
would find them; the recall is measured against every true pair, so a true pair the
blocking misses counts as missed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from actors.empi.blocking import blocking_keys
from actors.empi.matcher import Decision, Matcher
from actors.empi.traits import Traits


def candidate_pairs(traits: Sequence[Traits]) -> set[tuple[int, int]]:
    """Index pairs (i < j) of records sharing at least one blocking key."""
    index: dict[str, list[int]] = {}
    for position, record in enumerate(traits):
        for key in blocking_keys(record):
            index.setdefault(key, []).append(position)
    pairs: set[tuple[int, int]] = set()
    for positions in index.values():
        pairs.update(combinations(positions, 2))
    return pairs


@dataclass(frozen=True)
class Quality:
    """Counts of pairs by truth and decision, and the rates derived from them."""

    true_pairs: int
    candidate_pairs: int
    blocked_true_pairs: int
    links: int
    true_links: int
    reviews: int
    true_reviews: int

    @staticmethod
    def _ratio(numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else 1.0

    @property
    def blocking_recall(self) -> float:
        """Share of true pairs found among the candidates."""
        return self._ratio(self.blocked_true_pairs, self.true_pairs)

    @property
    def link_precision(self) -> float:
        """Share of automatic links that are true."""
        return self._ratio(self.true_links, self.links)

    @property
    def link_recall(self) -> float:
        """Share of true pairs linked automatically."""
        return self._ratio(self.true_links, self.true_pairs)

    @property
    def review_precision(self) -> float:
        """Share of pairs sent to review that are true."""
        return self._ratio(self.true_reviews, self.reviews)

    @property
    def link_or_review_recall(self) -> float:
        """Share of true pairs either linked or sent to review."""
        return self._ratio(self.true_links + self.true_reviews, self.true_pairs)


def evaluate(
    traits: Sequence[Traits],
    truth: frozenset[tuple[int, int]],
    matcher: Matcher,
    pairs: set[tuple[int, int]] | None = None,
) -> Quality:
    """Decide every candidate pair of `traits` and count against `truth` (index pairs
    i < j that are one person). `pairs` defaults to `candidate_pairs(traits)`."""
    if pairs is None:
        pairs = candidate_pairs(traits)
    counts: dict[tuple[Decision, bool], int] = {}
    for i, j in pairs:
        decision = matcher.compare(traits[i], traits[j]).decision
        key = (decision, (i, j) in truth)
        counts[key] = counts.get(key, 0) + 1
    return Quality(
        true_pairs=len(truth),
        candidate_pairs=len(pairs),
        blocked_true_pairs=len(truth & pairs),
        links=counts.get(("link", True), 0) + counts.get(("link", False), 0),
        true_links=counts.get(("link", True), 0),
        reviews=counts.get(("review", True), 0) + counts.get(("review", False), 0),
        true_reviews=counts.get(("review", True), 0),
    )
