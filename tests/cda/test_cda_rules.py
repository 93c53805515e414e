"""One test per rule: a project-made document (`conformance.cda_samples`) with one
requirement broken fails with that rule (and only the rule sets concerned), and the
data-type helpers they use. Whether the CDA R2 schema accepts what only CI-SIS forbids is
checked in the interoperability layer (the HL7 schemas come from the corpus)."""
from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from lxml import etree

from cda import datatypes
from cda.engine import Validator
from cda.report import Severity, StepStatus
from cda_testing import NS, find, remove, rules_of

Mutate = Callable[[str, Callable[[etree._Element], None]], bytes]

CISIS = "cisis-structuration-minimale"
CRBIO = "cr-bio"
VAC = "vac-carnet"
XDSSD = "xds-sd-pdf"
HL7 = "{urn:hl7-org:v3}"


def errors(validator: Validator, data: bytes, profile: str = "auto") -> set[str]:
    return rules_of(validator.validate(data, profile))


# -- INS and identity ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("matricule", "valid"),
    [
        ("287043523811712", True),   # FONTANIER
        ("179114410905287", True),   # BREMOND
        ("119015935030127", True),   # LEFEBVRE-VIGNAL
        ("150093306319996", True),   # GIRAUDEAU
        ("292082A00421309", True),   # CASANELLI, Corse-du-Sud: 2A -> 19
        ("180032B02040123", True),   # INSi fixture 180032B020401 key 23 (2B -> 18)
        ("179114410905288", False),  # wrong key
        ("276037510669380", False),  # identity-fr: spec example with a wrong key
        ("17911441090528", False),   # 14 characters
        ("1791144109052A7", False),
    ],
)
def test_ins_key(matricule: str, valid: bool) -> None:
    assert datatypes.ins_key_valid(matricule) is valid


def test_ins_with_a_wrong_key_is_refused(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, "cda:recordTarget/cda:patientRole/cda:id[1]").set("extension", "179114410905288")

    report = rules_only.validate(mutate(CISIS, change))
    assert rules_of(report) == {"CISIS-HDR-INS"}
    assert report.errors[0].location == "/ClinicalDocument/recordTarget/patientRole/id[1]/@extension"


def test_ins_under_a_wrong_oid_is_refused(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, "cda:recordTarget/cda:patientRole/cda:id[1]").set("root", "1.2.250.1.213.1.4.5")

    assert errors(rules_only, mutate(CISIS, change)) == {"CISIS-HDR-INS"}


def test_without_ins_the_document_is_valid_with_a_warning(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: remove(r, "cda:recordTarget/cda:patientRole/cda:id[1]")))
    assert report.valid
    assert any(f.rule == "CISIS-HDR-INS" and f.severity is Severity.WARNING for f in report.findings)


def test_ins_needs_the_birth_name(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        remove(root, "cda:recordTarget/cda:patientRole/cda:patient/cda:name/cda:family[@qualifier='BR']")

    assert errors(rules_only, mutate(CISIS, change)) == {"CISIS-HDR-INS-TRAITS"}


def test_patient_identifier_must_be_qualified(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        remove(root, "cda:recordTarget/cda:patientRole/cda:id[1]")
        local = find(root, "cda:recordTarget/cda:patientRole/cda:id")
        del local.attrib["extension"]

    assert errors(rules_only, mutate(CISIS, change)) == {"CISIS-HDR-PATIENT-ID"}


# -- CI-SIS header ------------------------------------------------------------------------

CISIS_REQUIRED = [
    ("cda:realmCode", "CISIS-HDR-REALMCODE"),
    ("cda:templateId[@root='1.2.250.1.213.1.1.1.1']", "CISIS-HDR-TEMPLATEID-CISIS"),
    ("cda:title", "CISIS-HDR-TITLE"),
    ("cda:languageCode", "CISIS-HDR-LANGUAGECODE"),
    ("cda:setId", "CISIS-HDR-SETID"),
    ("cda:versionNumber", "CISIS-HDR-VERSIONNUMBER"),
    ("cda:legalAuthenticator", "CISIS-HDR-LEGALAUTHENTICATOR"),
    ("cda:documentationOf", "CISIS-HDR-SERVICEEVENT"),
    ("cda:componentOf", "CISIS-HDR-COMPONENTOF"),
]


@pytest.mark.parametrize(("path", "rule"), CISIS_REQUIRED)
def test_ci_sis_header_element_required(rules_only: Validator, mutate: Mutate, path: str, rule: str) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: remove(r, path)))
    assert rules_of(report) == {rule}


@pytest.mark.parametrize(("path", "rule"), CISIS_REQUIRED)
def test_ci_sis_header_element_required_beyond_the_cda_schema(
    validator: Validator, mutate: Mutate, path: str, rule: str
) -> None:
    """These elements are optional in CDA R2 (the HL7 schema passes) but required by CI-SIS."""
    report = validator.validate(mutate(CISIS, lambda r: remove(r, path)))
    assert report.step("schema").status is StepStatus.PASSED
    assert rules_of(report) == {rule}


@pytest.mark.parametrize(
    ("path", "attribute", "value", "rule"),
    [
        ("cda:effectiveTime", "value", "20250428", "CISIS-HDR-EFFECTIVETIME"),
        ("cda:effectiveTime", "value", "20250428103000", "CISIS-HDR-EFFECTIVETIME"),
        ("cda:effectiveTime", "value", "28/04/2025", "CISIS-HDR-EFFECTIVETIME"),
        ("cda:confidentialityCode", "code", "X", "CISIS-HDR-CONFIDENTIALITYCODE"),
        ("cda:languageCode", "code", "en-US", "CISIS-HDR-LANGUAGECODE"),
        ("cda:typeId", "extension", "POCD_HD000041", "CISIS-HDR-TYPEID"),
        ("cda:id", "root", "not-an-oid", "CISIS-HDR-ID"),
        ("cda:custodian//cda:representedCustodianOrganization/cda:id", "root", "2.999.1", "CISIS-HDR-CUSTODIAN"),
        ("cda:author/cda:assignedAuthor/cda:id", "root", "", "CISIS-HDR-AUTHOR"),
        ("cda:legalAuthenticator/cda:signatureCode", "code", "X", "CISIS-HDR-LEGALAUTHENTICATOR"),
        ("cda:recordTarget//cda:administrativeGenderCode", "code", "X", "CISIS-HDR-PATIENT"),
    ],
)
def test_ci_sis_header_value(
    rules_only: Validator, mutate: Mutate, path: str, attribute: str, value: str, rule: str
) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: find(r, path).set(attribute, value)))
    assert rule in rules_of(report)
    assert {f.rule for f in report.errors} - {"CDAR2-TYPEID", "CDAR2-ID"} == {rule}


def test_body_sections_need_a_title(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: remove(r, ".//cda:section[1]/cda:title")))
    assert rules_of(report) == {"CISIS-HDR-COMPONENT"}


def test_document_with_two_record_targets(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        target = find(root, "cda:recordTarget")
        target.addnext(etree.fromstring(etree.tostring(target)))

    assert errors(rules_only, mutate(CISIS, change)) == {"CISIS-HDR-RECORDTARGET"}


# -- CDA R2 beyond the schema -------------------------------------------------------------

def test_dangling_narrative_reference(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, ".//cda:observation/cda:code/cda:originalText/cda:reference").set("value", "#nowhere")

    report = rules_only.validate(mutate(CRBIO, change))
    assert rules_of(report) == {"CDAR2-REF"}
    assert report.errors[0].location.endswith("/reference/@value")


def test_not_a_clinical_document(rules_only: Validator) -> None:
    report = rules_only.validate(b"<ClinicalDocument/>", "ci-sis")
    assert rules_of(report) == {"CDAR2-ROOT"}


def test_not_well_formed(rules_only: Validator) -> None:
    report = rules_only.validate(b"<ClinicalDocument xmlns='urn:hl7-org:v3'>")
    assert rules_of(report) == {"XML-WELLFORMED"}


# -- XD-LAB and CR-BIO --------------------------------------------------------------------

def test_lab_observation_needs_a_value_when_completed(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CRBIO, lambda r: remove(r, "(.//cda:observation[cda:code/@code='718-7'])/cda:value")))
    assert rules_of(report) == {"XDLAB-OBSERVATION"}
    assert "value" in report.errors[0].message


def test_lab_observation_needs_a_status(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CRBIO, lambda r: remove(r, "(.//cda:observation[cda:code/@code='718-7'])/cda:statusCode")))
    assert rules_of(report) == {"XDLAB-OBSERVATION"}


def test_cr_bio_observations_are_loinc(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, ".//cda:observation[cda:code/@code='718-7']/cda:code").set("codeSystem", "2.999.5")

    report = rules_only.validate(mutate(CRBIO, change))
    assert rules_of(report) == {"CRBIO-OBSERVATION"}
    assert any(f.rule == "XDLAB-OBSERVATION" and f.severity is Severity.WARNING for f in report.findings)


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        ("1.2.250.1.213.1.1.2.70", "CRBIO-SECTION"),
        ("1.2.250.1.213.1.1.2.71", "CRBIO-SECTION"),
        ("1.2.250.1.213.1.1.3.21", "CRBIO-ENTRY"),
        ("1.2.250.1.213.1.1.3.80", "CRBIO-OBSERVATION"),
    ],
)
def test_cr_bio_french_templates_beside_the_xd_lab_ones(
    rules_only: Validator, mutate: Mutate, template: str, rule: str
) -> None:
    report = rules_only.validate(mutate(CRBIO, lambda r: remove(r, f"(.//cda:templateId[@root='{template}'])[1]")))
    assert rules_of(report) == {rule}


def test_cr_bio_document_code(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CRBIO, lambda r: find(r, "cda:code").set("code", "11488-4")))
    assert rules_of(report) == {"CRBIO-CODE", "XDLAB-CODE"}


def test_xd_lab_leaf_section_has_one_data_processing_entry(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        entry = find(root, "(.//cda:entry)[1]")
        entry.addnext(etree.fromstring(etree.tostring(entry)))

    report = rules_only.validate(mutate(CRBIO, change))
    assert rules_of(report) == {"XDLAB-ENTRY"}


def test_xd_lab_body_is_made_of_specialty_sections(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        for template in root.iterfind(".//cda:templateId[@root='1.3.6.1.4.1.19376.1.3.3.2.1']", NS):
            template.getparent().remove(template)

    report = rules_only.validate(mutate(CRBIO, change))
    assert "XDLAB-BODY" in rules_of(report)


def test_cr_bio_forced_under_xd_lab_profile_checks_ihe_rules_only(rules_only: Validator, mutate: Mutate) -> None:
    data = mutate(CRBIO, lambda r: remove(r, "(.//cda:templateId[@root='1.2.250.1.213.1.1.3.80'])[1]"))
    report = rules_only.validate(data, "xd-lab")
    assert report.detected == ("cda-r2", "xd-lab")
    assert report.valid


# -- VAC ----------------------------------------------------------------------------------

def test_vac_immunization_needs_its_vaccine_code(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(VAC, lambda r: remove(r, "(.//cda:manufacturedMaterial)[1]/cda:code")))
    assert rules_of(report) == {"VAC-PRODUCT"}


def test_vac_dose_rank_is_an_int(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, "(.//cda:observation[cda:code/@code='30973-2'])[1]/cda:value").set(
            "{http://www.w3.org/2001/XMLSchema-instance}type", "PQ"
        )

    assert errors(rules_only, mutate(VAC, change)) == {"VAC-DOSE"}


def test_vac_entry_templates(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(VAC, lambda r: remove(r, "(.//cda:templateId[@root='1.2.250.1.213.1.1.3.45'])[2]")))
    assert rules_of(report) == {"VAC-ENTRY"}
    assert report.errors[0].location.endswith("entry[2]/substanceAdministration")


def test_vac_document_code_follows_its_template(rules_only: Validator, mutate: Mutate) -> None:
    assert errors(rules_only, mutate(VAC, lambda r: find(r, "cda:code").set("code", "87273-9"))) == {"VAC-CODE"}


def test_vac_needs_the_immunizations_section(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, ".//cda:templateId[@root='1.3.6.1.4.1.19376.1.5.3.1.3.23']").set("root", "2.999.9")

    assert errors(rules_only, mutate(VAC, change)) == {"VAC-SECTION"}


# -- XDS-SD -------------------------------------------------------------------------------

def test_scanned_document_media_type(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(XDSSD, lambda r: find(r, ".//cda:nonXMLBody/cda:text").set("mediaType", "text/html")))
    assert rules_of(report) == {"XDSSD-BODY"}


def test_scanned_pdf_must_be_a_pdf(rules_only: Validator, mutate: Mutate) -> None:
    def change(root: etree._Element) -> None:
        find(root, ".//cda:nonXMLBody/cda:text").text = base64.b64encode(b"not a pdf").decode()

    assert errors(rules_only, mutate(XDSSD, change)) == {"XDSSD-BODY"}


def test_scanned_document_needs_its_device_author(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(XDSSD, lambda r: remove(r, "cda:author[cda:assignedAuthor/cda:assignedAuthoringDevice]")))
    assert rules_of(report) == {"XDSSD-DEVICE"}


# -- data types ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [("20250428103000+0200", (14, True)), ("20250428", (8, False)), ("2025042810", (10, False)),
     ("20250428103000.123-0500", (14, True)), ("2025-04-28", None)],
)
def test_ts_precision(value: str, expected: tuple[int, bool] | None) -> None:
    assert datatypes.ts_precision(value) == expected


def test_ii_root() -> None:
    assert datatypes.is_ii_root("1.2.250.1.213.1.4.10")
    assert datatypes.is_ii_root("6E1B7C20-2A4D-4F3B-9C11-0D5E8A7F3B01")
    assert not datatypes.is_ii_root("1.02.3")
    assert not datatypes.is_ii_root("ProbablyLocalToPlacerOrg")


def test_author_time_to_the_day_is_a_warning(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: find(r, "cda:author/cda:time").set("value", "20250428")))
    assert report.valid
    assert any(f.rule == "CISIS-HDR-AUTHOR" and f.severity is Severity.WARNING for f in report.findings)


def test_author_time_is_required(rules_only: Validator, mutate: Mutate) -> None:
    assert errors(rules_only, mutate(CISIS, lambda r: remove(r, "cda:author/cda:time"))) == {"CISIS-HDR-AUTHOR"}


def test_author_outside_idnat_ps_is_a_warning(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: find(r, "cda:author/cda:assignedAuthor/cda:id").set("root", "2.999.1")))
    assert report.valid
    assert any(f.rule == "CISIS-HDR-AUTHOR" and f.severity is Severity.WARNING for f in report.findings)


@pytest.mark.parametrize("name", ["Brémond", "BRÉMOND", "bremond", "BREMOND2"])
def test_ins_birth_name_is_an_insi_trait(rules_only: Validator, mutate: Mutate, name: str) -> None:
    def change(root: etree._Element) -> None:
        find(root, "cda:recordTarget//cda:family[@qualifier='BR']").text = name

    assert errors(rules_only, mutate(CISIS, change)) == {"CISIS-HDR-INS-TRAITS"}


@pytest.mark.parametrize("name", ["LEFEBVRE-VIGNAL", "D'ARTAGNAN", "DE LA TOUR", "MARTIN--DURAND"])
def test_insi_names(rules_only: Validator, mutate: Mutate, name: str) -> None:
    def change(root: etree._Element) -> None:
        find(root, "cda:recordTarget//cda:family[@qualifier='BR']").text = name

    assert rules_only.validate(mutate(CISIS, change)).valid


def test_ins_sex_is_m_or_f(rules_only: Validator, mutate: Mutate) -> None:
    report = rules_only.validate(mutate(CISIS, lambda r: find(r, "cda:recordTarget//cda:administrativeGenderCode").set("code", "U")))
    assert rules_of(report) == {"CISIS-HDR-INS-TRAITS"}
