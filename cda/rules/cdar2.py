"""CDA R2 rules that the W3C schema cannot express (HL7 CDA R2 normative edition and the
HL7 v3 data types it uses).

Rule ids:
- CDAR2-ROOT: the root element is urn:hl7-org:v3 ClinicalDocument.
- CDAR2-TYPEID: typeId/@root = 2.16.840.1.113883.1.3 and @extension = POCD_HD000040 (§4.2.1.2).
- CDAR2-ID: ClinicalDocument/id is an instance identifier with a valid @root (§4.2.1.4).
- CDAR2-II: every II carries @root or @nullFlavor (data types II; warning: the HL7
  normative sample itself has an empty <id/> in an entry).
- CDAR2-REF: a narrative `reference/@value` of the form #ID points to an ID of the
  document's narrative (§4.3.5.1: originalText references).
- CDAR2-NONXML: nonXMLBody/text declares its @mediaType (§4.3.2).
"""
from __future__ import annotations

from cda.datatypes import is_ii_root
from cda.document import CdaDocument
from cda.oids import CDA_TYPE_ID_EXTENSION, CDA_TYPE_ID_ROOT, HL7V3
from cda.rules import Emitter

II_ELEMENTS = ("id", "setId", "templateId", "typeId")


def check(document: CdaDocument, emit: Emitter) -> None:
    """CDA R2 rules beyond the schema."""
    root = document.root
    if not document.is_clinical_document:
        emit.error("CDAR2-ROOT", f"the root element is {root.tag!s}, not {{{HL7V3}}}ClinicalDocument", root)
        return
    type_id = document.first("cda:typeId")
    if type_id is None:
        emit.error("CDAR2-TYPEID", "ClinicalDocument/typeId is required", root)
    elif type_id.get("root") != CDA_TYPE_ID_ROOT or type_id.get("extension") != CDA_TYPE_ID_EXTENSION:
        emit.error(
            "CDAR2-TYPEID",
            f"typeId shall be root {CDA_TYPE_ID_ROOT} extension {CDA_TYPE_ID_EXTENSION}",
            type_id,
        )
    document_id = document.first("cda:id")
    if document_id is None:
        emit.error("CDAR2-ID", "ClinicalDocument/id is required", root)
    elif not is_ii_root(document_id.get("root", "")):
        emit.error("CDAR2-ID", "ClinicalDocument/id/@root shall be an OID or a UUID", document_id, "root")
    for element in root.iter(*(f"{{{HL7V3}}}{name}" for name in ("id", "setId"))):
        if element is document_id:
            continue
        if not element.get("root") and not element.get("nullFlavor"):
            emit.warning("CDAR2-II", "an II has neither @root nor @nullFlavor", element)
        elif element.get("root") and not is_ii_root(element.get("root", "")):
            emit.warning("CDAR2-II", "II/@root is neither an OID nor a UUID", element, "root")
    ids = {e.get("ID") for e in root.iter() if isinstance(e.tag, str) and e.get("ID")}
    for reference in root.iter(f"{{{HL7V3}}}reference"):
        value = reference.get("value", "")
        if value.startswith("#") and value[1:] not in ids:
            emit.error("CDAR2-REF", f"reference {value} names no ID of the narrative", reference, "value")
    for text in document.xpath("cda:component/cda:nonXMLBody/cda:text"):
        if not text.get("mediaType") and text.get("representation") == "B64":
            emit.warning("CDAR2-NONXML", "nonXMLBody/text without @mediaType (defaults to text/plain)", text)
