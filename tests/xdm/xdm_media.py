"""XDM media the tests make themselves (ITI TF-3 4.3.1: INDEX.HTM and README.TXT at the
root, one IHE_XDM/SUBSETnn/ folder per submission set with its METADATA.XML and the
document files its DocumentEntries' URI slots name).

Two sources: documents registered in a store through the ITI-41 path and written by the
project's exporter (`register`, then `actors.xdm.exporter.export_patient`), and media
composed here (`compose`) for what the reader and the importer meet on real media and
what the exporter never writes: a top folder above IHE_XDM, lower-case names, a URI in
another case than the file, several subsets, no INDEX.HTM/README.TXT, ebXML 2.1 metadata,
limited metadata, and the broken variants. All data are synthetic: the INS under the INS
test OID, local identifiers under 2.999.
"""
from __future__ import annotations

import base64
import io
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from actors.xds import constants as c
from actors.xds.patients import StorePatientDirectory, add_known_patient
from actors.xds.repository import RepositorySettings, parse_provide_and_register, provide_and_register
from conformance.xds_metadata import CodeSpec, DocumentSpec, submit_objects_request
from conformance.xds_metadata import provide_and_register as pnr_body
from hub.store import Store

R = f"{{{c.RIM}}}"

# The affinity domain is the INS (test OID); 2850375112045 is an invented NIR, 53 its key
# (97 - NIR mod 97).
AFFINITY = "1.2.250.1.213.1.4.10"
NIR = "285037511204553"
PATIENT = f"{NIR}^^^&{AFFINITY}&ISO"
# The medium's source names the patient by its local identifier (IPP of a clinic).
SOURCE_DOMAIN = "2.999.42.7.1"
MEDIUM_PATIENT = f"IPP-770312^^^&{SOURCE_DOMAIN}&ISO"
REPOSITORY = "1.2.250.1.213.1.999.1"
IMPORTER_SOURCE = "1.2.250.1.213.1.999.2"
MEDIUM_SOURCE = "2.999.42.7.9"

# What an operator completes limited XDM metadata with (French affinity-domain codes).
COMPLETION = {
    "classCode": "11488-4|2.16.840.1.113883.6.1|Note de consultation",
    "typeCode": "11488-4|2.16.840.1.113883.6.1|Note de consultation",
    "formatCode": "urn:ihe:iti:xds:2017:mimeTypeSufficient|1.3.6.1.4.1.19376.1.2.3|mimeType Sufficient",
    "confidentialityCode": "N|2.16.840.1.113883.5.25|Normal",
    "healthcareFacilityTypeCode": "SA01|1.2.250.1.71.4.2.4|Etablissement public de sante",
    "practiceSettingCode": "ETABLISSEMENT|1.2.250.1.213.1.1.4.9|Etablissement de sante",
    "contentTypeCode": "04|1.2.250.1.213.1.1.4.12|Hospitalisation",
    "languageCode": "fr-FR",
    "creationTime": "20240726183900",
}

# Document metadata XDM allows a source to leave out ("limited metadata", ITI TF-3 4.3.1
# and 4.1.1.1), but that an XDS registry requires.
LIMITED_CODES = (
    c.XDSDocumentEntry_classCode,
    c.XDSDocumentEntry_typeCode,
    c.XDSDocumentEntry_formatCode,
    c.XDSDocumentEntry_confidentialityCode,
    c.XDSDocumentEntry_healthCareFacilityTypeCode,
    c.XDSDocumentEntry_practiceSettingCode,
    c.XDSSubmissionSet_contentTypeCode,
)


def cda(title: str, text: str) -> bytes:
    """A small CDA R2 document (synthetic, unvalidated: the importer's gate is off here)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><realmCode code="FR"/>'
        '<typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>'
        f'<id root="2.999.42.7.3" extension="{zlib.crc32(title.encode())}"/>'
        '<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/>'
        f"<title>{title}</title><component><nonXMLBody><text>{text}</text></nonXMLBody></component>"
        "</ClinicalDocument>\n"
    ).encode("utf-8")


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


MIME_TYPE_SUFFICIENT = CodeSpec("urn:ihe:iti:xds:2017:mimeTypeSufficient", "1.3.6.1.4.1.19376.1.2.3", "mimeType Sufficient")


def document(content: bytes, mime_type: str = "text/plain", title: str = "Document", **changes: object) -> DocumentSpec:
    """A DocumentEntry as an XDM source writes it: hash and size are required on media.
    A document that is not CDA says so by its formatCode (mimeType sufficient)."""
    changes.setdefault("format_code", MIME_TYPE_SUFFICIENT)
    return DocumentSpec(content=content, mime_type=mime_type, title=title, with_hash_and_size=True, **changes)  # type: ignore[arg-type]


def three_documents() -> list[DocumentSpec]:
    return [
        document(b"Compte rendu de consultation du 2 janvier 2024.\n", "text/plain", "Consultation"),
        document(PDF, "application/pdf", "Ordonnance",
                 class_code=CodeSpec("57833-6", "2.16.840.1.113883.6.1", "Prescription"),
                 type_code=CodeSpec("57833-6", "2.16.840.1.113883.6.1", "Prescription"),
                 confidentiality_codes=[CodeSpec("R", "2.16.840.1.113883.5.25", "Restricted")],
                 event_codes=[CodeSpec("GASTRO", "2.999.42.7.5", "Gastro-enterologie")]),
        document(cda("Lettre de liaison", "Sortie le 3 janvier 2024."), "text/xml", "Lettre de liaison",
                 class_code=CodeSpec("34133-9", "2.16.840.1.113883.6.1", "Synthese"),
                 type_code=CodeSpec("11490-0", "2.16.840.1.113883.6.1", "Lettre de sortie"),
                 format_code=CodeSpec("urn:ihe:pcc:xds-ms:2007", "1.3.6.1.4.1.19376.1.2.3", "XDS-MS")),
    ]


# -- registering documents, for the exporter ------------------------------------------------

def seed(store: Store, *patients: str) -> None:
    with store.transaction() as session:
        for patient in patients:
            add_known_patient(session, patient)


def register(store: Store, patient: str, documents: Sequence[DocumentSpec], submission_time: str,
             repository: str = REPOSITORY) -> None:
    """ITI-41 into the store (the repository's own path, documents inline); raises on refusal."""
    request = submit_objects_request(patient, documents=documents, submission_time=submission_time,
                                     source_id=MEDIUM_SOURCE)
    body, _ = pnr_body(request, list(documents), mtom=False)
    parsed = parse_provide_and_register(body, lambda e: base64.b64decode(e.text or ""))
    with store.transaction() as session:
        provide_and_register(session, parsed, StorePatientDirectory(session, AFFINITY), RepositorySettings(repository))


# -- composing media --------------------------------------------------------------------------

def metadata(
    patient: str,
    documents: Sequence[DocumentSpec],
    uris: Sequence[str | None] | None = None,
    *,
    drop_codes: Iterable[str] = (),
    drop_slots: Iterable[str] = (),
    submission_time: str = "20240103120000",
    source_id: str = MEDIUM_SOURCE,
) -> etree._Element:
    """The METADATA.XML request of one subset: `uris[i]` is the URI slot of document i
    (None: no URI slot); `drop_codes`/`drop_slots` remove classifications and slots that
    XDM lets a source leave out."""
    request = submit_objects_request(patient, documents=documents, submission_time=submission_time, source_id=source_id)
    names = list(uris) if uris is not None else [default_name(i, d) for i, d in enumerate(documents, 1)]
    for spec, uri in zip(documents, names):
        entry = request.find(f".//{R}ExtrinsicObject[@id='{spec.symbolic_id}']")
        assert entry is not None
        if uri is not None:
            slot = etree.Element(f"{R}Slot", name="URI")
            etree.SubElement(etree.SubElement(slot, f"{R}ValueList"), f"{R}Value").text = uri
            entry.insert(0, slot)
    dropped_codes, dropped_slots = set(drop_codes), set(drop_slots)
    for element in list(request.iter(f"{R}Classification", f"{R}Slot")):
        if element.get("classificationScheme") in dropped_codes or (
            etree.QName(element).localname == "Slot" and element.get("name") in dropped_slots
        ):
            element.getparent().remove(element)
    return request


def default_name(number: int, spec: DocumentSpec) -> str:
    extension = {"text/plain": "TXT", "application/pdf": "PDF"}.get(spec.mime_type, "XML")
    return f"DOC{number:04d}.{extension}"


def xml(request: etree._Element) -> bytes:
    return etree.tostring(request, encoding="UTF-8", xml_declaration=True, pretty_print=True)


RS21 = "urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1"
RIM21 = "urn:oasis:names:tc:ebxml-regrep:rim:xsd:2.1"


def as_ebxml21(request: etree._Element) -> etree._Element:
    """The same submission as an XDS.a-era medium writes it (ebRS/ebRIM 2.1): an
    rs:SubmitObjectsRequest with a LeafRegistryObjectList, ObjectRef declarations of the
    classification schemes and nodes, short association types, ExternalIdentifiers without
    registryObject, Classifications after the ExternalIdentifiers."""
    out = etree.Element(f"{{{RS21}}}SubmitObjectsRequest", nsmap={"rs": RS21, None: RIM21})
    leaves = etree.SubElement(out, f"{{{RIM21}}}LeafRegistryObjectList")
    referenced = sorted(
        {e.get("classificationScheme") or e.get("classificationNode") or "" for e in request.iter(f"{R}Classification")}
        | {e.get("identificationScheme", "") for e in request.iter(f"{R}ExternalIdentifier")}
    )
    for ref in referenced:
        if ref:
            etree.SubElement(leaves, f"{{{RIM21}}}ObjectRef", id=ref)

    def convert(element: etree._Element) -> etree._Element:
        local = etree.QName(element).localname
        copy = etree.Element(f"{{{RIM21}}}{local}", attrib=dict(element.attrib))
        copy.text = element.text
        if local == "ExternalIdentifier":
            copy.attrib.pop("registryObject", None)
        if local == "Association":
            copy.set("associationType", copy.get("associationType", "").rsplit(":", 1)[-1])
        children = [child for child in element if isinstance(child.tag, str)]
        rank = {"Slot": 0, "Name": 1, "Description": 2, "ExternalIdentifier": 3, "Classification": 4}
        for child in sorted(children, key=lambda e: rank.get(etree.QName(e).localname, 5)):
            copy.append(convert(child))
        return copy

    object_list = request.find(f"{R}RegistryObjectList")
    assert object_list is not None
    for child in object_list:
        leaves.append(convert(child))
    return out


@dataclass
class SubsetSpec:
    """One IHE_XDM/<name>/ folder: METADATA.XML (bytes, or None for none) and files by
    path relative to the folder."""

    name: str = "SUBSET01"
    metadata: bytes | None = b""
    files: dict[str, bytes] = field(default_factory=dict)


def subset(patient: str, documents: Sequence[DocumentSpec], name: str = "SUBSET01",
           uris: Sequence[str | None] | None = None, **options: object) -> SubsetSpec:
    """A subset whose METADATA.XML describes `documents`, each stored under its URI."""
    names = list(uris) if uris is not None else [default_name(i, d) for i, d in enumerate(documents, 1)]
    request = metadata(patient, documents, names, **options)  # type: ignore[arg-type]
    files = {uri: spec.content for uri, spec in zip(names, documents) if uri is not None}
    return SubsetSpec(name, xml(request), files)


def compose(
    subsets: Sequence[SubsetSpec],
    *,
    root: str = "",
    lower: bool = False,
    index: bool = True,
    readme: bool = True,
    extra: Sequence[tuple[str, bytes]] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A ZIP medium: `root` is a top folder above IHE_XDM ("" for none), `lower` writes
    every name of the interchange in lower case (as some media do), `extra` adds entries
    as given (names taken literally)."""

    def name(path: str) -> str:
        return root + (path.lower() if lower else path)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        if index:
            listed = "".join(
                f'<li><a href="IHE_XDM/{s.name}/{f}">{s.name}/{f}</a></li>' for s in subsets for f in s.files
            )
            archive.writestr(name("INDEX.HTM"), f"<html><body><ul>{listed}</ul></body></html>")
        if readme:
            archive.writestr(name("README.TXT"), "XDM medium written by the tsnhub test suite.\r\n")
        for spec in subsets:
            if spec.metadata is not None:
                archive.writestr(name(f"IHE_XDM/{spec.name}/METADATA.XML"), spec.metadata)
            for path, content in spec.files.items():
                # The file as the URI names it, less any case change `lower` applies.
                archive.writestr(root + (f"ihe_xdm/{spec.name.lower()}/{path}" if lower else f"IHE_XDM/{spec.name}/{path}"), content)
        for entry_name, content in extra:
            archive.writestr(entry_name, content)
    return buffer.getvalue()


def rewrite(data: bytes, replace: dict[str, bytes | None] | None = None, add: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A copy of a medium with entries replaced (by upper-cased name suffix; None drops
    the entry) and entries added."""
    replace = {k.upper(): v for k, v in (replace or {}).items()}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            match = next((k for k in replace if info.filename.upper().endswith(k)), None)
            if match is None:
                target.writestr(info.filename, source.read(info))
            elif replace[match] is not None:
                target.writestr(info.filename, replace[match])  # type: ignore[arg-type]
        for entry_name, content in add:
            target.writestr(entry_name, content)
    return out.getvalue()


def entry_slot(entry_xml: str | bytes, name: str) -> list[str]:
    element = etree.fromstring(entry_xml.encode() if isinstance(entry_xml, str) else entry_xml)
    return [
        v.text or ""
        for slot in element.iter(f"{R}Slot")
        if slot.get("name") == name
        for v in slot.iter(f"{R}Value")
    ]
