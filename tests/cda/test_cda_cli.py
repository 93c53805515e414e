"""`tsnhub validate` run as users run it (a subprocess of the installed command): formats
and exit codes 0 valid / 1 invalid / 2 usage or unreadable input (INTERFACES.md), on
documents the project composes (`conformance.cda_samples`); with the HL7 schemas and the
XD-LAB schematrons of the corpus in the interoperability layer."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from conformance import cda_samples

DocumentFile = Callable[[str], Path]
CISIS = "cisis-structuration-minimale"


def schema_args(with_schema: Path | None) -> list[str | Path]:
    return ["--schema-dir", with_schema] if with_schema is not None else []


@pytest.fixture
def validate(tsnhub_executable: list[str]):  # type: ignore[no-untyped-def]
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*tsnhub_executable, "validate", *map(str, args)], capture_output=True, text=True, timeout=120
        )

    return run


def test_valid_documents_exit_0(validate, document_file: DocumentFile, with_schema: Path | None) -> None:  # type: ignore[no-untyped-def]
    result = validate(document_file(CISIS), document_file("vac-carnet"), document_file("cr-bio"), *schema_args(with_schema))
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = ": VALID (profile ci-sis" if with_schema else ": VALID [not checked: schema] (profile ci-sis"
    assert result.stdout.count(verdict) == 3


def test_one_invalid_document_exits_1(validate, document_file: DocumentFile, with_schema: Path | None) -> None:  # type: ignore[no-untyped-def]
    result = validate(document_file(CISIS), document_file("missing-custodian"), *schema_args(with_schema))
    assert result.returncode == 1
    assert f"{CISIS}.xml: VALID" in result.stdout
    assert "missing-custodian.xml: INVALID" in result.stdout
    assert "CISIS-HDR-CUSTODIAN" in result.stdout
    # CDA R2 requires the custodian too: the HL7 schema refuses the document as well.
    assert ("ERROR CDA-XSD" in result.stdout) is (with_schema is not None)


def test_xxe_document_exits_1_and_is_not_expanded(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-OUTSIDE-THE-DOCUMENT")
    document = tmp_path / "xxe.xml"
    document.write_bytes(cda_samples.external_entity_document(secret.as_uri()))
    result = validate(document)
    assert result.returncode == 1
    assert "XML-WELLFORMED" in result.stdout
    assert "EXPANDED" not in result.stdout + result.stderr
    assert "SECRET-OUTSIDE-THE-DOCUMENT" not in result.stdout + result.stderr


def test_corpus_xxe_document_exits_1_and_is_not_expanded(validate, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    result = validate(corpus / "cda/CDADocumentWithXXEInjection.xml")
    assert result.returncode == 1
    assert "XML-WELLFORMED" in result.stdout
    assert "VULNERABLE" not in result.stdout + result.stderr


def test_unreadable_file_exits_2(validate, document_file: DocumentFile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = validate(document_file(CISIS), tmp_path / "missing.xml")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


@pytest.mark.parametrize("args", [[], ["--profile", "hl7"], ["--format", "pdf"]])
def test_usage_errors_exit_2(validate, document_file: DocumentFile, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    files = [] if not args else [document_file(CISIS)]
    result = validate(*args, *files)
    assert result.returncode == 2


def test_unusable_schema_dir_exits_2(validate, document_file: DocumentFile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "no-schemas"
    empty.mkdir()
    result = validate(document_file(CISIS), "--schema-dir", empty)
    assert result.returncode == 2
    assert "holds none of CDA.xsd" in result.stderr


def test_json_format(validate, document_file: DocumentFile) -> None:  # type: ignore[no-untyped-def]
    result = validate(document_file("missing-hl7france-templateid"), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    steps = {s["name"]: s for s in data["reports"][0]["steps"]}
    assert steps["schema"]["status"] == "skipped"
    assert steps["ci-sis-header"]["findings"][0]["rule"] == "CISIS-HDR-TEMPLATEID-HL7FR"


def test_junit_format(validate, document_file: DocumentFile, with_schema: Path | None) -> None:  # type: ignore[no-untyped-def]
    result = validate(document_file("confidentialitycode-missing"), "--format", "junit", *schema_args(with_schema))
    assert result.returncode == 1
    root = etree.fromstring(result.stdout.encode())
    assert root.find("testsuite/testcase[@name='ci-sis-header']/failure") is not None
    if with_schema is None:
        assert (root.get("failures"), root.get("skipped")) == ("1", "1")
        assert root.find("testsuite/testcase[@name='schema']/skipped") is not None
    else:
        # confidentialityCode is required by CDA R2 as well: the schema step fails too.
        assert (root.get("failures"), root.get("skipped")) == ("2", "0")
        assert root.find("testsuite/testcase[@name='schema']/failure") is not None


def test_schema_dir_and_schematrons_from_the_configuration(validate, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "hub.toml"
    v21 = corpus / "schematron/ipf-ihe_lab_v21_20080803/IHE_LAB.sch"
    config.write_text(f'[cda]\nschema_dir = "{corpus / "cda-schema"}"\nschematrons = ["{v21}"]\n')
    result = validate(corpus / "cda/IHE_LabReport_20080103_Errored.xml", "--profile", "cda", "--config", config)
    assert result.returncode == 1
    assert "[passed] schema - LabCDA.xsd" in result.stdout
    assert "[failed] schematron IHE_LAB.sch" in result.stdout
    assert "languageCode element shall be present" in result.stdout
    good = validate(corpus / "cda/IHE_LabReport_20080103.xml", "--profile", "cda", "--config", config)
    assert good.returncode == 0, good.stdout


def test_command_line_schematron_replaces_the_configured_ones(validate, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "hub.toml"
    v21 = corpus / "schematron/ipf-ihe_lab_v21_20080803/IHE_LAB.sch"
    v20 = corpus / "schematron/ipf-ihe_lab_v20_20070816/IHE_LAB.sch"
    config.write_text(f'[cda]\nschematrons = ["{v21}"]\n')
    result = validate(corpus / "cda/IHE_LabReport_20070816.xml", "--profile", "cda", "--config", config, "--schematron", v20)
    assert result.returncode == 0, result.stdout
    assert "ipf-ihe_lab_v20_20070816" in result.stdout


def test_unknown_configuration_key_exits_2(validate, document_file: DocumentFile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "hub.toml"
    config.write_text('[cda]\nschema_folder = "x"\n')
    result = validate(document_file(CISIS), "--config", config)
    assert result.returncode == 2
