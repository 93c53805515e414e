"""IHE XDS-SD (Scanned Documents, ITI TF-3 5.2, templateId 1.3.6.1.4.1.19376.1.2.20), as
used by the CI-SIS for unstructured documents.

Rule ids:
- XDSSD-TEMPLATEID: ClinicalDocument/templateId 1.3.6.1.4.1.19376.1.2.20.
- XDSSD-BODY: component/nonXMLBody/text with representation B64, a @mediaType of
  application/pdf or text/plain, and base64 content that decodes (a PDF starts with %PDF-).
- XDSSD-DEVICE: an author/assignedAuthor/assignedAuthoringDevice (the scanner or the
  converting software) is present.
"""
from __future__ import annotations

import base64
import binascii

from cda.document import CdaDocument
from cda.oids import XDS_SD
from cda.rules import Emitter, require_template

MEDIA_TYPES = frozenset({"application/pdf", "text/plain"})


def check(document: CdaDocument, emit: Emitter) -> None:
    """XDS-SD rules."""
    root = document.root
    first = document.first
    require_template(document, emit, "XDSSD-TEMPLATEID", XDS_SD)
    text = first("cda:component/cda:nonXMLBody/cda:text")
    if text is None:
        emit.error("XDSSD-BODY", "a scanned document has component/nonXMLBody/text", root)
    else:
        media_type = text.get("mediaType", "")
        if media_type not in MEDIA_TYPES:
            emit.error("XDSSD-BODY", "nonXMLBody/text/@mediaType shall be application/pdf or text/plain", text, "mediaType")
        if text.get("representation") != "B64":
            emit.error("XDSSD-BODY", "nonXMLBody/text/@representation shall be B64", text, "representation")
        else:
            try:
                content = base64.b64decode("".join((text.text or "").split()), validate=True)
            except (binascii.Error, ValueError):
                emit.error("XDSSD-BODY", "nonXMLBody/text is not valid base64", text)
            else:
                if not content:
                    emit.error("XDSSD-BODY", "nonXMLBody/text is empty", text)
                elif media_type == "application/pdf" and not content.startswith(b"%PDF-"):
                    emit.error("XDSSD-BODY", "nonXMLBody/text declared application/pdf does not hold a PDF", text)
    if first("cda:author/cda:assignedAuthor/cda:assignedAuthoringDevice") is None:
        emit.error("XDSSD-DEVICE", "an author with assignedAuthoringDevice (scanner or conversion software) is required", root)
