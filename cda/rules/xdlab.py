"""IHE XD-LAB (Sharing Laboratory Reports; Lab TF-3 / PaLM TF-3 content module
1.3.6.1.4.1.19376.1.3.3) rules.

Rule ids:
- XDLAB-TEMPLATEID: ClinicalDocument/templateId 1.3.6.1.4.1.19376.1.3.3.
- XDLAB-CODE: document code is LOINC (2.16.840.1.113883.6.1), 11502-2 or a specialty code.
- XDLAB-LANGUAGECODE: languageCode present.
- XDLAB-EFFECTIVETIME: effectiveTime present.
- XDLAB-RECORDTARGET: recordTarget/patientRole with id, and patient name, sex, birthTime.
- XDLAB-AUTHOR: at least one author.
- XDLAB-BODY: a structuredBody of Laboratory Specialty sections (1.3.6.1.4.1.19376.1.3.3.2.1).
- XDLAB-SECTION: a specialty section has a LOINC code, a narrative text or report-item
  sub-sections (1.3.6.1.4.1.19376.1.3.3.2.2); specialty codes outside the XD-LAB list: warning.
- XDLAB-ENTRY: a leaf section carries exactly one Laboratory Report Data Processing Entry
  (entry templateId 1.3.6.1.4.1.19376.1.3.1, typeCode DRIV) and a text.
- XDLAB-OBSERVATION: each result observation has a code (LOINC: else warning), a
  statusCode, and a value when completed; an effectiveTime (warning).
"""
from __future__ import annotations

from lxml import etree

from cda.datatypes import has_null_flavor, xsi_type
from cda.document import CdaDocument
from cda.oids import (
    HL7V3,
    LOINC,
    XD_LAB_DATA_PROCESSING_ENTRY,
    XD_LAB_DOCUMENT_CODES,
    XD_LAB_REPORT,
    XD_LAB_REPORT_ITEM_SECTION,
    XD_LAB_SPECIALTY_CODES,
    XD_LAB_SPECIALTY_SECTION,
)
from cda.rules import Emitter, present_or, require_template

OBSERVATION = f"{{{HL7V3}}}observation"


def check(document: CdaDocument, emit: Emitter) -> None:
    """XD-LAB header and body rules."""
    root = document.root
    first = document.first
    require_template(document, emit, "XDLAB-TEMPLATEID", XD_LAB_REPORT)

    code = first("cda:code")
    if code is None or code.get("codeSystem") != LOINC or code.get("code") not in XD_LAB_DOCUMENT_CODES:
        emit.error("XDLAB-CODE", "ClinicalDocument/code shall be LOINC 11502-2 or an XD-LAB specialty code", present_or(code, root))
    if first("cda:languageCode") is None:
        emit.error("XDLAB-LANGUAGECODE", "ClinicalDocument/languageCode is required", root)
    if first("cda:effectiveTime") is None:
        emit.error("XDLAB-EFFECTIVETIME", "ClinicalDocument/effectiveTime is required", root)

    role = first("cda:recordTarget/cda:patientRole")
    if role is None:
        emit.error("XDLAB-RECORDTARGET", "recordTarget/patientRole is required", root)
    else:
        if first("cda:id", role) is None:
            emit.error("XDLAB-RECORDTARGET", "patientRole/id is required", role)
        patient = first("cda:patient", role)
        if patient is None:
            emit.error("XDLAB-RECORDTARGET", "patientRole/patient is required", role)
        else:
            for name in ("name", "administrativeGenderCode", "birthTime"):
                if first(f"cda:{name}", patient) is None:
                    emit.error("XDLAB-RECORDTARGET", f"patient/{name} is required (nullFlavor allowed)", patient)
    if not document.xpath("cda:author"):
        emit.error("XDLAB-AUTHOR", "at least one author is required", root)

    body = first("cda:component/cda:structuredBody")
    if body is None:
        emit.error("XDLAB-BODY", "a laboratory report has a structuredBody", root)
        return
    specialties = [s for s in document.xpath("cda:component/cda:section", body)
                   if XD_LAB_SPECIALTY_SECTION in document.template_ids(s)]
    if not specialties:
        emit.error("XDLAB-BODY", f"structuredBody shall hold Laboratory Specialty sections ({XD_LAB_SPECIALTY_SECTION})", body)
    for section in specialties:
        _specialty(document, emit, section)


def _specialty(document: CdaDocument, emit: Emitter, section: etree._Element) -> None:
    first = document.first
    code = first("cda:code", section)
    if code is None or code.get("codeSystem") != LOINC:
        emit.error("XDLAB-SECTION", "a Laboratory Specialty section has a LOINC code", present_or(code, section))
    elif code.get("code") not in XD_LAB_SPECIALTY_CODES:
        emit.warning("XDLAB-SECTION", "the specialty section code is not one of the XD-LAB specialty codes", code)
    items = [s for s in document.xpath("cda:component/cda:section", section)
             if XD_LAB_REPORT_ITEM_SECTION in document.template_ids(s)]
    if items:
        for item in items:
            _leaf(document, emit, item)
    else:
        _leaf(document, emit, section)


def _leaf(document: CdaDocument, emit: Emitter, section: etree._Element) -> None:
    """A section holding results: one data-processing entry and the narrative."""
    first = document.first
    if first("cda:text", section) is None:
        emit.error("XDLAB-ENTRY", "a section holding results has a narrative text", section)
    entries = [e for e in document.xpath("cda:entry", section) if _is_data_processing_entry(document, e)]
    if len(entries) != 1:
        emit.error("XDLAB-ENTRY",
                   f"a section holding results carries exactly one data-processing entry ({XD_LAB_DATA_PROCESSING_ENTRY}), found {len(entries)}",
                   section)
    for entry in entries:
        if entry.get("typeCode") != "DRIV":
            emit.error("XDLAB-ENTRY", "the data-processing entry has typeCode DRIV", entry, "typeCode")
        observations = [o for o in entry.iter(OBSERVATION) if o.get("moodCode", "EVN") == "EVN"]
        if not observations:
            emit.error("XDLAB-OBSERVATION", "the data-processing entry holds no result observation", entry)
        for observation in observations:
            _observation(document, emit, observation)


def _is_data_processing_entry(document: CdaDocument, entry: etree._Element) -> bool:
    if XD_LAB_DATA_PROCESSING_ENTRY in document.template_ids(entry):
        return True
    act = document.first("cda:act", entry)
    return act is not None and XD_LAB_DATA_PROCESSING_ENTRY in document.template_ids(act)


def _observation(document: CdaDocument, emit: Emitter, observation: etree._Element) -> None:
    first = document.first
    code = first("cda:code", observation)
    if code is None or not (code.get("code") or has_null_flavor(code)):
        emit.error("XDLAB-OBSERVATION", "a result observation has a code", present_or(code, observation))
    elif code.get("codeSystem") != LOINC and not has_null_flavor(code):
        emit.warning("XDLAB-OBSERVATION", "the observation code is not LOINC", code)
    status = first("cda:statusCode", observation)
    if status is None or not status.get("code"):
        emit.error("XDLAB-OBSERVATION", "a result observation has a statusCode", observation)
    elif status.get("code") == "completed":
        value = first("cda:value", observation)
        if value is None:
            emit.error("XDLAB-OBSERVATION", "a completed result observation has a value", observation)
        elif xsi_type(value) == "PQ" and value.get("value") and not value.get("unit"):
            emit.warning("XDLAB-OBSERVATION", "a PQ result should carry its UCUM unit", value)
    if first("cda:effectiveTime", observation) is None:
        emit.warning("XDLAB-OBSERVATION", "a result observation should carry its effectiveTime", observation)
