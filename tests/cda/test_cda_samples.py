"""The documents the project composes for its CDA tests (`conformance.cda_samples`) are
what they claim: every positive sample validates clean under the profile its templates
declare, every negative variant fails for the rule it breaks and only that one; in the
interoperability layer, the positive samples conform to the HL7 CDA R2 schema and each
variant passes or fails it as CDA R2 says. Their identifiers are synthetic."""
from __future__ import annotations

import base64
import re

import pytest
from lxml import etree

from cda import datatypes
from cda.engine import Validator
from cda.oids import IDNAT_PS, IDNAT_STRUCT, INS_NIR_TEST, INS_OIDS
from cda.report import StepStatus
from cda_testing import NS, find, rules_of
from conformance import cda_samples

SAMPLES = sorted(cda_samples.SAMPLES)
VARIANTS = sorted(cda_samples.VARIANTS)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_validates_clean_under_its_profile(rules_only: Validator, name: str) -> None:
    expected = cda_samples.SAMPLES[name]
    report = rules_only.validate(cda_samples.sample(name), "auto", name)
    assert report.errors == [], [f.as_dict() for f in report.errors]
    assert report.warnings == [], [f.as_dict() for f in report.warnings]
    assert report.valid
    assert (report.profile, report.detected) == (expected.profile, expected.rule_sets)
    assert report.step("schema").status is StepStatus.SKIPPED


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_conforms_to_the_cda_schema(validator: Validator, name: str) -> None:
    report = validator.validate(cda_samples.sample(name), "auto", name)
    assert report.step("schema").status is StepStatus.PASSED, [f.as_dict() for f in report.step("schema").findings]
    assert "CDA.xsd" in report.step("schema").detail
    assert report.valid


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_fails_for_the_rule_it_breaks(rules_only: Validator, name: str) -> None:
    variant = cda_samples.VARIANTS[name]
    report = rules_only.validate(cda_samples.variant(name), "auto", name)
    assert not report.valid
    assert rules_of(report) == variant.rules
    # The variant stays under its sample's profile: the broken rule is the one reported.
    assert report.detected == cda_samples.SAMPLES[variant.sample].rule_sets


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_against_the_cda_schema(validator: Validator, name: str) -> None:
    variant = cda_samples.VARIANTS[name]
    report = validator.validate(cda_samples.variant(name), "auto", name)
    schema = report.step("schema")
    assert (schema.status is StepStatus.PASSED) is variant.schema_valid, [f.as_dict() for f in schema.findings]
    assert rules_of(report) - {"CDA-XSD"} == variant.rules


def test_variants_cover_every_sample() -> None:
    assert {v.sample for v in cda_samples.VARIANTS.values()} == set(cda_samples.SAMPLES)


def test_samples_compose_identically() -> None:
    for name in SAMPLES:
        assert cda_samples.sample(name) == cda_samples.sample(name)
    ids = {find(cda_samples.tree(name), "cda:id").get("root") for name in SAMPLES}
    assert len(ids) == len(SAMPLES)


# -- synthetic identifiers --------------------------------------------------------------

@pytest.mark.parametrize("name", SAMPLES)
def test_patients_carry_a_test_ins_with_its_key(name: str) -> None:
    root = cda_samples.tree(name)
    ins = [i for i in root.iterfind("cda:recordTarget/cda:patientRole/cda:id", NS) if i.get("root") in INS_OIDS]
    assert [i.get("root") for i in ins] == [INS_NIR_TEST]
    assert datatypes.ins_key_valid(ins[0].get("extension", ""))
    for element in root.iter("{urn:hl7-org:v3}id"):
        root_oid = element.get("root", "")
        extension = element.get("extension", "")
        if root_oid == IDNAT_PS:
            assert re.fullmatch(r"89999\d{7}", extension), extension
        elif root_oid == IDNAT_STRUCT:
            assert extension.startswith("199"), extension
        elif root_oid != INS_NIR_TEST:
            # Local identifiers under the example arc 2.999, or the document's own UUID.
            assert root_oid.startswith("2.999.") or re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", root_oid), root_oid


@pytest.mark.parametrize(
    ("base", "key"),
    [("1791144109052", "87"), ("180032B020401", "23"), ("292082A004213", "09")],
)
def test_nir_key(base: str, key: str) -> None:
    assert cda_samples.nir_key(base) == key
    assert datatypes.ins_key_valid(base + key)


def test_luhn_key() -> None:
    # 7992739871 -> 3 is the usual worked example of the Luhn algorithm.
    assert cda_samples.luhn_key("7992739871") == "3"
    for professional in (cda_samples.CARDIOLOGIST, cda_samples.BIOLOGIST, cda_samples.GENERAL_PRACTITIONER):
        number = professional.idnat[1:]
        assert len(number) == 11 and cda_samples.luhn_key(number[:-1]) == number[-1]


def test_scanned_document_holds_a_well_formed_pdf() -> None:
    text = find(cda_samples.tree("xds-sd-pdf"), "cda:component/cda:nonXMLBody/cda:text")
    pdf = base64.b64decode(text.text or "", validate=True)
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    # The trailer's startxref points at the cross-reference table, whose entries point
    # at the objects they number.
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[start:].startswith(b"xref\n0 6\n")
    entries = pdf[start:].split(b"\n")[3:8]
    for number, entry in enumerate(entries, start=1):
        assert pdf[int(entry[:10]):].startswith(b"%d 0 obj" % number)


def test_external_entity_document_declares_its_entities() -> None:
    data = cda_samples.external_entity_document("file:///nonexistent/secret")
    assert b"<!DOCTYPE" in data and b'SYSTEM "file:///nonexistent/secret"' in data
    parsed = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False))
    assert parsed.tag == "{urn:hl7-org:v3}ClinicalDocument"
