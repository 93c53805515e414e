"""ISO schematron: the corpus XD-LAB schematrons give the outcomes the corpus records for
its documents (SOURCES-content.tsv: failed asserts of the errors phase; interoperability
layer), and XSLT 2/3 schematrons run through Saxon with the semantics of ISO Schematron
(on documents the project composes, `conformance.cda_samples`)."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from cda import schematron
from cda.document import CdaDocument
from cda.engine import Validator, ValidatorConfig
from cda.report import Report, Severity, Step, StepStatus
from cda_testing import find
from conformance import cda_samples

LAB_SCHEMATRONS = {
    "v20": "schematron/ipf-ihe_lab_v20_20070816/IHE_LAB.sch",
    "v21": "schematron/ipf-ihe_lab_v21_20080803/IHE_LAB.sch",
    "v40": "schematron/ipf-ihe_lab_40/iheLab4_0.sch",
}

# SOURCES-content.tsv: "observed failed asserts, errors phase".
EXPECTED_FAILED_ASSERTS = {
    "IHE_LabReport_20070816.xml": {"v20": 0, "v21": 1, "v40": 6},
    "IHE_LabReport_20080103.xml": {"v20": 16, "v21": 0, "v40": 1},
    "IHE_LabReport_20080103_Errored.xml": {"v20": 16, "v21": 1, "v40": 2},
}


@pytest.fixture(scope="module")
def errors_phase(corpus: Path) -> dict[str, schematron.Schematron]:
    return {name: schematron.load(corpus / path, phase="errors") for name, path in LAB_SCHEMATRONS.items()}


def run(compiled: schematron.Schematron, data: bytes) -> Step:
    step = Step(f"schematron {compiled.name}")
    compiled.validate(CdaDocument.parse(data), step)
    return step


@pytest.mark.parametrize("document", sorted(EXPECTED_FAILED_ASSERTS))
@pytest.mark.parametrize("version", ["v20", "v21", "v40"])
def test_corpus_schematron_outcomes(
    corpus: Path, errors_phase: dict[str, schematron.Schematron], document: str, version: str
) -> None:
    step = run(errors_phase[version], (corpus / "cda" / document).read_bytes())
    assert len(step.findings) == EXPECTED_FAILED_ASSERTS[document][version]
    assert all(f.severity is Severity.ERROR for f in step.findings)
    assert (step.status is StepStatus.PASSED) == (EXPECTED_FAILED_ASSERTS[document][version] == 0)


def test_each_lab_report_is_valid_under_its_own_schematron(corpus: Path, schema_dir: Path) -> None:
    """IPF's expectations: 20070816 valid vs v2.0, 20080103 valid vs v2.1, the Errored
    copy refused by v2.1 because languageCode is missing."""
    for document, version, valid in (
        ("IHE_LabReport_20070816.xml", "v20", True),
        ("IHE_LabReport_20080103.xml", "v21", True),
        ("IHE_LabReport_20080103_Errored.xml", "v21", False),
    ):
        validator = Validator(ValidatorConfig(schema_dir=str(schema_dir), schematrons=[str(corpus / LAB_SCHEMATRONS[version])]))
        report = validator.validate((corpus / "cda" / document).read_bytes(), "cda", document)
        assert report.valid is valid, document
        if not valid:
            step = report.step("schematron IHE_LAB.sch")
            errors = [f for f in step.findings if f.severity is Severity.ERROR]
            assert len(errors) == 1
            finding = errors[0]
            assert "languageCode" in finding.message
            assert finding.rule == "SCH:p-1.3.6.1.4.1.19376.1.3.3-errors"
            assert finding.location == "/ClinicalDocument"
            assert finding.line == 2


def test_all_phases_classify_warnings_by_their_text(corpus: Path) -> None:
    """Without a phase every pattern runs; the XD-LAB warning patterns ("Warning: ...")
    give warnings, which leave a valid document valid."""
    compiled = schematron.load(corpus / LAB_SCHEMATRONS["v21"])
    assert compiled.phase == "#ALL"
    step = run(compiled, (corpus / "cda/IHE_LabReport_20080103.xml").read_bytes())
    assert step.status is StepStatus.PASSED
    assert step.findings and all(f.severity is not Severity.ERROR for f in step.findings)


def test_schematron_findings_carry_lines_and_locations(corpus: Path, errors_phase: dict[str, schematron.Schematron]) -> None:
    step = run(errors_phase["v40"], (corpus / "cda/IHE_LabReport_20070816.xml").read_bytes())
    related = [f for f in step.findings if "relatedDocument" in f.location]
    assert len(related) == 1
    assert related[0].location == "/ClinicalDocument/relatedDocument"
    assert related[0].line is not None and related[0].line > 2


def test_external_entities_outside_the_schematron_folder_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    folder = tmp_path / "sch"
    folder.mkdir()
    (folder / "rules.sch").write_text(
        f"""<?xml version="1.0"?>
<!DOCTYPE schema [<!ENTITY leak SYSTEM "{secret}">]>
<schema xmlns="http://purl.oclc.org/dsdl/schematron"><pattern><rule context="/"><assert test="true()">&leak;</assert></rule></pattern></schema>
"""
    )
    with pytest.raises(schematron.SchematronError):
        schematron.load(folder / "rules.sch")


def test_not_a_schematron(tmp_path: Path) -> None:
    path = tmp_path / "x.sch"
    path.write_text("<schema xmlns='http://www.w3.org/2001/XMLSchema'/>")
    with pytest.raises(schematron.SchematronError):
        schematron.load(path)


# -- XSLT 2/3 through Saxon ---------------------------------------------------------------

XSLT2_SCHEMATRON = """<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2" defaultPhase="{phase}">
  <ns prefix="cda" uri="urn:hl7-org:v3"/>
  <let name="ins" value="('1.2.250.1.213.1.4.8', '1.2.250.1.213.1.4.9', '1.2.250.1.213.1.4.10', '1.2.250.1.213.1.4.11')"/>
  <phase id="header"><active pattern="header"/></phase>
  <phase id="everything"><active pattern="header"/><active pattern="first-rule-wins"/><active pattern="typed"/></phase>
  <pattern id="header">
    <rule context="/cda:ClinicalDocument">
      <let name="effective" value="cda:effectiveTime/@value"/>
      <assert id="effective-time-format" test="matches($effective, '^\\d{{14}}[+-]\\d{{4}}$')">effectiveTime <value-of select="$effective"/> is not to the second with a zone</assert>
      <assert id="ins-present" role="warning" test="some $id in cda:recordTarget/cda:patientRole/cda:id satisfies $id/@root = $ins">no INS in <name/></assert>
      <report id="title-upper" role="info" test="upper-case(cda:title) = cda:title">title in capitals</report>
    </rule>
  </pattern>
  <pattern id="first-rule-wins">
    <rule context="cda:section[cda:title = 'Conclusion']">
      <assert id="conclusion" test="false()">conclusion section</assert>
    </rule>
    <rule context="cda:section">
      <assert id="any-section" test="false()">other section</assert>
    </rule>
  </pattern>
  <pattern id="typed" is-a="code-system">
    <param name="element" value="cda:code"/>
    <param name="system" value="'2.16.840.1.113883.6.1'"/>
  </pattern>
  <pattern abstract="true" id="code-system">
    <rule context="/cda:ClinicalDocument/$element">
      <assert id="code-system" test="@codeSystem = $system">document code outside <value-of select="$system"/></assert>
    </rule>
  </pattern>
</schema>
"""


def xslt2(tmp_path: Path, phase: str) -> schematron.Schematron:
    path = tmp_path / "rules.sch"
    path.write_text(XSLT2_SCHEMATRON.format(phase=phase), encoding="utf-8")
    return schematron.load(path)


CISIS = "cisis-structuration-minimale"


def test_xslt2_schematron_runs_through_saxon(tmp_path: Path) -> None:
    compiled = xslt2(tmp_path, "everything")
    assert compiled.binding == "xslt2"
    step = run(compiled, cda_samples.sample(CISIS))
    by_rule: dict[str, list] = {}
    for finding in step.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    # effectiveTime and code system are right, the INS is there, the title is not in capitals.
    assert set(by_rule) == {"SCH:conclusion", "SCH:any-section"}
    # The first matching rule of a pattern wins: one finding per section.
    assert len(by_rule["SCH:conclusion"]) == 1 and len(by_rule["SCH:any-section"]) == 1
    assert by_rule["SCH:conclusion"][0].location == "/ClinicalDocument/component/structuredBody/component[2]/section"
    assert by_rule["SCH:conclusion"][0].line is not None


def test_xslt2_schematron_reports_values_roles_and_abstract_patterns(tmp_path: Path) -> None:
    compiled = xslt2(tmp_path, "everything")

    def break_header(root: etree._Element) -> None:
        find(root, "cda:effectiveTime").set("value", "20250428")
        find(root, "cda:recordTarget/cda:patientRole/cda:id[@root='1.2.250.1.213.1.4.10']").set("root", "2.999.4.10")
        find(root, "cda:title").text = "CR"
        find(root, "cda:code").set("codeSystem", "2.999")

    step = run(compiled, cda_samples.mutated(CISIS, break_header))
    findings = {f.rule: f for f in step.findings}
    assert findings["SCH:effective-time-format"].severity is Severity.ERROR
    assert findings["SCH:effective-time-format"].message == "effectiveTime 20250428 is not to the second with a zone"
    assert findings["SCH:ins-present"].severity is Severity.WARNING
    assert findings["SCH:ins-present"].message == "no INS in ClinicalDocument"
    assert findings["SCH:title-upper"].severity is Severity.INFO
    assert findings["SCH:code-system"].message == "document code outside 2.16.840.1.113883.6.1"
    assert findings["SCH:code-system"].location == "/ClinicalDocument/code"


def test_xslt2_schematron_phase(tmp_path: Path) -> None:
    step = run(xslt2(tmp_path, "header"), cda_samples.sample(CISIS))
    assert step.findings == []
    assert step.status is StepStatus.PASSED


def test_schematron_results_are_merged_into_the_report(tmp_path: Path, with_schema: Path | None) -> None:
    (tmp_path / "rules.sch").write_text(XSLT2_SCHEMATRON.format(phase="everything"), encoding="utf-8")
    validator = Validator(ValidatorConfig(schema_dir=str(with_schema or ""), schematrons=[str(tmp_path / "rules.sch")]))
    report: Report = validator.validate(cda_samples.sample(CISIS))
    assert [s.name for s in report.steps] == ["wellformed", "schema", "cda-r2", "ci-sis-header", "schematron rules.sch"]
    assert report.step("schema").status is (StepStatus.PASSED if with_schema else StepStatus.SKIPPED)
    assert not report.valid
    assert report.failed_rules == ["SCH:any-section", "SCH:conclusion"]


def test_schematron_phase_in_the_configuration(corpus: Path, composed: Path) -> None:
    """`FILE#PHASE` names a phase; the XD-LAB 4.0 errors phase flags the CI-SIS CR-BIO
    document's missing author address and telecom (XD-LAB requires them, CR-BIO does not)."""
    v40 = corpus / LAB_SCHEMATRONS["v40"]
    validator = Validator(ValidatorConfig(schematrons=[f"{v40}#errors"]))
    report = validator.validate((composed / "cr-bio-two-report-items.xml").read_bytes())
    step = report.step("schematron iheLab4_0.sch")
    assert "phase errors" in step.detail
    assert len(step.findings) == 6
    assert any("author/assignedAuthor/addr" in f.message for f in step.findings)


def test_a_schematron_that_cannot_run_on_a_document_is_an_error(corpus: Path, composed: Path) -> None:
    """The XD-LAB 4.0 schematron's warning patterns fail to evaluate on this document
    (libxslt "Invalid type"): reported as an error, never as a pass."""
    validator = Validator(ValidatorConfig(schematrons=[str(corpus / LAB_SCHEMATRONS["v40"])]))
    report = validator.validate((composed / "cr-bio-two-report-items.xml").read_bytes())
    step = report.step("schematron iheLab4_0.sch")
    assert step.status is StepStatus.FAILED
    assert [f.rule for f in step.findings] == ["SCH-EVALUATION"]


# -- the project's lab reports under the IHE XD-LAB schematrons ------------------------------

@pytest.mark.parametrize("document", ["cr-bio", "xd-lab"])
@pytest.mark.parametrize("version", ["v21", "v40"])
def test_project_lab_reports_pass_the_xd_lab_schematrons(
    errors_phase: dict[str, schematron.Schematron], document: str, version: str
) -> None:
    """The lab reports `conformance.cda_samples` composes meet XD-LAB as IHE's own
    schematrons check it (errors phase), not only the project's rules."""
    step = run(errors_phase[version], cda_samples.sample(document))
    assert step.findings == [], [f.as_dict() for f in step.findings]
    assert step.status is StepStatus.PASSED


@pytest.mark.parametrize("version", ["v21", "v40"])
def test_project_lab_report_without_language_code_fails_the_xd_lab_schematrons(
    errors_phase: dict[str, schematron.Schematron], version: str
) -> None:
    step = run(errors_phase[version], cda_samples.variant("lab-without-language"))
    assert len(step.findings) == 1
    finding = step.findings[0]
    assert finding.severity is Severity.ERROR
    assert "languageCode" in finding.message
    assert finding.location == "/ClinicalDocument"
