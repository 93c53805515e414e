"""XDM Portable Media Creator: a patient's documents written to a ZIP medium (ITI-32).

Layout (ITI TF-3 4.3.1): `INDEX.HTM` and `README.TXT` at the root, and one
`IHE_XDM/SUBSETnn/` folder per submission set the documents were registered in, holding
`METADATA.XML` (an `lcm:SubmitObjectsRequest` with the SubmissionSet, its approved
DocumentEntries of the patient and their HasMember associations, each entry's `URI` slot
naming its file) and the document files (`DOCnnnnn.XML`, `.PDF`, ...). Metadata is written
as registered, so that importing the medium reproduces it.
"""
from __future__ import annotations

import html
import io
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from actors.xds import constants as c
from hub.wire import xmlsafe
from hub.store.models.xds import XdsAssociation, XdsDocument, XdsDocumentEntry, XdsSubmissionSet

RIM = f"{{{c.RIM}}}"
_EXTENSIONS = {
    "text/xml": "XML",
    "application/xml": "XML",
    "application/hl7-v3+xml": "XML",
    "application/pdf": "PDF",
    "text/plain": "TXT",
    "text/html": "HTM",
    "image/jpeg": "JPG",
    "image/png": "PNG",
}


class NothingToExport(LookupError):
    """The patient has no approved document in the registry."""


@dataclass
class ExportResult:
    data: bytes
    documents: int
    subsets: int


def _element(xml: str) -> etree._Element:
    # Serialised by the registry from metadata that came in through xmlsafe.parse.
    return xmlsafe.parse_own(xml.encode("utf-8"))


def _set_uri(entry: etree._Element, uri: str) -> None:
    for slot in entry.iterchildren(f"{RIM}Slot"):
        if slot.get("name") == "URI":
            entry.remove(slot)
    slot = etree.Element(f"{RIM}Slot", name="URI")
    etree.SubElement(etree.SubElement(slot, f"{RIM}ValueList"), f"{RIM}Value").text = uri
    entry.insert(0, slot)


def _has_member(source: str, target: str, number: int) -> etree._Element:
    association = etree.Element(
        f"{RIM}Association",
        id=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        associationType=c.HAS_MEMBER,
        sourceObject=source,
        targetObject=target,
    )
    slot = etree.SubElement(association, f"{RIM}Slot", name=c.SLOT_SUBMISSION_SET_STATUS)
    etree.SubElement(etree.SubElement(slot, f"{RIM}ValueList"), f"{RIM}Value").text = "Original"
    return association


def _index(patient: str, files: list[tuple[str, str, str]], created: str) -> bytes:
    rows = "\n".join(
        f'<tr><td><a href="{html.escape(path)}">{html.escape(path)}</a></td><td>{html.escape(title)}</td>'
        f"<td>{html.escape(mime)}</td></tr>"
        for path, title, mime in files
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>XDM medium</title></head><body>\n"
        f"<h1>Documents of patient {html.escape(patient)}</h1>\n<p>Created {html.escape(created)} by tsnhub.</p>\n"
        f"<table><tr><th>File</th><th>Title</th><th>Type</th></tr>\n{rows}\n</table>\n"
        '<p>See <a href="README.TXT">README.TXT</a>.</p></body></html>\n'
    ).encode("utf-8")


def _readme(created: str, documents: int) -> bytes:
    return (
        "XDM medium (IHE ITI-32 Distribute Document Set on Media)\r\n"
        "Created by tsnhub, IHE interoperability hub.\r\n"
        f"Date: {created}\r\nDocuments: {documents}\r\n"
        "Open INDEX.HTM in a browser to list the documents. Metadata: IHE_XDM/SUBSETnn/METADATA.XML.\r\n"
    ).encode("utf-8")


def _title(entry: etree._Element) -> str:
    value = entry.find(f"{RIM}Name/{RIM}LocalizedString")
    return value.get("value", "") if value is not None else ""


def export_patient(session: Session, patient_id: str, now: datetime | None = None,
                   readable: Callable[[Sequence[XdsDocumentEntry]], list[bool]] | None = None) -> ExportResult:
    """Build the medium of `patient_id`'s approved documents; `readable(entries)` is the
    access decision per entry (None: every entry), the others are left out."""
    entries = session.scalars(
        select(XdsDocumentEntry)
        .where(XdsDocumentEntry.patient_id == patient_id, XdsDocumentEntry.status == c.STATUS_APPROVED)
        .order_by(XdsDocumentEntry.unique_id)
    ).all()
    if readable is not None:
        entries = [entry for entry, shown in zip(entries, readable(entries)) if shown]
    if not entries:
        raise NothingToExport(patient_id)
    by_uuid = {e.uuid: e for e in entries}
    memberships = session.execute(
        select(XdsAssociation.source, XdsAssociation.target).where(
            XdsAssociation.association_type == c.HAS_MEMBER, XdsAssociation.target.in_(list(by_uuid))
        )
    ).all()
    submission_sets = {
        s.uuid: s
        for s in session.scalars(
            select(XdsSubmissionSet).where(XdsSubmissionSet.uuid.in_({source for source, _ in memberships}))
        )
    }
    groups: dict[str, list[XdsDocumentEntry]] = defaultdict(list)
    for source, target in memberships:
        if source in submission_sets:
            groups[source].append(by_uuid[target])
    contents = {
        d.unique_id: d
        for d in session.scalars(select(XdsDocument).where(XdsDocument.unique_id.in_([e.unique_id for e in entries])))
    }
    created = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    buffer = io.BytesIO()
    listed: list[tuple[str, str, str]] = []
    association_number = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ordered = sorted(groups, key=lambda uuid: submission_sets[uuid].submission_time)
        for subset_number, ss_uuid in enumerate(ordered, start=1):
            folder = f"IHE_XDM/SUBSET{subset_number:02d}"
            request = etree.Element(f"{{{c.LCM}}}SubmitObjectsRequest", nsmap={"lcm": c.LCM, "rim": c.RIM})
            object_list = etree.SubElement(request, f"{RIM}RegistryObjectList")
            package = _element(submission_sets[ss_uuid].xml)
            object_list.append(package)
            if package.find(f"{RIM}Classification[@classificationNode='{c.XDSSubmissionSet}']") is None:
                etree.SubElement(
                    object_list,
                    f"{RIM}Classification",
                    id=f"urn:uuid:00000000-0000-4000-9000-{subset_number:012d}",
                    classifiedObject=ss_uuid,
                    classificationNode=c.XDSSubmissionSet,
                )
            for document_number, entry_row in enumerate(sorted(groups[ss_uuid], key=lambda e: e.unique_id), start=1):
                stored = contents.get(entry_row.unique_id)
                if stored is None:
                    continue  # registered elsewhere: this repository does not hold the bytes
                name = f"DOC{document_number:05d}.{_EXTENSIONS.get(entry_row.mime_type, 'BIN')}"
                entry = _element(entry_row.xml)
                _set_uri(entry, name)
                object_list.append(entry)
                association_number += 1
                object_list.append(_has_member(ss_uuid, entry_row.uuid, association_number))
                archive.writestr(f"{folder}/{name}", stored.content)
                listed.append((f"{folder}/{name}", _title(entry), entry_row.mime_type))
            archive.writestr(
                f"{folder}/METADATA.XML", etree.tostring(request, encoding="UTF-8", xml_declaration=True, pretty_print=True)
            )
        archive.writestr("INDEX.HTM", _index(patient_id, listed, created))
        archive.writestr("README.TXT", _readme(created, len(listed)))
    return ExportResult(buffer.getvalue(), documents=len(listed), subsets=len(ordered))
