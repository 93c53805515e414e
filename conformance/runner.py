"""Runs the conformance plan (`conformance.plan`) against a system under test and writes
its reports: JUnit XML for CI tools and a Gazelle-like XML test report.

Without a SUT address, a hub is started on loopback for the run (with a development PKI
of its own), as `tsnhub conformance run` does.
"""
from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from tempfile import TemporaryDirectory

from lxml import etree

from conformance.plan import PLAN, Nonconformity, Sut, Test

PASSED, FAILED, ERROR, NOT_RUN = "passed", "failed", "error", "not run"


@dataclass
class Outcome:
    test: Test
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class Run:
    sut: str
    started: datetime
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.status == PASSED for o in self.outcomes) and bool(self.outcomes)


def select(pattern: str | None) -> list[Test]:
    """Tests whose id matches the glob `pattern` (case-insensitive), with what they need."""
    if not pattern:
        return list(PLAN)
    wanted = {t.id for t in PLAN if fnmatch.fnmatch(t.id.upper(), pattern.upper())}
    by_id = {t.id: t for t in PLAN}
    pending = list(wanted)
    while pending:
        for need in by_id[pending.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                pending.append(need)
    return [t for t in PLAN if t.id in wanted]


def run(sut: Sut, tests: list[Test], label: str) -> Run:
    result = Run(label, datetime.now(timezone.utc))
    status: dict[str, str] = {}
    for test in tests:
        missing = [need for need in test.needs if status.get(need) != PASSED]
        if missing:
            outcome = Outcome(test, NOT_RUN, f"needs {', '.join(missing)}, which did not pass")
        else:
            started = time.perf_counter()
            try:
                test.run(sut)
                outcome = Outcome(test, PASSED)
            except Nonconformity as exc:
                outcome = Outcome(test, FAILED, str(exc))
            except Exception as exc:  # the SUT could not be reached or answered nonsense
                outcome = Outcome(test, ERROR, f"{type(exc).__name__}: {exc}")
            outcome.seconds = time.perf_counter() - started
        status[test.id] = outcome.status
        result.outcomes.append(outcome)
    return result


def junit(result: Run) -> bytes:
    failures = sum(o.status == FAILED for o in result.outcomes)
    errors = sum(o.status == ERROR for o in result.outcomes)
    skipped = sum(o.status == NOT_RUN for o in result.outcomes)
    suite = etree.Element(
        "testsuite", name="tsnhub conformance", tests=str(len(result.outcomes)), failures=str(failures),
        errors=str(errors), skipped=str(skipped), timestamp=result.started.isoformat(),
    )
    for outcome in result.outcomes:
        case = etree.SubElement(
            suite, "testcase", classname=outcome.test.transaction, name=f"{outcome.test.id} {outcome.test.title}",
            time=f"{outcome.seconds:.3f}",
        )
        if outcome.status == FAILED:
            etree.SubElement(case, "failure", message=outcome.message).text = outcome.message
        elif outcome.status == ERROR:
            etree.SubElement(case, "error", message=outcome.message).text = outcome.message
        elif outcome.status == NOT_RUN:
            etree.SubElement(case, "skipped", message=outcome.message)
    return bytes(etree.tostring(suite, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def gazelle(result: Run) -> bytes:
    """A test report in the manner of Gazelle's test instances: one step per test."""
    report = etree.Element("TestReport", sut=result.sut, date=result.started.isoformat())
    etree.SubElement(report, "Result").text = "PASSED" if result.passed else "FAILED"
    for outcome in result.outcomes:
        step = etree.SubElement(report, "TestStep", id=outcome.test.id, transaction=outcome.test.transaction)
        etree.SubElement(step, "Description").text = outcome.test.title
        etree.SubElement(step, "Status").text = outcome.status.upper().replace(" ", "_")
        if outcome.message:
            etree.SubElement(step, "Comment").text = outcome.message
    return bytes(etree.tostring(report, encoding="UTF-8", xml_declaration=True, pretty_print=True))


def write_reports(result: Run, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "junit.xml", directory / "gazelle-report.xml"]
    written[0].write_bytes(junit(result))
    written[1].write_bytes(gazelle(result))
    return written


@contextmanager
def local_hub() -> Iterator[tuple[str, tuple[str, int], Path]]:
    """A hub on loopback for the run, with a development PKI of its own."""
    from conformance.hubprocess import launch_hub
    from hub import pki

    with TemporaryDirectory(prefix="tsnhub-conformance-") as scratch:
        base = Path(scratch)
        pki.init(base / "pki")
        # The plan checks the IHE transactions, not the coordination model's rules:
        # documents of patients in no pathway are open to authenticated professionals.
        hub = launch_hub(base / "hub", base / "pki", '[coordination]\nunenrolled_patients = "allow"\n')
        try:
            yield hub.https_url, ("127.0.0.1", hub.mllp_port), base / "pki"
        finally:
            hub.stop()
