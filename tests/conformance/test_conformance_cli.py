"""`tsnhub conformance list | run` as a tester uses it: against a hub it starts itself,
against a running SUT, and against a SUT that does not conform."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from conformance.hubprocess import HubProcess
from conformance.plan import PLAN


def run(command: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=300)


def junit_cases(report: Path) -> dict[str, str]:
    """Test id -> passed / failure / error / skipped, from junit.xml."""
    suite = etree.parse(str(report / "junit.xml")).getroot()
    outcome = {}
    for case in suite.iter("testcase"):
        verdict = next((child.tag for child in case), "passed")
        outcome[case.get("name", "").split()[0]] = verdict
    return outcome


def test_list_names_every_test_of_the_plan(tsnhub_executable: list[str]) -> None:
    result = run(tsnhub_executable, "conformance", "list")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == [t.id for t in PLAN]


def test_run_without_sut_starts_a_hub_and_the_hub_passes(tsnhub_executable: list[str], tmp_path: Path) -> None:
    result = run(tsnhub_executable, "conformance", "run", "--report", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(PLAN)} passed, 0 failed" in result.stdout
    assert set(junit_cases(tmp_path).values()) == {"passed"}
    gazelle = etree.parse(str(tmp_path / "gazelle-report.xml")).getroot()
    assert gazelle.findtext("Result") == "PASSED"
    assert len(gazelle.findall("TestStep")) == len(PLAN)


def test_a_sut_that_serves_without_assertion_fails_the_vihf_test(
    tsnhub_executable: list[str], start_hub: Callable[..., HubProcess], tmp_path: Path
) -> None:
    sut = start_hub("[security]\nrequire_vihf = false\n")
    result = run(
        tsnhub_executable, "conformance", "run", "--sut", sut.https_url, "--mllp", f"127.0.0.1:{sut.mllp_port}",
        "--pki", str(sut.pki), "--tests", "VIHF-*", "--report", str(tmp_path),
    )
    assert result.returncode == 1
    assert junit_cases(tmp_path) == {"VIHF-001": "failure"}


def test_a_pattern_runs_the_tests_it_needs_first(
    tsnhub_executable: list[str], start_hub: Callable[..., HubProcess], tmp_path: Path
) -> None:
    sut = start_hub('[coordination]\nunenrolled_patients = "allow"\n')
    result = run(
        tsnhub_executable, "conformance", "run", "--sut", sut.https_url, "--mllp", f"127.0.0.1:{sut.mllp_port}",
        "--pki", str(sut.pki), "--tests", "ITI43-001", "--report", str(tmp_path),
    )
    assert result.returncode == 0, result.stdout
    assert list(junit_cases(tmp_path)) == ["ITI8-001", "ITI41-001", "ITI18-001", "ITI43-001"]


def test_an_unreachable_sut_is_reported_not_hung(tsnhub_executable: list[str], pki: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(
        tsnhub_executable, "conformance", "run", "--sut", f"https://127.0.0.1:{port}", "--mllp", f"127.0.0.1:{port}",
        "--pki", str(pki), "--tests", "HUB-*", "--report", str(tmp_path),
    )
    assert result.returncode == 1
    assert junit_cases(tmp_path) == {"HUB-HEALTH-001": "error"}


def test_usage_errors_exit_2(tsnhub_executable: list[str]) -> None:
    assert run(tsnhub_executable, "conformance", "run", "--tests", "NOTHING-*").returncode == 2
    assert run(tsnhub_executable, "conformance", "run", "--sut", "http://plain.example").returncode == 2
