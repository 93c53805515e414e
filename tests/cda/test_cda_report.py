"""Report renderings (text, JSON, JUnit XML, Gazelle-like XML) and the ITI-41
submission gate."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from cda import gate, render
from cda.engine import Validator
from cda.report import Report, Severity


@pytest.fixture(scope="module")
def reports(validator: Validator, corpus: Path) -> list[Report]:
    composed = corpus / "composed/cda"
    return [
        validator.validate((composed / name).read_bytes(), "auto", name)
        for name in ("cisis-structuration-minimale.xml", "invalid-missing-custodian.xml")
    ]


def test_text_report(reports: list[Report]) -> None:
    text = render.text(reports)
    assert "cisis-structuration-minimale.xml: VALID (profile ci-sis: cda-r2, ci-sis-header)" in text
    assert "invalid-missing-custodian.xml: INVALID" in text
    assert "ERROR CDA-XSD line 56 at /ClinicalDocument/legalAuthenticator:" in text
    assert "ERROR CISIS-HDR-CUSTODIAN" in text


def test_text_report_says_what_was_not_checked(rules_only: Validator, corpus: Path) -> None:
    report = rules_only.validate((corpus / "composed/cda/cisis-structuration-minimale.xml").read_bytes(), "auto", "x.xml")
    assert "x.xml: VALID [not checked: schema]" in render.text([report])


def test_json_report(reports: list[Report]) -> None:
    data = json.loads(render.json_text(reports))
    assert data["valid"] is False
    assert [r["valid"] for r in data["reports"]] == [True, False]
    schema = next(s for s in data["reports"][1]["steps"] if s["name"] == "schema")
    assert schema["status"] == "failed"
    assert schema["findings"][0] == {
        "severity": "error",
        "rule": "CDA-XSD",
        "message": schema["findings"][0]["message"],
        "location": "/ClinicalDocument/legalAuthenticator",
        "line": 56,
        "step": "schema",
    }


def test_junit_report(reports: list[Report]) -> None:
    root = etree.fromstring(render.junit(reports))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("failures") for s in suites] == ["0", "2"]
    failure = suites[1].find("testcase[@name='ci-sis-header']/failure")
    assert failure is not None
    assert "CISIS-HDR-CUSTODIAN" in failure.get("message", "")


def test_gazelle_report(reports: list[Report]) -> None:
    valid, invalid = (render.gazelle(r) for r in reports)
    assert valid.findtext("DocumentWellFormed/Result") == "PASSED"
    assert valid.findtext("DocumentValidXSD/Result") == "PASSED"
    assert valid.findtext("ValidationResultsOverview/ValidationTestResult") == "PASSED"
    assert invalid.findtext("DocumentValidXSD/Result") == "FAILED"
    assert invalid.findtext("DocumentValidXSD/nbOfErrors") == "1"
    assert invalid.findtext("MDAValidation/Result") == "FAILED"
    error = invalid.find("MDAValidation/Error")
    assert error is not None
    assert error.findtext("Test") == "CISIS-HDR-CUSTODIAN"
    assert error.findtext("Location") == "/ClinicalDocument"
    assert invalid.findtext("ValidationResultsOverview/ValidationTestResult") == "FAILED"


# -- submission gate ----------------------------------------------------------------------

def test_gate_reject_refuses_an_invalid_document_and_names_the_rules(corpus: Path, schema_dir: Path) -> None:
    from hub.config import Config

    config = Config()
    config.cda.schema_dir = str(schema_dir)
    result = gate.check((corpus / "composed/cda/invalid-missing-custodian.xml").read_bytes(), "reject", config)
    assert not result.accepted
    assert result.failed_rules == ["CDA-XSD", "CISIS-HDR-CUSTODIAN"]
    assert all(f.severity is Severity.ERROR for f in result.errors)
    assert "CDA-XSD, CISIS-HDR-CUSTODIAN" in result.summary()


def test_gate_reject_accepts_a_valid_document(corpus: Path, schema_dir: Path) -> None:
    from hub.config import CdaConfig

    result = gate.check((corpus / "composed/cda/cr-bio-two-report-items.xml").read_bytes(), "reject",
                        CdaConfig(schema_dir=str(schema_dir)))
    assert result.accepted
    assert result.errors == []


def test_gate_warn_accepts_and_reports_the_errors_as_warnings(corpus: Path, rules_only: Validator) -> None:
    result = gate.check((corpus / "composed/cda/invalid-missing-hl7france-templateid.xml").read_bytes(), "warn", rules_only)
    assert result.accepted
    assert result.errors == []
    assert "CISIS-HDR-TEMPLATEID-HL7FR" in {f.rule for f in result.warnings}


def test_gate_off_does_not_validate(corpus: Path) -> None:
    result = gate.check((corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes(), "off", None)
    assert result.accepted and result.report is None


def test_gate_reject_refuses_xxe(corpus: Path, rules_only: Validator) -> None:
    result = gate.check((corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes(), "reject", rules_only)
    assert not result.accepted
    assert result.failed_rules == ["XML-WELLFORMED"]


def test_gate_policy_must_be_known(rules_only: Validator) -> None:
    with pytest.raises(gate.UnknownPolicy):
        gate.check(b"<x/>", "block", rules_only)


def test_gate_recognises_cda_submissions(corpus: Path) -> None:
    cda = (corpus / "composed/cda/vac-two-immunizations.xml").read_bytes()
    assert gate.is_cda("text/xml", "urn:ihe:lab:xd-lab:2008")
    assert gate.is_cda("text/xml", "urn:asip:ci-sis:2010", b"")
    assert gate.is_cda("text/xml", "", cda)
    assert not gate.is_cda("application/pdf", "", b"%PDF-1.4")
    assert not gate.is_cda("text/xml", "", b"<RegistryPackage/>")
