"""CI-SIS CR-BIO ("compte rendu d'examens de biologie médicale", document template
1.2.250.1.213.1.1.1.55): the French profile of IHE XD-LAB.

Rule ids:
- CRBIO-TEMPLATEID: the document also declares XD-LAB 1.3.6.1.4.1.19376.1.3.3.
- CRBIO-CODE: document code LOINC 11502-2.
- CRBIO-SECTION: every XD-LAB specialty section also carries 1.2.250.1.213.1.1.2.70 and
  every report-item section 1.2.250.1.213.1.1.2.71.
- CRBIO-ENTRY: every data-processing entry also carries 1.2.250.1.213.1.1.3.21.
- CRBIO-OBSERVATION: every XD-LAB result observation (1.3.6.1.4.1.19376.1.3.1.6) also
  carries 1.2.250.1.213.1.1.3.80 and is coded in LOINC.
"""
from __future__ import annotations

from cda.document import CdaDocument
from cda.oids import (
    CRBIO_DATA_PROCESSING_ENTRY,
    CRBIO_REPORT_ITEM_SECTION,
    CRBIO_RESULT_OBSERVATION,
    CRBIO_SPECIALTY_SECTION,
    HL7V3,
    LOINC,
    XD_LAB_DATA_PROCESSING_ENTRY,
    XD_LAB_REPORT,
    XD_LAB_REPORT_ITEM_SECTION,
    XD_LAB_RESULT_OBSERVATION,
    XD_LAB_SPECIALTY_SECTION,
)
from cda.rules import Emitter, present_or

CR_BIO_CODE = "11502-2"


def check(document: CdaDocument, emit: Emitter) -> None:
    """CR-BIO rules on top of XD-LAB."""
    root = document.root
    if XD_LAB_REPORT not in document.template_ids():
        emit.error("CRBIO-TEMPLATEID", f"a CR-BIO document also declares templateId {XD_LAB_REPORT} (XD-LAB)", root)
    code = document.first("cda:code")
    if code is None or code.get("code") != CR_BIO_CODE or code.get("codeSystem") != LOINC:
        emit.error("CRBIO-CODE", f"ClinicalDocument/code shall be LOINC {CR_BIO_CODE}", present_or(code, root))
    pairs = (
        ("CRBIO-SECTION", XD_LAB_SPECIALTY_SECTION, CRBIO_SPECIALTY_SECTION, "specialty section"),
        ("CRBIO-SECTION", XD_LAB_REPORT_ITEM_SECTION, CRBIO_REPORT_ITEM_SECTION, "report-item section"),
        ("CRBIO-ENTRY", XD_LAB_DATA_PROCESSING_ENTRY, CRBIO_DATA_PROCESSING_ENTRY, "data-processing entry"),
        ("CRBIO-OBSERVATION", XD_LAB_RESULT_OBSERVATION, CRBIO_RESULT_OBSERVATION, "result observation"),
    )
    for rule, ihe, french, what in pairs:
        for template in root.iter(f"{{{HL7V3}}}templateId"):
            if template.get("root") != ihe:
                continue
            owner = template.getparent()
            if french not in document.template_ids(owner):
                emit.error(rule, f"an XD-LAB {what} ({ihe}) also carries the CR-BIO templateId {french}", owner)
            if rule == "CRBIO-OBSERVATION":
                obs_code = document.first("cda:code", owner)
                if obs_code is None or obs_code.get("codeSystem") != LOINC:
                    emit.error(rule, "a CR-BIO result observation is coded in LOINC", present_or(obs_code, owner))
