"""Renderings of validation reports: plain text, JSON, JUnit XML and a Gazelle-like XML
report (the `detailedResult` layout of the IHE Europe Gazelle validators).

Reports carry rule ids, messages written by the rules and XPath locations: never the
content of the document.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from lxml import etree

from cda.report import Finding, Report, Severity, StepStatus

SERVICE_NAME = "tsnhub CDA validator"


def text(reports: Sequence[Report]) -> str:
    """One block per document: verdict, steps, then one line per finding."""
    lines: list[str] = []
    for report in reports:
        verdict = "VALID" if report.valid else "INVALID"
        skipped = [s.name for s in report.steps if s.status is StepStatus.SKIPPED]
        if skipped:
            verdict += f" [not checked: {', '.join(skipped)}]"
        detected = ", ".join(report.detected) or report.profile
        lines.append(f"{report.document}: {verdict} (profile {report.profile}: {detected})")
        for step in report.steps:
            detail = f" - {step.detail}" if step.detail else ""
            lines.append(f"  [{step.status.value}] {step.name}{detail}")
            for finding in step.findings:
                where = f" line {finding.line}" if finding.line else ""
                location = f" at {finding.location}" if finding.location else ""
                lines.append(f"    {finding.severity.value.upper()} {finding.rule}{where}{location}: {finding.message}")
    return "\n".join(lines) + "\n"


def json_text(reports: Sequence[Report]) -> str:
    """`{"valid": bool, "reports": [...]}` with every finding of every step."""
    return json.dumps(
        {"valid": all(r.valid for r in reports), "reports": [r.as_dict() for r in reports]},
        ensure_ascii=False,
        indent=2,
    ) + "\n"


def junit(reports: Sequence[Report]) -> bytes:
    """JUnit XML: a testsuite per document, a testcase per step; errors become
    `failure` elements, skipped steps `skipped` ones, warnings go to `system-out`."""
    suites = etree.Element("testsuites", name="tsnhub validate")
    total_tests = total_failures = total_skipped = 0
    for report in reports:
        suite = etree.SubElement(suites, "testsuite", name=report.document)
        failures = skipped = 0
        for step in report.steps:
            case = etree.SubElement(suite, "testcase", classname=report.document, name=step.name)
            if step.status is StepStatus.SKIPPED:
                skipped += 1
                etree.SubElement(case, "skipped", message=step.detail or "not run")
            elif step.status is StepStatus.FAILED:
                failures += 1
                errors = [f for f in step.findings if f.severity is Severity.ERROR]
                failure = etree.SubElement(
                    case, "failure", message=f"{len(errors)} error(s): {', '.join(sorted({f.rule for f in errors}))}",
                    type="validation",
                )
                failure.text = "\n".join(_line(f) for f in errors)
            others = [f for f in step.findings if f.severity is not Severity.ERROR]
            if others:
                etree.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
        suite.set("tests", str(len(report.steps)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        total_tests += len(report.steps)
        total_failures += failures
        total_skipped += skipped
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_failures))
    suites.set("errors", "0")
    suites.set("skipped", str(total_skipped))
    data: bytes = etree.tostring(suites, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return data


def _line(finding: Finding) -> str:
    where = f" line {finding.line}" if finding.line else ""
    return f"{finding.severity.value.upper()} {finding.rule}{where} {finding.location}: {finding.message}"


_GAZELLE_SECTIONS = {"wellformed": "DocumentWellFormed", "schema": "DocumentValidXSD"}


def gazelle(report: Report, now: datetime | None = None) -> etree._Element:
    """A Gazelle-like `detailedResult`: DocumentWellFormed, DocumentValidXSD, then one
    `MDAValidation` block for the rule-based steps (Error/Warning/Note items carrying
    Test, Location, Description), and ValidationResultsOverview."""
    when = now or datetime.now(timezone.utc)
    root = etree.Element("detailedResult")
    rules = etree.Element("MDAValidation")
    for step in report.steps:
        section_name = _GAZELLE_SECTIONS.get(step.name)
        if section_name is not None:
            section = etree.SubElement(root, section_name)
            etree.SubElement(section, "Result").text = _result(step.status)
            if step.detail:
                etree.SubElement(section, "Detail").text = step.detail
            etree.SubElement(section, "nbOfErrors").text = str(step.errors)
            etree.SubElement(section, "nbOfWarnings").text = str(
                sum(1 for f in step.findings if f.severity is Severity.WARNING)
            )
            target = section
        else:
            target = rules
        for finding in step.findings:
            tag = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Note"}[finding.severity]
            item = etree.SubElement(target, tag)
            etree.SubElement(item, "Test").text = finding.rule
            etree.SubElement(item, "Location").text = finding.location
            if finding.line:
                etree.SubElement(item, "Line").text = str(finding.line)
            etree.SubElement(item, "Description").text = finding.message
            etree.SubElement(item, "Step").text = step.name
    rule_steps = [s for s in report.steps if s.name not in _GAZELLE_SECTIONS]
    if rule_steps:
        failed = any(s.status is StepStatus.FAILED for s in rule_steps)
        etree.SubElement(rules, "Result").text = "FAILED" if failed else "PASSED"
        root.append(rules)
    overview = etree.SubElement(root, "ValidationResultsOverview")
    etree.SubElement(overview, "ValidationDate").text = when.strftime("%Y-%m-%d")
    etree.SubElement(overview, "ValidationTime").text = when.strftime("%H:%M:%S")
    etree.SubElement(overview, "ValidationServiceName").text = SERVICE_NAME
    etree.SubElement(overview, "ValidationProfile").text = report.profile
    etree.SubElement(overview, "DetectedProfiles").text = " ".join(report.detected)
    etree.SubElement(overview, "ValidationTestResult").text = "PASSED" if report.valid else "FAILED"
    return root


def _result(status: StepStatus) -> str:
    return {StepStatus.PASSED: "PASSED", StepStatus.FAILED: "FAILED", StepStatus.SKIPPED: "SKIPPED"}[status]
