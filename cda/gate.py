"""Submission gate for ITI-41 Provide and Register Document Set-b: validates the CDA
documents of a submission under the affinity domain's policy.

    result = cda.gate.check(document_bytes, policy, config)

- `policy`: "reject" (invalid documents are refused), "warn" (accepted, the errors come
  back as warnings for the RegistryResponse) or "off" (not validated);
- `config`: the hub `Config`, its `CdaConfig` section, a `ValidatorConfig` or a ready
  `Validator` (validators are cached per schema folder and schematron list);
- `result.accepted`, `result.errors` / `result.warnings` (findings), `result.failed_rules`
  and `result.summary()` to name the failed rules in an XDS error.

`is_cda(mime_type, format_code, data)` says whether a submitted document is one the gate
looks at.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from cda.engine import Validator, ValidatorConfig
from cda.report import Finding, Report

POLICIES = ("reject", "warn", "off")

# formatCodes of CDA content: IHE (XD-LAB, XDS-SD, PCC) and CI-SIS.
CDA_FORMAT_PREFIXES = ("urn:ihe:lab:", "urn:ihe:iti:xds-sd:", "urn:ihe:pcc:", "urn:asip:ci-sis", "urn:ans:ci-sis")
XML_MIME_TYPES = frozenset({"text/xml", "application/xml", "application/hl7-v3+xml", "application/cda+xml"})


class UnknownPolicy(ValueError):
    """A gate policy outside reject|warn|off."""


@dataclass(frozen=True)
class GateResult:
    accepted: bool
    policy: str
    report: Report | None = None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def failed_rules(self) -> list[str]:
        return self.report.failed_rules if self.report is not None else []

    def summary(self) -> str:
        """One line naming the failed rules, for an XDS error's codeContext."""
        if self.report is None or self.report.valid:
            return "CDA document valid" if self.report is not None else "CDA validation off"
        return (
            f"CDA document invalid under profile {self.report.profile}: "
            f"{len(self.report.errors)} error(s), rules {', '.join(self.failed_rules)}"
        )


def is_cda(mime_type: str, format_code: str = "", data: bytes | memoryview = b"") -> bool:
    """A submitted document is CDA when its formatCode is a CDA one, or its mimeType is
    XML and its root element is an HL7 v3 ClinicalDocument."""
    if format_code.startswith(CDA_FORMAT_PREFIXES):
        return True
    if mime_type.split(";")[0].strip().lower() not in XML_MIME_TYPES:
        return False
    head = bytes(data[:4096])
    return b"ClinicalDocument" in head and b"urn:hl7-org:v3" in head


_validators: dict[tuple[str, tuple[str, ...]], Validator] = {}
_lock = threading.Lock()


def _validator(config: Any) -> Validator:
    if isinstance(config, Validator):
        return config
    section = getattr(config, "cda", config)
    schema_dir = str(getattr(section, "schema_dir", "") or "")
    schematrons = tuple(str(s) for s in getattr(section, "schematrons", ()) or ())
    key = (schema_dir, schematrons)
    with _lock:
        validator = _validators.get(key)
        if validator is None:
            validator = _validators[key] = Validator(ValidatorConfig(schema_dir=schema_dir, schematrons=list(schematrons)))
        return validator


def check(document_bytes: bytes | memoryview, policy: str, config: Any, name: str = "document") -> GateResult:
    """The ITI-41 gate: validate one CDA document (profile auto) under `policy`."""
    if policy not in POLICIES:
        raise UnknownPolicy(f"submission gate policy {policy!r}: one of {', '.join(POLICIES)}")
    if policy == "off":
        return GateResult(True, policy)
    report = _validator(config).validate(document_bytes, "auto", name)
    if policy == "warn":
        return GateResult(True, policy, report, [], report.errors + report.warnings)
    return GateResult(report.valid, policy, report, report.errors, report.warnings)
