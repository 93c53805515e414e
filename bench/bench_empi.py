"""EMPI matching quality and speed over synthetic French identities with known truth.

Generates a data set (`actors.empi.synthetic`), finds the candidate pairs by blocking,
decides each pair at the configured thresholds and prints precision and recall of the
automatic links and of the review queue, then pairs compared per second.

The weights and thresholds were tuned on seeds 1 to 8; the default seed here was not used
for tuning, so the figures are those of unseen data.

    python -m bench.bench_empi [--seed N] [--people N] [--link P] [--review P]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from actors.empi.matcher import Matcher, Thresholds
from actors.empi.quality import candidate_pairs, evaluate
from actors.empi.synthetic import generate

REPORT_SEED = 2027
TUNING_SEEDS = range(1, 9)
SPEED_SAMPLE_PAIRS = 10_000


def main(argv: list[str] | None = None) -> None:
    defaults = Thresholds()
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_empi", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=REPORT_SEED)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--link", type=float, default=defaults.link, help="auto-link threshold")
    parser.add_argument("--review", type=float, default=defaults.review, help="review threshold")
    args = parser.parse_args(argv)
    if args.seed in TUNING_SEEDS:
        print(f"note: seed {args.seed} was used for tuning; figures are optimistic")

    data = generate(args.seed, args.people)
    traits = [record.traits for record in data.records]
    truth = data.true_pairs()
    start = time.perf_counter()
    pairs = candidate_pairs(traits)
    blocking_seconds = time.perf_counter() - start
    matcher = Matcher(Thresholds(link=args.link, review=args.review))
    start = time.perf_counter()
    quality = evaluate(traits, truth, matcher, pairs)
    compare_seconds = time.perf_counter() - start

    print(
        f"seed {args.seed}: {len(data.people)} people, {len(traits)} records, "
        f"{quality.true_pairs} true pairs"
    )
    print(f"thresholds: link >= {args.link}, review >= {args.review}")
    print(f"blocking: {quality.candidate_pairs} candidate pairs, recall {quality.blocking_recall:.4f}")
    print(
        f"automatic links: {quality.links}, precision {quality.link_precision:.4f}, "
        f"recall {quality.link_recall:.4f}"
    )
    print(
        f"review queue: {quality.reviews} pairs, precision {quality.review_precision:.4f}; "
        f"recall of link + review {quality.link_or_review_recall:.4f}"
    )
    sample = sorted(pairs)[:SPEED_SAMPLE_PAIRS]
    start = time.perf_counter()
    for i, j in sample:
        # Fresh objects, as when the store rebuilds the candidates' traits from rows.
        matcher.compare(replace(traits[i]), replace(traits[j]))
    fresh_seconds = time.perf_counter() - start
    print(
        f"speed: {quality.candidate_pairs / compare_seconds:,.0f} pairs/s with each record "
        f"normalised once, {len(sample) / fresh_seconds:,.0f} pairs/s normalising both records "
        f"of every pair; blocking {len(traits) / blocking_seconds:,.0f} records/s"
    )


if __name__ == "__main__":
    main()
