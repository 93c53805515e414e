"""Building XDS.b metadata as a Document Source does (ITI TF-3 4.2.3, 4.2.5).

Used by the Document Source simulator (`conformance.xds_client`), the test suite and the
benchmarks. Values are plain Python data; the output is an lcm:SubmitObjectsRequest
element with symbolic ids, as a source sends it.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from actors.xds import constants as c

R = f"{{{c.RIM}}}"


def new_oid(root: str = "1.2.250.1.213.1.999.9") -> str:
    """A fresh OID under `root` (uuid-derived, for uniqueIds)."""
    return f"{root}.{uuid.uuid4().int % 10**30}"


@dataclass
class CodeSpec:
    code: str
    scheme: str
    display: str = ""


@dataclass
class DocumentSpec:
    """One DocumentEntry and its content."""

    content: bytes = b"hello"
    mime_type: str = "text/plain"
    symbolic_id: str = ""
    unique_id: str = field(default_factory=new_oid)
    entry_uuid: str | None = None
    class_code: CodeSpec = field(default_factory=lambda: CodeSpec("11488-4", "2.16.840.1.113883.6.1", "Consultation note"))
    type_code: CodeSpec = field(default_factory=lambda: CodeSpec("11488-4", "2.16.840.1.113883.6.1", "Consultation note"))
    format_code: CodeSpec = field(default_factory=lambda: CodeSpec("urn:ihe:iti:xds-sd:text:2008", "1.3.6.1.4.1.19376.1.2.3", "XDS-SD text"))
    confidentiality_codes: list[CodeSpec] = field(default_factory=lambda: [CodeSpec("N", "2.16.840.1.113883.5.25", "Normal")])
    event_codes: list[CodeSpec] = field(default_factory=list)
    facility_code: CodeSpec = field(default_factory=lambda: CodeSpec("SA", "1.2.250.1.71.4.2.4", "Cabinet"))
    practice_code: CodeSpec = field(default_factory=lambda: CodeSpec("ETABLISSEMENT", "1.2.250.1.213.1.1.4.9", "Etablissement"))
    creation_time: str = "20240102103000"
    service_start_time: str | None = "20240101080000"
    service_stop_time: str | None = None
    author_person: str | None = "801234567^MARTIN^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO"
    author_institution: str | None = "Clinique du Parc^^^^^^^^^1.2.250.1.71.4.2.2"
    language_code: str = "fr-FR"
    reference_ids: list[str] = field(default_factory=list)
    with_hash_and_size: bool = False
    repository_unique_id: str | None = None
    title: str = "Document"
    on_demand: bool = False

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.content).hexdigest()


@dataclass
class FolderSpec:
    symbolic_id: str = "Folder01"
    unique_id: str = field(default_factory=new_oid)
    title: str = "Folder"
    codes: list[CodeSpec] = field(default_factory=lambda: [CodeSpec("CARDIO", "1.2.250.1.999.1", "Cardiology")])
    members: list[str] = field(default_factory=list)  # symbolic ids or UUIDs of documents


@dataclass
class AssociationSpec:
    association_type: str
    source: str
    target: str
    slots: dict[str, list[str]] = field(default_factory=dict)
    symbolic_id: str = ""


def _slot(parent: etree._Element, name: str, values: list[str]) -> None:
    slot = etree.SubElement(parent, f"{R}Slot", name=name)
    value_list = etree.SubElement(slot, f"{R}ValueList")
    for value in values:
        etree.SubElement(value_list, f"{R}Value").text = value


def _name(parent: etree._Element, text: str, tag: str = "Name") -> None:
    etree.SubElement(etree.SubElement(parent, f"{R}{tag}"), f"{R}LocalizedString", value=text)


def _code(parent: etree._Element, owner: str, scheme: str, code: CodeSpec, counter: list[int]) -> None:
    counter[0] += 1
    element = etree.SubElement(
        parent,
        f"{R}Classification",
        id=f"cl{counter[0]}",
        classificationScheme=scheme,
        classifiedObject=owner,
        nodeRepresentation=code.code,
    )
    _slot(element, "codingScheme", [code.scheme])
    _name(element, code.display or code.code)


def _author(parent: etree._Element, owner: str, scheme: str, person: str | None, institution: str | None, counter: list[int]) -> None:
    if not person and not institution:
        return
    counter[0] += 1
    element = etree.SubElement(
        parent, f"{R}Classification", id=f"cl{counter[0]}", classificationScheme=scheme, classifiedObject=owner, nodeRepresentation=""
    )
    if person:
        _slot(element, "authorPerson", [person])
    if institution:
        _slot(element, "authorInstitution", [institution])


def _external(parent: etree._Element, owner: str, scheme: str, value: str, name: str, counter: list[int]) -> None:
    counter[0] += 1
    element = etree.SubElement(
        parent, f"{R}ExternalIdentifier", id=f"ei{counter[0]}", registryObject=owner, identificationScheme=scheme, value=value
    )
    _name(element, name)


def document_entry(spec: DocumentSpec, patient_id: str, counter: list[int]) -> etree._Element:
    """rim:ExtrinsicObject of a DocumentEntry."""
    entry_id = spec.entry_uuid or spec.symbolic_id
    entry = etree.Element(
        f"{R}ExtrinsicObject",
        id=entry_id,
        mimeType=spec.mime_type,
        objectType=c.DOCUMENT_ENTRY_ON_DEMAND if spec.on_demand else c.DOCUMENT_ENTRY_STABLE,
    )
    _slot(entry, "creationTime", [spec.creation_time])
    _slot(entry, "languageCode", [spec.language_code])
    if spec.service_start_time:
        _slot(entry, "serviceStartTime", [spec.service_start_time])
    if spec.service_stop_time:
        _slot(entry, "serviceStopTime", [spec.service_stop_time])
    _slot(entry, "sourcePatientId", [patient_id])
    _slot(entry, "sourcePatientInfo", [f"PID-3|{patient_id}", "PID-5|DUPONT^Jean^^^", "PID-7|19700101", "PID-8|M"])
    if spec.with_hash_and_size:
        _slot(entry, "hash", [spec.sha1])
        _slot(entry, "size", [str(len(spec.content))])
    if spec.repository_unique_id:
        _slot(entry, "repositoryUniqueId", [spec.repository_unique_id])
    if spec.reference_ids:
        _slot(entry, c.SLOT_REFERENCE_ID_LIST, spec.reference_ids)
    _name(entry, spec.title)
    _author(entry, entry_id, c.XDSDocumentEntry_author, spec.author_person, spec.author_institution, counter)
    _code(entry, entry_id, c.XDSDocumentEntry_classCode, spec.class_code, counter)
    for code in spec.confidentiality_codes:
        _code(entry, entry_id, c.XDSDocumentEntry_confidentialityCode, code, counter)
    for code in spec.event_codes:
        _code(entry, entry_id, c.XDSDocumentEntry_eventCodeList, code, counter)
    _code(entry, entry_id, c.XDSDocumentEntry_formatCode, spec.format_code, counter)
    _code(entry, entry_id, c.XDSDocumentEntry_healthCareFacilityTypeCode, spec.facility_code, counter)
    _code(entry, entry_id, c.XDSDocumentEntry_practiceSettingCode, spec.practice_code, counter)
    _code(entry, entry_id, c.XDSDocumentEntry_typeCode, spec.type_code, counter)
    _external(entry, entry_id, c.XDSDocumentEntry_patientId, patient_id, "XDSDocumentEntry.patientId", counter)
    _external(entry, entry_id, c.XDSDocumentEntry_uniqueId, spec.unique_id, "XDSDocumentEntry.uniqueId", counter)
    return entry


def submit_objects_request(
    patient_id: str,
    documents: Sequence[DocumentSpec] = (),
    folders: Sequence[FolderSpec] = (),
    associations: Sequence[AssociationSpec] = (),
    submission_unique_id: str | None = None,
    source_id: str = "1.2.250.1.213.1.999.7",
    submission_time: str | None = None,
    author_person: str | None = "801234567^MARTIN^Paul^^^^^^&1.2.250.1.71.4.2.1&ISO",
    content_type: CodeSpec | None = None,
) -> etree._Element:
    """lcm:SubmitObjectsRequest with one SubmissionSet, its DocumentEntries, Folders,
    the SubmissionSet HasMember associations and any further associations."""
    counter = [0]
    request = etree.Element(f"{{{c.LCM}}}SubmitObjectsRequest", nsmap={"lcm": c.LCM, "rim": c.RIM})
    objects = etree.SubElement(request, f"{R}RegistryObjectList")
    for index, spec in enumerate(documents, 1):
        if not spec.symbolic_id:
            spec.symbolic_id = f"Document{index:02d}"
        objects.append(document_entry(spec, patient_id, counter))
    for folder in folders:
        package = etree.SubElement(objects, f"{R}RegistryPackage", id=folder.symbolic_id)
        _name(package, folder.title)
        for code in folder.codes:
            _code(package, folder.symbolic_id, c.XDSFolder_codeList, code, counter)
        _external(package, folder.symbolic_id, c.XDSFolder_patientId, patient_id, "XDSFolder.patientId", counter)
        _external(package, folder.symbolic_id, c.XDSFolder_uniqueId, folder.unique_id, "XDSFolder.uniqueId", counter)
        counter[0] += 1
        etree.SubElement(
            objects, f"{R}Classification", id=f"cl{counter[0]}", classifiedObject=folder.symbolic_id, classificationNode=c.XDSFolder
        )
    ss_id = "SubmissionSet01"
    package = etree.SubElement(objects, f"{R}RegistryPackage", id=ss_id)
    _slot(package, "submissionTime", [submission_time or datetime.now(UTC).strftime("%Y%m%d%H%M%S")])
    _name(package, "Submission")
    _author(package, ss_id, c.XDSSubmissionSet_author, author_person, None, counter)
    _code(
        package,
        ss_id,
        c.XDSSubmissionSet_contentTypeCode,
        content_type or CodeSpec("04", "1.2.250.1.213.1.1.4.12", "Hospitalisation"),
        counter,
    )
    _external(package, ss_id, c.XDSSubmissionSet_uniqueId, submission_unique_id or new_oid(), "XDSSubmissionSet.uniqueId", counter)
    _external(package, ss_id, c.XDSSubmissionSet_sourceId, source_id, "XDSSubmissionSet.sourceId", counter)
    _external(package, ss_id, c.XDSSubmissionSet_patientId, patient_id, "XDSSubmissionSet.patientId", counter)
    counter[0] += 1
    etree.SubElement(objects, f"{R}Classification", id=f"cl{counter[0]}", classifiedObject=ss_id, classificationNode=c.XDSSubmissionSet)
    links = 0
    for spec in documents:
        links += 1
        association = etree.SubElement(
            objects,
            f"{R}Association",
            id=f"as{links}",
            associationType=c.HAS_MEMBER,
            sourceObject=ss_id,
            targetObject=spec.entry_uuid or spec.symbolic_id,
        )
        _slot(association, c.SLOT_SUBMISSION_SET_STATUS, ["Original"])
    for folder in folders:
        links += 1
        etree.SubElement(
            objects, f"{R}Association", id=f"as{links}", associationType=c.HAS_MEMBER, sourceObject=ss_id, targetObject=folder.symbolic_id
        )
        for member in folder.members:
            links += 1
            fd_id = f"as{links}"
            etree.SubElement(
                objects, f"{R}Association", id=fd_id, associationType=c.HAS_MEMBER, sourceObject=folder.symbolic_id, targetObject=member
            )
            links += 1
            etree.SubElement(objects, f"{R}Association", id=f"as{links}", associationType=c.HAS_MEMBER, sourceObject=ss_id, targetObject=fd_id)
    for spec_a in associations:
        links += 1
        association = etree.SubElement(
            objects,
            f"{R}Association",
            id=spec_a.symbolic_id or f"as{links}",
            associationType=spec_a.association_type,
            sourceObject=spec_a.source,
            targetObject=spec_a.target,
        )
        for name, values in spec_a.slots.items():
            _slot(association, name, values)
    return request


def provide_and_register(request: etree._Element, documents: list[DocumentSpec], mtom: bool) -> tuple[etree._Element, dict[str, bytes]]:
    """xdsb:ProvideAndRegisterDocumentSetRequest around `request`: the Document elements
    carry inline base64, or an xop:Include naming a MIME part (returned by Content-ID)."""
    body = etree.Element(f"{{{c.XDSB}}}ProvideAndRegisterDocumentSetRequest", nsmap={"xdsb": c.XDSB})
    body.append(request)
    parts: dict[str, bytes] = {}
    for spec in documents:
        element = etree.SubElement(body, f"{{{c.XDSB}}}Document", id=spec.entry_uuid or spec.symbolic_id)
        if mtom:
            content_id = f"{uuid.uuid4().hex}@source"
            etree.SubElement(element, "{http://www.w3.org/2004/08/xop/include}Include", href=f"cid:{content_id}", nsmap={"xop": "http://www.w3.org/2004/08/xop/include"})
            parts[content_id] = spec.content
        else:
            element.text = base64.b64encode(spec.content).decode("ascii")
    return body, parts
