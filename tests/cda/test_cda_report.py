"""Report renderings (text, JSON, JUnit XML, Gazelle-like XML) and the ITI-41
submission gate, on documents the project composes (`conformance.cda_samples`): with the
Python rules always, with the HL7 schema of the corpus in the interoperability layer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from cda import gate, render
from cda.engine import Validator, ValidatorConfig
from cda.report import Report, Severity
from cda_testing import document_bytes, line_of
from conformance import cda_samples

VALID = "cisis-structuration-minimale"
INVALID = "missing-custodian"


@pytest.fixture
def reports(with_schema: Path | None) -> list[Report]:
    validator = Validator(ValidatorConfig(schema_dir=str(with_schema or "")))
    return [validator.validate(document_bytes(name), "auto", f"{name}.xml") for name in (VALID, INVALID)]


def custodian_line() -> int:
    """Without a custodian, CISIS-HDR-CUSTODIAN is reported at the ClinicalDocument."""
    return line_of(document_bytes(INVALID), "/cda:ClinicalDocument")


def schema_line() -> int:
    """The HL7 schema finds legalAuthenticator where custodian was expected."""
    return line_of(document_bytes(INVALID), "/cda:ClinicalDocument/cda:legalAuthenticator")


def test_text_report(reports: list[Report], with_schema: Path | None) -> None:
    text = render.text(reports)
    checked = "VALID" if with_schema else "VALID [not checked: schema]"
    assert f"{VALID}.xml: {checked} (profile ci-sis: cda-r2, ci-sis-header)" in text
    assert f"{INVALID}.xml: INVALID" in text
    assert f"ERROR CISIS-HDR-CUSTODIAN line {custodian_line()} at /ClinicalDocument:" in text
    if with_schema:
        assert f"ERROR CDA-XSD line {schema_line()} at /ClinicalDocument/legalAuthenticator:" in text
    else:
        assert "CDA-XSD" not in text
        assert "[skipped] schema - no CDA schema directory" in text


def test_text_report_says_what_was_not_checked(rules_only: Validator) -> None:
    report = rules_only.validate(cda_samples.sample(VALID), "auto", "x.xml")
    assert "x.xml: VALID [not checked: schema]" in render.text([report])


def test_json_report(reports: list[Report], with_schema: Path | None) -> None:
    data = json.loads(render.json_text(reports))
    assert data["valid"] is False
    assert [r["valid"] for r in data["reports"]] == [True, False]
    steps = {s["name"]: s for s in data["reports"][1]["steps"]}
    assert steps["ci-sis-header"]["findings"] == [{
        "severity": "error",
        "rule": "CISIS-HDR-CUSTODIAN",
        "message": steps["ci-sis-header"]["findings"][0]["message"],
        "location": "/ClinicalDocument",
        "line": custodian_line(),
        "step": "ci-sis-header",
    }]
    schema = steps["schema"]
    if with_schema is None:
        assert (schema["status"], schema["findings"]) == ("skipped", [])
        return
    assert schema["status"] == "failed"
    assert schema["findings"][0] == {
        "severity": "error",
        "rule": "CDA-XSD",
        "message": schema["findings"][0]["message"],
        "location": "/ClinicalDocument/legalAuthenticator",
        "line": schema_line(),
        "step": "schema",
    }
    assert "custodian" in schema["findings"][0]["message"]


def test_junit_report(reports: list[Report], with_schema: Path | None) -> None:
    root = etree.fromstring(render.junit(reports))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("failures") for s in suites] == (["0", "2"] if with_schema else ["0", "1"])
    assert [s.get("skipped") for s in suites] == (["0", "0"] if with_schema else ["1", "1"])
    failure = suites[1].find("testcase[@name='ci-sis-header']/failure")
    assert failure is not None
    assert "CISIS-HDR-CUSTODIAN" in failure.get("message", "")


def test_gazelle_report(reports: list[Report], with_schema: Path | None) -> None:
    valid, invalid = (render.gazelle(r) for r in reports)
    assert valid.findtext("DocumentWellFormed/Result") == "PASSED"
    assert valid.findtext("DocumentValidXSD/Result") == ("PASSED" if with_schema else "SKIPPED")
    assert valid.findtext("ValidationResultsOverview/ValidationTestResult") == "PASSED"
    assert invalid.findtext("DocumentValidXSD/Result") == ("FAILED" if with_schema else "SKIPPED")
    assert invalid.findtext("DocumentValidXSD/nbOfErrors") == ("1" if with_schema else "0")
    assert invalid.findtext("MDAValidation/Result") == "FAILED"
    error = invalid.find("MDAValidation/Error")
    assert error is not None
    assert error.findtext("Test") == "CISIS-HDR-CUSTODIAN"
    assert error.findtext("Location") == "/ClinicalDocument"
    assert invalid.findtext("ValidationResultsOverview/ValidationTestResult") == "FAILED"


# -- submission gate ----------------------------------------------------------------------

def test_gate_reject_refuses_an_invalid_document_and_names_the_rules(with_schema: Path | None) -> None:
    from hub.config import Config

    config = Config()
    config.cda.schema_dir = str(with_schema or "")
    result = gate.check(cda_samples.variant(INVALID), "reject", config)
    assert not result.accepted
    rules = ["CDA-XSD", "CISIS-HDR-CUSTODIAN"] if with_schema else ["CISIS-HDR-CUSTODIAN"]
    assert result.failed_rules == rules
    assert all(f.severity is Severity.ERROR for f in result.errors)
    assert f"rules {', '.join(rules)}" in result.summary()


def test_gate_reject_accepts_a_valid_document(with_schema: Path | None) -> None:
    from hub.config import CdaConfig

    result = gate.check(cda_samples.sample("cr-bio"), "reject", CdaConfig(schema_dir=str(with_schema or "")))
    assert result.accepted
    assert result.errors == []
    assert result.summary() == "CDA document valid"


def test_gate_warn_accepts_and_reports_the_errors_as_warnings(rules_only: Validator) -> None:
    result = gate.check(cda_samples.variant("missing-hl7france-templateid"), "warn", rules_only)
    assert result.accepted
    assert result.errors == []
    assert "CISIS-HDR-TEMPLATEID-HL7FR" in {f.rule for f in result.warnings}


def xxe_document(tmp_path: Path) -> bytes:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-OUTSIDE-THE-DOCUMENT")
    return cda_samples.external_entity_document(secret.as_uri())


def test_gate_off_does_not_validate(tmp_path: Path) -> None:
    result = gate.check(xxe_document(tmp_path), "off", None)
    assert result.accepted and result.report is None


def test_gate_off_does_not_validate_the_corpus_xxe_document(corpus: Path) -> None:
    result = gate.check((corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes(), "off", None)
    assert result.accepted and result.report is None


def test_gate_reject_refuses_xxe(tmp_path: Path, rules_only: Validator) -> None:
    result = gate.check(xxe_document(tmp_path), "reject", rules_only)
    assert not result.accepted
    assert result.failed_rules == ["XML-WELLFORMED"]
    assert "SECRET-OUTSIDE-THE-DOCUMENT" not in repr(result.report.as_dict() if result.report else None)


def test_gate_reject_refuses_the_corpus_xxe_document(corpus: Path, rules_only: Validator) -> None:
    result = gate.check((corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes(), "reject", rules_only)
    assert not result.accepted
    assert result.failed_rules == ["XML-WELLFORMED"]


def test_gate_policy_must_be_known(rules_only: Validator) -> None:
    with pytest.raises(gate.UnknownPolicy):
        gate.check(b"<x/>", "block", rules_only)


def test_gate_recognises_cda_submissions() -> None:
    cda = cda_samples.sample("vac-carnet")
    assert gate.is_cda("text/xml", "urn:ihe:lab:xd-lab:2008")
    assert gate.is_cda("text/xml", "urn:asip:ci-sis:2010", b"")
    assert gate.is_cda("text/xml", "", cda)
    assert not gate.is_cda("application/pdf", "", b"%PDF-1.4")
    assert not gate.is_cda("text/xml", "", b"<RegistryPackage/>")
