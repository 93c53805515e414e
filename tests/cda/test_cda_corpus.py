"""The corpus documents under their profiles: every valid one validates clean, every
known-invalid one fails with the rule that explains why (composed/README.md,
SOURCES-content.tsv)."""
from __future__ import annotations

from pathlib import Path

import pytest

from cda.engine import Validator, ValidatorConfig
from cda.report import StepStatus
from cda_testing import rules_of

VALID = [
    # (folder, file, profile applied by auto-detection, rule sets)
    ("composed/cda", "cisis-structuration-minimale.xml", "ci-sis", ("cda-r2", "ci-sis-header")),
    ("composed/cda", "cr-bio-two-report-items.xml", "ci-sis", ("cda-r2", "ci-sis-header", "xd-lab", "cr-bio")),
    ("composed/cda", "vac-two-immunizations.xml", "ci-sis", ("cda-r2", "ci-sis-header", "vac")),
    ("composed/cda", "xds-sd-pdf.xml", "ci-sis", ("cda-r2", "ci-sis-header", "xds-sd")),
    ("cda", "IHE_LabReport_20080103.xml", "xd-lab", ("cda-r2", "xd-lab")),
    ("cda", "SampleCDADocument.xml", "cda", ("cda-r2",)),
    ("cda", "ScanSample.xml", "cda", ("cda-r2",)),
]


@pytest.mark.parametrize(("folder", "name", "profile", "rule_sets"), VALID, ids=[v[1] for v in VALID])
def test_valid_documents_validate_clean_under_their_profile(
    validator: Validator, corpus: Path, folder: str, name: str, profile: str, rule_sets: tuple[str, ...]
) -> None:
    report = validator.validate((corpus / folder / name).read_bytes(), "auto", name)
    assert report.errors == [], [f.as_dict() for f in report.errors]
    assert report.valid
    assert report.profile == profile
    assert report.detected == rule_sets
    assert report.step("schema").status is StepStatus.PASSED


def test_xd_lab_2007_sample_is_valid_under_lab_tf_2_0(corpus: Path, schema_dir: Path) -> None:
    """IHE_LabReport_20070816 was written for Lab TF 2.0: valid against LabCDA.xsd and the
    v2.0 schematron (its profile), though the later XD-LAB requires languageCode."""
    v20 = corpus / "schematron/ipf-ihe_lab_v20_20070816/IHE_LAB.sch"
    validator = Validator(ValidatorConfig(schema_dir=str(schema_dir), schematrons=[str(v20)]))
    document = (corpus / "cda/IHE_LabReport_20070816.xml").read_bytes()
    report = validator.validate(document, "cda", "IHE_LabReport_20070816.xml")
    assert report.valid, [f.as_dict() for f in report.errors]
    assert "LabCDA.xsd" in report.step("schema").detail
    current = validator.validate(document, "xd-lab", "IHE_LabReport_20070816.xml")
    assert "XDLAB-LANGUAGECODE" in rules_of(current)


def test_missing_hl7_france_template_id_is_a_ci_sis_header_error(validator: Validator, composed: Path) -> None:
    report = validator.validate((composed / "invalid-missing-hl7france-templateid.xml").read_bytes())
    assert not report.valid
    assert report.profile == "ci-sis"
    assert rules_of(report) == {"CISIS-HDR-TEMPLATEID-HL7FR"}
    finding = report.errors[0]
    assert finding.location == "/ClinicalDocument"
    assert "2.16.840.1.113883.2.8.2.1" in finding.message
    assert report.step("schema").status is StepStatus.PASSED


def test_missing_custodian_fails_the_schema_and_the_ci_sis_custodian_rule(validator: Validator, composed: Path) -> None:
    report = validator.validate((composed / "invalid-missing-custodian.xml").read_bytes())
    assert not report.valid
    schema_errors = report.step("schema").findings
    assert len(schema_errors) == 1
    assert schema_errors[0].rule == "CDA-XSD"
    assert "custodian" in schema_errors[0].message
    assert schema_errors[0].location == "/ClinicalDocument/legalAuthenticator"
    assert schema_errors[0].line == 56
    assert "CISIS-HDR-CUSTODIAN" in rules_of(report)


def test_missing_confidentiality_code_fails_the_schema_and_the_ci_sis_rule(validator: Validator, composed: Path) -> None:
    report = validator.validate((composed / "invalid-confidentialitycode-missing.xml").read_bytes())
    assert not report.valid
    schema_errors = report.step("schema").findings
    assert [f.rule for f in schema_errors] == ["CDA-XSD"]
    assert "confidentialityCode" in schema_errors[0].message
    assert "CISIS-HDR-CONFIDENTIALITYCODE" in rules_of(report)


def test_without_schema_the_invalid_documents_still_fail_on_python_rules(rules_only: Validator, composed: Path) -> None:
    for name, rule in (
        ("invalid-missing-custodian.xml", "CISIS-HDR-CUSTODIAN"),
        ("invalid-confidentialitycode-missing.xml", "CISIS-HDR-CONFIDENTIALITYCODE"),
        ("invalid-missing-hl7france-templateid.xml", "CISIS-HDR-TEMPLATEID-HL7FR"),
    ):
        report = rules_only.validate((composed / name).read_bytes(), "auto", name)
        assert report.step("schema").status is StepStatus.SKIPPED
        assert "no CDA schema directory" in report.step("schema").detail
        assert not report.valid
        assert rule in rules_of(report)


def test_xd_lab_report_without_language_code_is_invalid(validator: Validator, corpus: Path) -> None:
    report = validator.validate((corpus / "cda/IHE_LabReport_20080103_Errored.xml").read_bytes())
    assert report.profile == "xd-lab"
    assert rules_of(report) == {"XDLAB-LANGUAGECODE"}
    assert report.step("schema").status is StepStatus.PASSED
    assert "LabCDA.xsd" in report.step("schema").detail


def test_xxe_document_is_refused_not_expanded(validator: Validator, corpus: Path) -> None:
    report = validator.validate((corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes())
    assert not report.valid
    assert rules_of(report) == {"XML-WELLFORMED"}
    assert "document type declarations are not allowed" in report.errors[0].message
    assert "VULNERABLE" not in repr(report.as_dict())
    assert [s.name for s in report.steps] == ["wellformed"]


def test_lab_extension_elements_need_the_lab_schema(corpus: Path) -> None:
    """With only the plain CDA R2 schema, XD-LAB documents using lab: elements fail it."""
    plain = Validator(ValidatorConfig(schema_dir=str(corpus / "cda-schema/ipf-cdar2")))
    report = plain.validate((corpus / "cda/IHE_LabReport_20080103.xml").read_bytes())
    assert "LabCDA.xsd not found, using CDA.xsd" in report.step("schema").detail
    assert report.step("schema").status is StepStatus.FAILED
    assert all("urn:oid:1.3.6.1.4.1.19376.1.3.2" in f.message for f in report.step("schema").findings)


def test_scan_sample_without_template_ids_is_plain_cda_but_not_ci_sis(validator: Validator, corpus: Path) -> None:
    data = (corpus / "cda/ScanSample.xml").read_bytes()
    assert validator.validate(data, "cda").valid
    report = validator.validate(data, "ci-sis")
    assert not report.valid
    assert {"CISIS-HDR-TEMPLATEID-HL7FR", "CISIS-HDR-TEMPLATEID-CISIS", "CISIS-HDR-REALMCODE"} <= rules_of(report)


def test_sample_cda_document_empty_id_is_a_warning(validator: Validator, corpus: Path) -> None:
    report = validator.validate((corpus / "cda/SampleCDADocument.xml").read_bytes())
    assert report.valid
    empty_ids = [f for f in report.warnings if f.rule == "CDAR2-II" and "neither" in f.message]
    assert len(empty_ids) == 1
    assert empty_ids[0].line == 1149
    assert empty_ids[0].location.endswith("/act/id")
