"""CI-SIS vaccination documents (VAC): the "carnet de vaccination" (document template
1.2.250.1.213.1.1.1.37, LOINC 11369-6) and the "note de vaccination" (1.2.250.1.213.1.1.1.46,
LOINC 87273-9), built on IHE PCC Immunization Content (1.3.6.1.4.1.19376.1.5.3.1.1.18.1.2).

Rule ids:
- VAC-TEMPLATEID: the document declares IHE Immunization Content.
- VAC-CODE: the document code is the LOINC code of its VAC template.
- VAC-SECTION: one Immunizations section (PCC 1.3.6.1.4.1.19376.1.5.3.1.3.23 + CCD
  2.16.840.1.113883.10.20.1.6 + CI-SIS 1.2.250.1.213.1.1.2.147), LOINC 11369-6, with a text.
- VAC-ENTRY: each immunization is a substanceAdministration (PCC 1.3.6.1.4.1.19376.1.5.3.1.4.12
  + CCD 2.16.840.1.113883.10.20.1.24 + CI-SIS 1.2.250.1.213.1.1.3.45) with id, code,
  statusCode, effectiveTime and a vaccine product.
- VAC-PRODUCT: consumable/manufacturedProduct (PCC 1.3.6.1.4.1.19376.1.5.3.1.4.7.2) with
  a coded manufacturedMaterial (lotNumberText: warning).
- VAC-DOSE: a dose-rank observation (LOINC 30973-2) holds an INT value.
"""
from __future__ import annotations

from lxml import etree

from cda.datatypes import has_null_flavor, xsi_type
from cda.document import CdaDocument
from cda.oids import (
    CCD_IMMUNIZATIONS_SECTION,
    CCD_MEDICATION_ACTIVITY,
    CISIS_IMMUNIZATION_ENTRY,
    CISIS_IMMUNIZATIONS_SECTION,
    CISIS_VAC_CARNET,
    CISIS_VAC_NOTE,
    DOSE_RANK_OBSERVATION_LOINC,
    IHE_IMMUNIZATION_CONTENT,
    LOINC,
    PCC_IMMUNIZATION_ENTRY,
    PCC_IMMUNIZATIONS_SECTION,
    PCC_PRODUCT_ENTRY,
)
from cda.rules import Emitter, present_or

DOCUMENT_CODES = {CISIS_VAC_CARNET: "11369-6", CISIS_VAC_NOTE: "87273-9"}
IMMUNIZATIONS_SECTION_CODE = "11369-6"
SECTION_TEMPLATES = (PCC_IMMUNIZATIONS_SECTION, CCD_IMMUNIZATIONS_SECTION, CISIS_IMMUNIZATIONS_SECTION)
ENTRY_TEMPLATES = (PCC_IMMUNIZATION_ENTRY, CCD_MEDICATION_ACTIVITY, CISIS_IMMUNIZATION_ENTRY)


def check(document: CdaDocument, emit: Emitter) -> None:
    """VAC document rules."""
    root = document.root
    first = document.first
    templates = document.template_ids()
    if IHE_IMMUNIZATION_CONTENT not in templates:
        emit.error("VAC-TEMPLATEID", f"a VAC document declares templateId {IHE_IMMUNIZATION_CONTENT} (IHE Immunization Content)", root)
    code = first("cda:code")
    expected = {DOCUMENT_CODES[t] for t in templates if t in DOCUMENT_CODES}
    if expected and (code is None or code.get("codeSystem") != LOINC or code.get("code") not in expected):
        emit.error("VAC-CODE", f"ClinicalDocument/code shall be LOINC {' or '.join(sorted(expected))}", present_or(code, root))

    sections = [s for s in document.xpath(".//cda:section") if PCC_IMMUNIZATIONS_SECTION in document.template_ids(s)]
    if not sections:
        emit.error("VAC-SECTION", f"an Immunizations section ({PCC_IMMUNIZATIONS_SECTION}) is required", root)
    for section in sections:
        missing = [t for t in SECTION_TEMPLATES if t not in document.template_ids(section)]
        if missing:
            emit.error("VAC-SECTION", f"the Immunizations section also carries templateId(s) {', '.join(missing)}", section)
        section_code = first("cda:code", section)
        if section_code is None or section_code.get("code") != IMMUNIZATIONS_SECTION_CODE or section_code.get("codeSystem") != LOINC:
            emit.error("VAC-SECTION", f"the Immunizations section code is LOINC {IMMUNIZATIONS_SECTION_CODE}",
                       present_or(section_code, section))
        if first("cda:text", section) is None:
            emit.error("VAC-SECTION", "the Immunizations section has a narrative text", section)
        for entry in document.xpath("cda:entry", section):
            administration = first("cda:substanceAdministration", entry)
            if administration is None:
                emit.error("VAC-ENTRY", "an Immunizations section entry is a substanceAdministration", entry)
                continue
            _immunization(document, emit, administration)


def _immunization(document: CdaDocument, emit: Emitter, administration: etree._Element) -> None:
    first = document.first
    missing = [t for t in ENTRY_TEMPLATES if t not in document.template_ids(administration)]
    if missing:
        emit.error("VAC-ENTRY", f"the immunization also carries templateId(s) {', '.join(missing)}", administration)
    for name in ("id", "code", "statusCode", "effectiveTime"):
        if first(f"cda:{name}", administration) is None:
            emit.error("VAC-ENTRY", f"an immunization has a {name}", administration)
    product = first("cda:consumable/cda:manufacturedProduct", administration)
    if product is None:
        emit.error("VAC-PRODUCT", "an immunization names its vaccine (consumable/manufacturedProduct)", administration)
    else:
        if PCC_PRODUCT_ENTRY not in document.template_ids(product):
            emit.error("VAC-PRODUCT", f"the vaccine product carries templateId {PCC_PRODUCT_ENTRY}", product)
        material_code = first("cda:manufacturedMaterial/cda:code", product)
        if material_code is None or not (material_code.get("code") or has_null_flavor(material_code)):
            emit.error("VAC-PRODUCT", "manufacturedMaterial/code (the vaccine) is required", product)
        if first("cda:manufacturedMaterial/cda:lotNumberText", product) is None:
            emit.warning("VAC-PRODUCT", "manufacturedMaterial/lotNumberText (batch) should be present", product)
    for observation in document.xpath("cda:entryRelationship/cda:observation", administration):
        obs_code = first("cda:code", observation)
        if obs_code is not None and obs_code.get("code") == DOSE_RANK_OBSERVATION_LOINC and obs_code.get("codeSystem") == LOINC:
            value = first("cda:value", observation)
            if value is None or xsi_type(value) != "INT" or not value.get("value", "").isdigit():
                emit.error("VAC-DOSE", "the dose-rank observation holds an INT value", present_or(value, observation))
