"""The validation report model: findings (severity, rule id, message, XPath location,
line) grouped by validation step, with the verdict of each step.

A document is valid when no finding has severity `error` and no step failed to run.
Steps that could not run for lack of configuration (no schema directory) are `skipped`
and say so; they are never counted as passed.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class StepStatus(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """One result of one rule. `rule` is a stable identifier (e.g. `CISIS-HDR-017`,
    `XSD`, `SCH:<pattern id>`); `location` is an XPath to the element concerned."""

    severity: Severity
    rule: str
    message: str
    location: str = ""
    line: int | None = None
    step: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "location": self.location,
            "line": self.line,
            "step": self.step,
        }


@dataclass
class Step:
    """One validation step (wellformed, schema, header rules, a schematron...)."""

    name: str
    status: StepStatus = StepStatus.PASSED
    detail: str = ""
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        if finding.severity is Severity.ERROR:
            self.status = StepStatus.FAILED

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)


@dataclass
class Report:
    """The report of one document."""

    document: str
    profile: str = "cda"
    detected: tuple[str, ...] = ()
    steps: list[Step] = field(default_factory=list)

    def step(self, name: str) -> Step:
        """Start (or return) the step called `name`."""
        for existing in self.steps:
            if existing.name == name:
                return existing
        created = Step(name)
        self.steps.append(created)
        return created

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.steps for f in s.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return all(s.status is not StepStatus.FAILED for s in self.steps)

    @property
    def failed_rules(self) -> list[str]:
        """Rule ids of the errors, each once, in report order."""
        seen: dict[str, None] = {}
        for finding in self.errors:
            seen.setdefault(finding.rule, None)
        return list(seen)

    def as_dict(self) -> dict[str, object]:
        return {
            "document": self.document,
            "profile": self.profile,
            "detected": list(self.detected),
            "valid": self.valid,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status.value,
                    "detail": s.detail,
                    "findings": [f.as_dict() for f in s.findings],
                }
                for s in self.steps
            ],
        }
