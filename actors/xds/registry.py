"""Document Registry: ITI-42 Register Document Set-b (ITI TF-2b 3.42) and the registry
side of ITI-41 and ITI-57.

`register` checks a parsed submission against the metadata rules and the registry
content, resolves symbolic ids, and writes every object in the caller's transaction;
it raises `XdsFailure` with the errors otherwise (the caller rolls back).
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from actors.xds import constants as c
from actors.xds import datatypes as dt
from actors.xds.errors import RegistryError, XdsFailure
from actors.xds.metadata import (
    RIM,
    Association,
    DocumentEntry,
    Folder,
    RegistryObject,
    Submission,
    SubmissionSet,
    resolve_symbolic_ids,
)
from actors.xds.patients import PatientDirectory
from actors.xds.validation import ITI42, ValidationContext, validate_submission
from hub.store.models.xds import (
    PatientObject,
    XdsAssociation,
    XdsAuthor,
    XdsCode,
    XdsDocumentEntry,
    XdsFolder,
    XdsReferenceId,
    XdsSubmissionSet,
)

CODE_EVENT = "eventCode"
CODE_CONFIDENTIALITY = "confidentialityCode"
CODE_FOLDER = "folderCode"


@dataclass
class Registered:
    """What a successful registration wrote (for events and the audit record)."""

    patient_id: str
    submission_set: str
    documents: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)
    warnings: list[RegistryError] = field(default_factory=list)


def now_dtm(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _code_key(obj: RegistryObject, scheme: str) -> str:
    code = obj.code(scheme)
    return code.key if code else ""


def _padded(value: str | None) -> str | None:
    return dt.pad_dtm(value) if value else None


def _set_version(element: etree._Element, lid: str, version: int) -> None:
    """lid and VersionInfo as the registry assigns them (ITI TF-3 4.1.9 / Metadata Update)."""
    element.set("lid", lid)
    for attribute in ("status", "home"):
        if attribute in element.attrib:
            del element.attrib[attribute]
    for old in element.findall(f"{RIM}VersionInfo"):
        element.remove(old)
    info = etree.Element(f"{RIM}VersionInfo", versionName=str(version))
    # ebRIM order: Slot*, Name?, Description?, VersionInfo?, then Classifications...
    anchor = None
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname in ("Classification", "ExternalIdentifier"):
            anchor = child
            break
    if anchor is None:
        element.append(info)
    else:
        anchor.addprevious(info)


def _xml(element: etree._Element) -> str:
    return str(etree.tostring(element, encoding="unicode"))


def _set_slot(element: etree._Element, name: str, values: list[str]) -> None:
    """Replace (or add, before Name) a rim:Slot."""
    for slot in element.findall(f"{RIM}Slot"):
        if slot.get("name") == name:
            element.remove(slot)
    slot = etree.Element(f"{RIM}Slot", name=name)
    value_list = etree.SubElement(slot, f"{RIM}ValueList")
    for value in values:
        etree.SubElement(value_list, f"{RIM}Value").text = value
    slots = element.findall(f"{RIM}Slot")
    if slots:
        slots[-1].addnext(slot)
    else:
        element.insert(0, slot)


def document_row(entry: DocumentEntry, lid: str, version: int) -> XdsDocumentEntry:
    size = entry.slot("size")
    return XdsDocumentEntry(
        uuid=entry.id,
        lid=lid,
        version=version,
        unique_id=entry.unique_id or "",
        patient_id=entry.patient_id or "",
        status=c.STATUS_APPROVED,
        object_type=entry.object_type or c.DOCUMENT_ENTRY_STABLE,
        class_code=_code_key(entry, c.XDSDocumentEntry_classCode),
        type_code=_code_key(entry, c.XDSDocumentEntry_typeCode),
        format_code=_code_key(entry, c.XDSDocumentEntry_formatCode),
        healthcare_facility_type_code=_code_key(entry, c.XDSDocumentEntry_healthCareFacilityTypeCode),
        practice_setting_code=_code_key(entry, c.XDSDocumentEntry_practiceSettingCode),
        creation_time=_padded(entry.slot("creationTime")),
        service_start_time=_padded(entry.slot("serviceStartTime")),
        service_stop_time=_padded(entry.slot("serviceStopTime")),
        repository_unique_id=entry.slot("repositoryUniqueId"),
        hash=(entry.slot("hash") or "").lower() or None,
        size=int(size) if size and size.isdigit() else None,
        mime_type=entry.mime_type,
        xml=_xml(entry.element),
    )


def _index_rows(entry: RegistryObject, author_scheme: str | None, codes: Mapping[str, str]) -> list[object]:
    rows: list[object] = []
    for kind, scheme in codes.items():
        rows.extend(XdsCode(object_uuid=entry.id, kind=kind, code=code.key) for code in entry.codes(scheme))
    if author_scheme:
        rows.extend(
            XdsAuthor(object_uuid=entry.id, person=author.person[:256])
            for author in entry.authors(author_scheme)
            if author.person
        )
    return rows


def _existing_objects(session: Session, uuids: set[str]) -> dict[str, tuple[str, object]]:
    """Registry objects among `uuids`: uuid -> (kind, row)."""
    found: dict[str, tuple[str, object]] = {}
    if not uuids:
        return found
    models: tuple[tuple[str, type[PatientObject | XdsAssociation]], ...] = (
        ("DocumentEntry", XdsDocumentEntry),
        ("Folder", XdsFolder),
        ("SubmissionSet", XdsSubmissionSet),
        ("Association", XdsAssociation),
    )
    for kind, model in models:
        rows: list[PatientObject | XdsAssociation] = list(session.scalars(select(model).where(model.uuid.in_(uuids))))
        for row in rows:
            found[row.uuid] = (kind, row)
    return found


@dataclass
class RegistrySettings:
    """What the registry needs from the hub's configuration."""

    value_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)


def check_against_registry(
    session: Session, submission: Submission, patients: PatientDirectory, update_mode: bool = False
) -> list[RegistryError]:
    """Rules that need the registry content (ITI TF-2b 3.42.4.1.3): known patient,
    uniqueIds not yet registered, UUIDs not yet used."""
    errors: list[RegistryError] = []
    ss = submission.submission_set
    assert ss is not None
    patient = ss.patient_id or ""
    if not patients.is_known(patient):
        errors.append(
            RegistryError(c.XDSUnknownPatientId, f"patient id {patient} is not known in the affinity domain", ss.id)
        )
    doc_unique = {d.unique_id: d for d in submission.documents if d.unique_id}
    updated_lids = {d.lid for d in submission.documents if update_mode and d.lid and d.lid != d.id}
    if doc_unique:
        for row in session.execute(
            select(XdsDocumentEntry.unique_id, XdsDocumentEntry.lid, XdsDocumentEntry.hash).where(
                XdsDocumentEntry.unique_id.in_(doc_unique)
            )
        ):
            entry = doc_unique[row.unique_id]
            if row.lid in updated_lids and entry.lid == row.lid:
                continue
            submitted_hash = (entry.slot("hash") or "").lower()
            if submitted_hash and row.hash and submitted_hash != row.hash:
                errors.append(
                    RegistryError(
                        c.XDSNonIdenticalHash,
                        f"uniqueId {row.unique_id} is registered with another hash",
                        entry.id,
                    )
                )
            else:
                errors.append(
                    RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {row.unique_id} is already registered", entry.id)
                )
    if ss.unique_id and session.scalar(select(XdsSubmissionSet.uuid).where(XdsSubmissionSet.unique_id == ss.unique_id)):
        errors.append(
            RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {ss.unique_id} is already registered", ss.id)
        )
    folder_unique = {f.unique_id: f for f in submission.folders if f.unique_id}
    folder_lids = {f.lid for f in submission.folders if update_mode and f.lid and f.lid != f.id}
    if folder_unique:
        for folder_row in session.execute(select(XdsFolder.unique_id, XdsFolder.lid).where(XdsFolder.unique_id.in_(folder_unique))):
            if folder_row.lid in folder_lids:
                continue
            folder = folder_unique[folder_row.unique_id]
            errors.append(
                RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {folder_row.unique_id} is already registered", folder.id)
            )
    uuids = {o.id for o in submission.objects if o.id.startswith("urn:uuid:")}
    for uuid_ in _existing_objects(session, uuids):
        errors.append(RegistryError(c.XDSRegistryMetadataError, f"entryUUID {uuid_} is already in the registry", uuid_))
    return errors


class Writer:
    """Writes the objects of one accepted submission in the caller's session."""

    def __init__(self, session: Session, submission: Submission, now: str) -> None:
        self.session = session
        self.submission = submission
        self.now = now
        self.touched_folders: set[str] = set()
        self.rows: list[object] = []

    def add_document(self, entry: DocumentEntry, lid: str, version: int) -> None:
        _set_version(entry.element, lid, version)
        self.rows.append(document_row(entry, lid, version))
        self.rows.extend(
            _index_rows(
                entry,
                c.XDSDocumentEntry_author,
                {CODE_EVENT: c.XDSDocumentEntry_eventCodeList, CODE_CONFIDENTIALITY: c.XDSDocumentEntry_confidentialityCode},
            )
        )
        self.rows.extend(
            XdsReferenceId(object_uuid=entry.id, value=value[:256]) for value in entry.slots.get(c.SLOT_REFERENCE_ID_LIST, [])
        )

    def add_submission_set(self, ss: SubmissionSet) -> None:
        _set_version(ss.element, ss.id, 1)
        self.rows.append(
            XdsSubmissionSet(
                uuid=ss.id,
                unique_id=ss.unique_id or "",
                patient_id=ss.patient_id or "",
                status=c.STATUS_APPROVED,
                source_id=ss.identifier(c.XDSSubmissionSet_sourceId) or "",
                submission_time=dt.pad_dtm(ss.slot("submissionTime") or ""),
                content_type_code=_code_key(ss, c.XDSSubmissionSet_contentTypeCode),
                xml=_xml(ss.element),
            )
        )
        self.rows.extend(_index_rows(ss, c.XDSSubmissionSet_author, {}))

    def add_folder(self, folder: Folder, lid: str, version: int) -> None:
        _set_version(folder.element, lid, version)
        for slot in folder.element.findall(f"{RIM}Slot"):
            if slot.get("name") == c.SLOT_LAST_UPDATE_TIME:
                folder.element.remove(slot)
        self.rows.append(
            XdsFolder(
                uuid=folder.id,
                lid=lid,
                version=version,
                unique_id=folder.unique_id or "",
                patient_id=folder.patient_id or "",
                status=c.STATUS_APPROVED,
                last_update_time=self.now,
                xml=_xml(folder.element),
            )
        )
        self.rows.extend(_index_rows(folder, None, {CODE_FOLDER: c.XDSFolder_codeList}))

    def add_association(self, association: Association) -> None:
        for attribute in ("status", "home"):
            if attribute in association.element.attrib:
                del association.element.attrib[attribute]
        self.rows.append(
            XdsAssociation(
                uuid=association.id,
                association_type=association.association_type,
                source=association.source,
                target=association.target,
                status=c.STATUS_APPROVED,
                xml=_xml(association.element),
            )
        )

    def add_to_session(self) -> None:
        """Hand the rows to the session (written when the transaction commits)."""
        self.session.add_all(self.rows)
        self.rows = []
        if self.touched_folders:
            self.session.execute(
                update(XdsFolder).where(XdsFolder.uuid.in_(self.touched_folders)).values(last_update_time=self.now)
            )


def new_association(kind: str, source: str, target: str) -> Association:
    """A registry-created association (e.g. folder membership carried to a replacement)."""
    identifier = f"urn:uuid:{uuid.uuid4()}"
    element = etree.Element(
        f"{RIM}Association", nsmap={"rim": c.RIM}, id=identifier, associationType=kind, sourceObject=source, targetObject=target
    )
    element.set("objectType", c.OBJECT_TYPE_ASSOCIATION)
    return Association(id=identifier, element=element, association_type=kind, source=source, target=target)


def _check_relationships(
    session: Session, submission: Submission, writer: Writer, existing: dict[str, tuple[str, object]]
) -> tuple[list[RegistryError], list[str]]:
    """Associations whose ends are already registered (ITI TF-3 4.2.2): document
    relationships to an Approved entry of the same patient; folder membership of
    registered documents; RPLC/XFRM_RPLC deprecate their target and carry its folder
    memberships to the replacement."""
    errors: list[RegistryError] = []
    deprecated: list[str] = []
    ss = submission.submission_set
    assert ss is not None
    patient = ss.patient_id
    local = {o.id: o for o in submission.objects}
    for association in submission.associations:
        kind = association.association_type
        for end in (association.source, association.target):
            if end not in local and end not in existing:
                errors.append(
                    RegistryError(c.UnresolvedReferenceException, f"{end} is neither submitted nor registered", association.id)
                )
        target = existing.get(association.target)
        if target is None:
            continue
        target_kind, row = target
        if kind in c.DOCUMENT_RELATIONSHIPS:
            if target_kind != "DocumentEntry":
                errors.append(
                    RegistryError(c.XDSRegistryMetadataError, "a document relationship must target a DocumentEntry", association.id)
                )
                continue
            assert isinstance(row, XdsDocumentEntry)
            if row.patient_id != patient:
                errors.append(
                    RegistryError(
                        c.XDSPatientIdDoesNotMatch, "the target DocumentEntry belongs to another patient", association.id
                    )
                )
            elif row.status != c.STATUS_APPROVED:
                errors.append(
                    RegistryError(
                        c.XDSRegistryDeprecatedDocumentError,
                        f"the target DocumentEntry {row.uuid} is not Approved",
                        association.id,
                    )
                )
            elif kind in c.REPLACEMENTS:
                deprecated.append(row.uuid)
                folders = session.scalars(
                    select(XdsAssociation.source).where(
                        XdsAssociation.target == row.uuid,
                        XdsAssociation.association_type == c.HAS_MEMBER,
                        XdsAssociation.source.in_(select(XdsFolder.uuid)),
                    )
                ).all()
                for folder_uuid in folders:
                    writer.add_association(new_association(c.HAS_MEMBER, folder_uuid, association.source))
                    writer.touched_folders.add(folder_uuid)
        elif kind == c.HAS_MEMBER:
            patient_of_target = getattr(row, "patient_id", patient)
            if patient_of_target != patient:
                errors.append(
                    RegistryError(c.XDSPatientIdDoesNotMatch, "the member belongs to another patient", association.id)
                )
    for association in submission.associations:
        if association.association_type == c.HAS_MEMBER and association.source in existing:
            kind_, row = existing[association.source]
            if kind_ == "Folder":
                writer.touched_folders.add(association.source)
                assert isinstance(row, XdsFolder)
                if row.patient_id != patient:
                    errors.append(
                        RegistryError(c.XDSPatientIdDoesNotMatch, "the folder belongs to another patient", association.id)
                    )
    return errors, deprecated


def submitted_locations(submission: Submission, errors: list[RegistryError]) -> list[RegistryError]:
    """Errors found after symbolic ids were resolved, located by the ids the source sent."""
    back = {v: k for k, v in submission.id_map.items()}
    return [RegistryError(e.code, e.context, back.get(e.location, e.location), e.severity) for e in errors]


def deprecate_documents(session: Session, uuids: list[str]) -> None:
    if uuids:
        session.execute(update(XdsDocumentEntry).where(XdsDocumentEntry.uuid.in_(uuids)).values(status=c.STATUS_DEPRECATED))


def register(
    session: Session,
    submission: Submission,
    patients: PatientDirectory,
    settings: RegistrySettings,
    transaction: str = ITI42,
    now: datetime | None = None,
) -> Registered:
    """ITI-42 (and the registry part of ITI-41): validate and store `submission`, or raise
    `XdsFailure`. Runs inside the caller's transaction."""
    errors = validate_submission(submission, ValidationContext(transaction, settings.value_sets))
    if any(e.is_error for e in errors):
        raise XdsFailure(errors)
    errors = check_against_registry(session, submission, patients)
    if errors:
        raise XdsFailure(errors)
    ss = submission.submission_set
    assert ss is not None
    resolve_symbolic_ids(submission)
    external = {
        end
        for a in submission.associations
        for end in (a.source, a.target)
        if end not in {o.id for o in submission.objects}
    }
    existing = _existing_objects(session, external)
    writer = Writer(session, submission, now_dtm(now))
    errors, deprecated = _check_relationships(session, submission, writer, existing)
    if errors:
        raise XdsFailure(submitted_locations(submission, errors))
    writer.add_submission_set(ss)
    for entry in submission.documents:
        writer.add_document(entry, entry.id, 1)
    for folder in submission.folders:
        writer.add_folder(folder, folder.id, 1)
    for association in submission.associations:
        writer.add_association(association)
    deprecate_documents(session, deprecated)
    writer.add_to_session()
    return Registered(
        patient_id=ss.patient_id or "",
        submission_set=ss.id,
        documents=[d.id for d in submission.documents],
        deprecated=deprecated,
    )
