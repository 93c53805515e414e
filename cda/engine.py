"""The validation engine: one document in, one report out.

Steps, in order: `wellformed` (hardened parse; a failure ends the validation), `schema`
(HL7 CDA schema from the configured folder, or skipped when none is configured), the
rule sets of the profile (`cda-r2`, `ci-sis-header`, `xd-lab`, `cr-bio`, `vac`,
`xds-sd`), then one step per configured schematron.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cda import schema as cda_schema
from cda import schematron as cda_schematron
from cda.document import CdaDocument, NotWellFormed
from cda.profiles import resolve
from cda.report import Finding, Report, Severity, StepStatus
from cda.rules import Emitter
from hub.wire import xmlsafe

log = logging.getLogger(__name__)


@dataclass
class ValidatorConfig:
    """What `[cda]` of hub.toml (or the command line) configures."""

    schema_dir: str = ""
    # Schematron files, each `FILE` or `FILE#PHASE`.
    schematrons: Sequence[str] = field(default_factory=list)
    max_bytes: int = 64 * 1024 * 1024


class Validator:
    """Validates documents; schemas and schematrons are loaded once and shared.

    Raises `cda.schema.SchemaConfigurationError` or `cda.schematron.SchematronError` at
    construction when the configuration names unusable files: a misconfiguration is the
    operator's error, not the document's."""

    def __init__(self, config: ValidatorConfig | None = None) -> None:
        self.config = config or ValidatorConfig()
        self.schemas = cda_schema.SchemaSet(Path(self.config.schema_dir)) if self.config.schema_dir else None
        self.schematrons = [cda_schematron.load(*cda_schematron.parse_spec(str(p))) for p in self.config.schematrons]
        self.limits = xmlsafe.XmlLimits(max_bytes=self.config.max_bytes)

    def validate(self, data: bytes | memoryview, profile: str = "auto", name: str = "document") -> Report:
        """Validate one document under `profile` (auto|cda|xd-lab|ci-sis)."""
        report = Report(document=name, profile=profile)
        wellformed = report.step("wellformed")
        try:
            document = CdaDocument.parse(data, self.limits)
        except NotWellFormed as exc:
            wellformed.add(Finding(Severity.ERROR, "XML-WELLFORMED", str(exc), "", None, wellformed.name))
            return report
        applied, rule_sets = resolve(profile, document)
        report.profile = applied
        report.detected = tuple(r.name for r in rule_sets)

        step = report.step("schema")
        if self.schemas is None:
            step.status = StepStatus.SKIPPED
            step.detail = "no CDA schema directory configured ([cda] schema_dir or --schema-dir): schema not checked"
        else:
            self.schemas.validate(document, step)

        for rule_set in rule_sets:
            rule_step = report.step(rule_set.name)
            rule_set.check(document, Emitter(rule_step))
            if not document.is_clinical_document:
                break

        for compiled in self.schematrons:
            compiled.validate(document, report.step(f"schematron {compiled.name}"))
        log.debug(
            "validated %s: profile %s, %s, %d error(s), %d warning(s)",
            name, applied, "valid" if report.valid else "invalid", len(report.errors), len(report.warnings),
        )
        return report
