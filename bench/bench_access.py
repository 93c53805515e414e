"""Cost of the access decision per document entry (issue #12: under 50 µs per entry).

One enrolled patient with a realistic coordination state (a circle of 5 with its
treating physician, 3 mandates of which one break-the-glass, 1 withdrawn opposition) and
100,000 DocumentEntries (N / R / V, some masked, several authors and classes). Prints
median and p99 in microseconds per entry, beside the 50 µs floor, for:

- `filter_entries` over ITI-18 answers of 100 entries (the per-patient work done once
  per answer), for a circle member and for a break-the-glass requester (the last grant
  tried);
- the same with each entry's `DocumentFacts` built inside the clock (what the registry
  pays when it reads the facts of its rows);
- `decide` called alone for each entry (no reuse of the per-patient work).

The 100,000 entries are built before the clock starts and frozen out of the garbage
collector (`gc.freeze`): a hub process does not hold them, and otherwise the full
collections they cause, not the decision, would make the p99. Times are the CPU time of
this thread (`time.thread_time`), so that other processes sharing the machine do not make
the p99 either.

Run as `python -m bench.bench_access`.
"""
from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from actors.coordination.decision import (
    Action,
    Category,
    DocumentFacts,
    Requester,
    Settings,
    decide,
    filter_entries,
)
from actors.coordination.state import CircleMember, Enrolment, Mandate, Opposition, PatientState
from vihf import names
from vihf.principal import PatientId

ENTRIES = 100_000
PER_ANSWER = 100
FLOOR_US = 50.0
WARM_UP = 20

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
CABINET, HOSPITAL = "1990000018", "1990000026"
CLASSES = [f"{code}^^1.2.250.1.213.1.1.4.1" for code in ("10", "11", "12", "13", "14")]
HL7 = "2.16.840.1.113883.5.25"
TRE_A07 = "1.2.250.1.213.1.1.4.13"

Raw = tuple[frozenset[str], frozenset[str], frozenset[tuple[str, str]], str]
T = TypeVar("T")


def _state() -> PatientState:
    professionals = [f"89990000{n:04d}" for n in range(10)]
    circle = tuple(
        CircleMember(pid, None if n == 0 else CABINET, "PCP" if n == 0 else "PROV", NOW - 100 * DAY)
        for n, pid in enumerate(professionals[:5])
    )
    mandates = (
        Mandate(professionals[5], None, "care-team", frozenset({"N", "R"}), frozenset(), NOW - DAY, NOW + 29 * DAY),
        Mandate(professionals[6], CABINET, "patient-code", frozenset({"N", "R"}), frozenset(CLASSES[:2]), NOW - DAY, NOW + DAY),
        Mandate(professionals[7], HOSPITAL, "break-the-glass", frozenset({"N", "R"}), frozenset(),
                NOW - timedelta(hours=1), NOW + timedelta(hours=3), "emergency"),
    )
    return PatientState(
        patient=PatientId("295047505601234", names.INS_NIR),
        enrolments=(Enrolment("PAERPA", "active", NOW - 365 * DAY),),
        circle=circle,
        mandates=mandates,
        oppositions=(Opposition("consultation", None, NOW - 60 * DAY, NOW - 30 * DAY),),
    )


def _raw_entries(rng: random.Random) -> list[Raw]:
    entries: list[Raw] = []
    for _ in range(ENTRIES):
        codes = {(rng.choices(["N", "R", "V"], [80, 15, 5])[0], HL7)}
        if rng.random() < 0.05:
            codes.add(("MASQUE_PS", TRE_A07))
        if rng.random() < 0.03:
            codes.add(("INVISIBLE_PATIENT", TRE_A07))
        author = frozenset({f"89990000{rng.randrange(20):04d}"})
        entries.append((author, frozenset({HOSPITAL}), frozenset(codes), rng.choice(CLASSES)))
    return entries


def _facts(raw: Raw) -> DocumentFacts:
    return DocumentFacts(raw[0], raw[1], raw[2], raw[3], "11488-4^^2.16.840.1.113883.6.1")


def _report(name: str, per_entry: list[float], entries: int) -> None:
    ordered = sorted(per_entry)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered)
    verdict = "ok" if p99 * 1e6 < FLOOR_US else "OVER"
    print(
        f"{name:<52} median {median * 1e6:7.2f} µs   p99 {p99 * 1e6:7.2f} µs   per entry"
        f"   floor {FLOOR_US:.0f} µs {verdict}   ({entries} entries)",
        flush=True,
    )


def _per_answer(step: Callable[[list[T]], object], answers: list[list[T]]) -> list[float]:
    for answer in answers[:WARM_UP]:
        step(answer)
    samples = []
    for answer in answers:
        started = time.thread_time()
        step(answer)
        samples.append((time.thread_time() - started) / len(answer))
    return samples


def main() -> None:
    rng = random.Random(12)
    state = _state()
    settings = Settings(matrix={("60", CLASSES[4]): False}, coordinator_structures=frozenset({"1990000034"}))
    raw = _raw_entries(rng)
    facts = [_facts(entry) for entry in raw]
    answers = [facts[i:i + PER_ANSWER] for i in range(0, ENTRIES, PER_ANSWER)]
    raw_answers = [raw[i:i + PER_ANSWER] for i in range(0, ENTRIES, PER_ANSWER)]
    gc.collect()
    gc.freeze()
    member = Requester("899900000003", Category.PROFESSIONAL, "10", "SM26", CABINET)
    glass = Requester("899900000007", Category.PROFESSIONAL, "60", None, HOSPITAL, names.BRIS_DE_GLACE)
    print(f"one patient: circle of {len(state.circle)}, {len(state.mandates)} mandates, "
          f"{len(state.oppositions)} withdrawn opposition; {ENTRIES} entries in answers of {PER_ANSWER}")

    for label, requester in (("circle member", member), ("break-the-glass", glass)):
        allowed = sum(d.allowed for d in filter_entries(requester, state, settings, NOW, facts))
        samples = _per_answer(lambda answer: filter_entries(requester, state, settings, NOW, answer), answers)
        _report(f"filter_entries, {label} ({allowed} allowed)", samples, ENTRIES)

    def built_and_filtered(answer: list[Raw]) -> object:
        return filter_entries(member, state, settings, NOW, [_facts(entry) for entry in answer])

    samples = _per_answer(built_and_filtered, raw_answers)
    _report("DocumentFacts built + filter_entries, circle member", samples, ENTRIES)

    def one_by_one(answer: list[DocumentFacts]) -> object:
        return [decide(member, Action.READ_DOCUMENTS, state, settings, NOW, document) for document in answer]

    samples = _per_answer(one_by_one, answers)
    _report("decide per entry, circle member (no reuse)", samples, ENTRIES)


if __name__ == "__main__":
    main()
