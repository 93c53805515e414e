"""Document Registry: ITI-42 Register Document Set-b (ITI TF-2b 3.42) and the registry
side of ITI-41 and ITI-57.

`register` checks a parsed submission against the metadata rules and the registry
content, resolves symbolic ids, and writes every object in the caller's transaction;
it raises `XdsFailure` with the errors otherwise (the caller rolls back).
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from lxml import etree
from sqlalchemy import Table, bindparam, literal, null, select, union_all, update
from sqlalchemy.orm import Session

from actors.xds import access
from actors.xds import constants as c
from actors.xds import datatypes as dt
from actors.xds.errors import RegistryError, XdsFailure
from actors.xds.metadata import RIM, Association, DocumentEntry, Folder, RegistryObject, Submission, SubmissionSet, resolve_symbolic_ids
from actors.xds.patients import PatientDirectory
from actors.xds.validation import ITI42, ValidationContext, validate_submission
from hub.store.base import table
from hub.store.bulk import Batch, insert_rows
from hub.store.models.xds import XdsAssociation, XdsAuthor, XdsCode, XdsDocumentEntry, XdsFolder, XdsReferenceId, XdsSubmissionSet
from vihf.principal import Principal

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


def _versioned_row(obj: DocumentEntry | Folder, lid: str, version: int) -> dict[str, Any]:
    """The leading columns of a new version of a DocumentEntry or a Folder, approved."""
    return {
        "uuid": obj.id,
        "lid": lid,
        "version": version,
        "unique_id": obj.unique_id or "",
        "patient_id": obj.patient_id or "",
        "status": c.STATUS_APPROVED,
    }


def document_row(entry: DocumentEntry, lid: str, version: int, submitter_structure: str | None = None) -> dict[str, Any]:
    """The xds_document_entry row of `entry` (a Core insert parameter set)."""
    size = entry.slot("size")
    return {
        **_versioned_row(entry, lid, version),
        "object_type": entry.object_type or c.DOCUMENT_ENTRY_STABLE,
        "class_code": _code_key(entry, c.XDSDocumentEntry_classCode),
        "type_code": _code_key(entry, c.XDSDocumentEntry_typeCode),
        "format_code": _code_key(entry, c.XDSDocumentEntry_formatCode),
        "healthcare_facility_type_code": _code_key(entry, c.XDSDocumentEntry_healthCareFacilityTypeCode),
        "practice_setting_code": _code_key(entry, c.XDSDocumentEntry_practiceSettingCode),
        "creation_time": _padded(entry.slot("creationTime")),
        "service_start_time": _padded(entry.slot("serviceStartTime")),
        "service_stop_time": _padded(entry.slot("serviceStopTime")),
        "repository_unique_id": entry.slot("repositoryUniqueId"),
        "hash": (entry.slot("hash") or "").lower() or None,
        "size": int(size) if size and size.isdigit() else None,
        "mime_type": entry.mime_type,
        "xml": _xml(entry.element),
        "submitter_structure": submitter_structure,
    }


ENTRIES = table(XdsDocumentEntry)
SUBMISSION_SETS = table(XdsSubmissionSet)
FOLDERS = table(XdsFolder)
ASSOCIATIONS = table(XdsAssociation)
CODES = table(XdsCode)
AUTHORS = table(XdsAuthor)
REFERENCE_IDS = table(XdsReferenceId)
# Insert order of `Writer.write` (no foreign keys: the order only keeps statements stable).
WRITE_ORDER = (SUBMISSION_SETS, ENTRIES, FOLDERS, ASSOCIATIONS, CODES, AUTHORS, REFERENCE_IDS)


class Existing(NamedTuple):
    """A registered object found by entryUUID: what the relationship rules read."""

    uuid: str
    patient_id: str | None
    status: str


def _index_rows(entry: RegistryObject, author_scheme: str | None, codes: Mapping[str, str]) -> Iterable[tuple[Table, dict[str, Any]]]:
    for kind, scheme in codes.items():
        for code in entry.codes(scheme):
            yield CODES, {"object_uuid": entry.id, "kind": kind, "code": code.key}
    if author_scheme:
        for author in entry.authors(author_scheme):
            if author.person:
                yield AUTHORS, {"object_uuid": entry.id, "person": author.person[:256]}


# One round trip answers every lookup of the registry checks: submitted uniqueIds already
# registered, entryUUIDs already used, and the registered ends of the associations.
_KINDS = (("DocumentEntry", ENTRIES), ("Folder", FOLDERS), ("SubmissionSet", SUBMISSION_SETS))


# (kind, entryUUID, patient, status) of the registry objects among `wanted`: the
# relationship rules read them, and the registry checks take them for "UUID already used".
_EXISTING_PARTS: list[Any] = [
    select(literal(kind).label("kind"), table.c.uuid, table.c.patient_id, table.c.status).where(
        table.c.uuid.in_(bindparam("wanted", expanding=True))
    )
    for kind, table in _KINDS
] + [
    select(literal("Association").label("kind"), ASSOCIATIONS.c.uuid, null().label("patient_id"), ASSOCIATIONS.c.status).where(
        ASSOCIATIONS.c.uuid.in_(bindparam("wanted", expanding=True))
    )
]
_EXISTING = union_all(*_EXISTING_PARTS)


def _existing_objects(session: Session, uuids: set[str]) -> dict[str, tuple[str, Existing]]:
    """Registry objects among `uuids`: uuid -> (kind, what the rules read)."""
    if not uuids:
        return {}
    rows = session.execute(_EXISTING, {"wanted": sorted(uuids)})
    return {row.uuid: (row.kind, Existing(row.uuid, row.patient_id, row.status)) for row in rows}


@dataclass
class RegistrySettings:
    """What the registry needs from the hub's configuration."""

    value_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)


_LOOKUP_PARTS: dict[str, Any] = {
    "D": select(literal("D").label("kind"), ENTRIES.c.unique_id.label("key"), ENTRIES.c.lid, ENTRIES.c.hash).where(
        ENTRIES.c.unique_id.in_(bindparam("doc_unique", expanding=True))
    ),
    "S": select(literal("S"), SUBMISSION_SETS.c.unique_id, null(), null()).where(SUBMISSION_SETS.c.unique_id == bindparam("ss_unique")),
    "F": select(literal("F"), FOLDERS.c.unique_id, FOLDERS.c.lid, null()).where(
        FOLDERS.c.unique_id.in_(bindparam("folder_unique", expanding=True))
    ),
}
# The look-up statements by their shape, built once each: building (and keying) a UNION
# per request costs more CPU than running it.
_lookups: dict[tuple[Any, ...], Any] = {}


def _lookup_statement(patient: tuple[Any, ...], documents: bool, submission_set: bool, folders: bool, uuids: bool) -> Any:
    key = (patient, documents, submission_set, folders, uuids)  # statements compare by identity
    statement = _lookups.get(key)
    if statement is None:
        parts: list[Any] = [*patient]
        parts += [_LOOKUP_PARTS[kind] for kind, wanted in (("D", documents), ("S", submission_set), ("F", folders)) if wanted]
        if uuids:
            parts += _EXISTING_PARTS
        if not parts:
            return None
        if len(parts) == 1:
            statement = parts[0]
        else:
            statement = union_all(*parts)
        if len(_lookups) < 256:  # patient statements are prebuilt: a handful of shapes
            _lookups[key] = statement
    return statement


def check_against_registry(
    session: Session, submission: Submission, patients: PatientDirectory, update_mode: bool = False
) -> list[RegistryError]:
    """Rules that need the registry content (ITI TF-2b 3.42.4.1.3): known patient,
    uniqueIds not yet registered, UUIDs not yet used."""
    errors: list[RegistryError] = []
    ss = submission.submission_set
    assert ss is not None
    patient = ss.patient_id or ""
    # A directory that can ask its question with the look-ups below saves a round trip.
    lookups = getattr(patients, "lookups", None)
    known: bool | None
    patient_queries: list[tuple[Any, dict[str, Any]]] = []
    if lookups is None:
        known = patients.is_known(patient)
    else:
        patient_queries = lookups(patient)
        known = None if patient_queries else False  # None: read from the rows below
    doc_unique = {d.unique_id: d for d in submission.documents if d.unique_id}
    updated_lids = {d.lid for d in submission.documents if update_mode and d.lid and d.lid != d.id}
    folder_unique = {f.unique_id: f for f in submission.folders if f.unique_id}
    folder_lids = {f.lid for f in submission.folders if update_mode and f.lid and f.lid != f.id}
    uuids = sorted({o.id for o in submission.objects if o.id.startswith("urn:uuid:")})
    # Every lookup in one statement (one round trip): ("D"ocument | "S"ubmission set |
    # "F"older, uniqueId, lid, hash) for registered uniqueIds, (kind of object, entryUUID, ...) for used UUIDs.
    params: dict[str, Any] = {name: value for _, values in patient_queries for name, value in values.items()}
    params.update(doc_unique=sorted(doc_unique), ss_unique=ss.unique_id, folder_unique=sorted(folder_unique), wanted=uuids)
    statement = _lookup_statement(
        tuple(statement for statement, _ in patient_queries), bool(doc_unique), bool(ss.unique_id), bool(folder_unique), bool(uuids)
    )
    found: dict[str, list[Any]] = defaultdict(list)
    if statement is not None:
        for row in session.execute(statement, params):
            found[row[0]].append(row)
    if known is None:
        known = bool(patients.known_from(patient, found["P"] + found["I"]))  # type: ignore[attr-defined]
    if not known:
        errors.append(
            RegistryError(c.XDSUnknownPatientId, f"patient id {patient} is not known in the affinity domain", ss.id)
        )
    for kind, unique_id, lid, registered_hash in found["D"]:
        entry = doc_unique[unique_id]
        if lid in updated_lids and entry.lid == lid:
            continue
        submitted_hash = (entry.slot("hash") or "").lower()
        if submitted_hash and registered_hash and submitted_hash != registered_hash:
            errors.append(
                RegistryError(c.XDSNonIdenticalHash, f"uniqueId {unique_id} is registered with another hash", entry.id)
            )
        else:
            errors.append(
                RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {unique_id} is already registered", entry.id)
            )
    if found["S"]:
        errors.append(
            RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {ss.unique_id} is already registered", ss.id)
        )
    for kind, unique_id, lid, _hash in found["F"]:
        if lid in folder_lids:
            continue
        errors.append(
            RegistryError(c.XDSDuplicateUniqueIdInRegistry, f"uniqueId {unique_id} is already registered", folder_unique[unique_id].id)
        )
    used = {row[1] for kind, _table in _KINDS for row in found[kind]} | {row[1] for row in found["Association"]}
    for uuid_ in sorted(used):
        errors.append(RegistryError(c.XDSRegistryMetadataError, f"entryUUID {uuid_} is already in the registry", uuid_))
    return errors


class Writer:
    """Collects the rows of one accepted submission and writes them in the caller's
    transaction: one Core insert per table (the ORM's unit of work is not needed to
    insert rows nobody reads back). `submitter_structure` is recorded with the entries
    and folders it writes (the update rule, `access.may_update`)."""

    def __init__(self, session: Session, submission: Submission, now: str, submitter_structure: str | None = None) -> None:
        self.session = session
        self.submission = submission
        self.now = now
        self.submitter_structure = submitter_structure
        self.touched_folders: set[str] = set()
        self.rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in WRITE_ORDER}

    def _add(self, rows: Iterable[tuple[Table, dict[str, Any]]]) -> None:
        for table, row in rows:
            self.rows[table].append(row)

    def add_document(self, entry: DocumentEntry, lid: str, version: int, submitter_structure: str | None = None) -> None:
        """`submitter_structure`: the one recorded with an earlier version (a new version
        keeps the document's submitter); the writer's otherwise."""
        _set_version(entry.element, lid, version)
        self.rows[ENTRIES].append(document_row(entry, lid, version, submitter_structure or self.submitter_structure))
        self._add(
            _index_rows(
                entry,
                c.XDSDocumentEntry_author,
                {CODE_EVENT: c.XDSDocumentEntry_eventCodeList, CODE_CONFIDENTIALITY: c.XDSDocumentEntry_confidentialityCode},
            )
        )
        self.rows[REFERENCE_IDS].extend(
            {"object_uuid": entry.id, "value": value[:256]} for value in entry.slots.get(c.SLOT_REFERENCE_ID_LIST, [])
        )

    def add_submission_set(self, ss: SubmissionSet) -> None:
        _set_version(ss.element, ss.id, 1)
        self.rows[SUBMISSION_SETS].append(
            {
                "uuid": ss.id,
                "unique_id": ss.unique_id or "",
                "patient_id": ss.patient_id or "",
                "status": c.STATUS_APPROVED,
                "source_id": ss.identifier(c.XDSSubmissionSet_sourceId) or "",
                "submission_time": dt.pad_dtm(ss.slot("submissionTime") or ""),
                "content_type_code": _code_key(ss, c.XDSSubmissionSet_contentTypeCode),
                "xml": _xml(ss.element),
            }
        )
        self._add(_index_rows(ss, c.XDSSubmissionSet_author, {}))

    def add_folder(self, folder: Folder, lid: str, version: int, submitter_structure: str | None = None) -> None:
        _set_version(folder.element, lid, version)
        for slot in folder.element.findall(f"{RIM}Slot"):
            if slot.get("name") == c.SLOT_LAST_UPDATE_TIME:
                folder.element.remove(slot)
        self.rows[FOLDERS].append(
            {
                **_versioned_row(folder, lid, version),
                "last_update_time": self.now,
                "xml": _xml(folder.element),
                "submitter_structure": submitter_structure or self.submitter_structure,
            }
        )
        self._add(_index_rows(folder, None, {CODE_FOLDER: c.XDSFolder_codeList}))

    def add_association(self, association: Association) -> None:
        for attribute in ("status", "home"):
            if attribute in association.element.attrib:
                del association.element.attrib[attribute]
        self.rows[ASSOCIATIONS].append(
            {
                "uuid": association.id,
                "association_type": association.association_type,
                "source": association.source,
                "target": association.target,
                "status": c.STATUS_APPROVED,
                "xml": _xml(association.element),
            }
        )

    def write(self, *extra: Batch) -> None:
        """Insert the collected rows, and `extra` batches (the repository's documents),
        in one round trip where the store allows it; committed with the transaction."""
        insert_rows(self.session, [*((table, self.rows[table]) for table in WRITE_ORDER), *extra])
        self.rows = {table: [] for table in WRITE_ORDER}
        if self.touched_folders:
            self.session.execute(
                update(FOLDERS).where(FOLDERS.c.uuid.in_(sorted(self.touched_folders))).values(last_update_time=self.now)
            )


def new_association(kind: str, source: str, target: str) -> Association:
    """A registry-created association (e.g. folder membership carried to a replacement)."""
    identifier = f"urn:uuid:{uuid.uuid4()}"
    element = etree.Element(
        f"{RIM}Association", nsmap={"rim": c.RIM}, id=identifier, associationType=kind, sourceObject=source, targetObject=target
    )
    element.set("objectType", c.OBJECT_TYPE_ASSOCIATION)
    return Association(id=identifier, element=element, association_type=kind, source=source, target=target)


def may_replace(session: Session, principal: Principal | None, uuid_: str) -> bool:
    """The update rule (`access.may_update`) for the registered entry `uuid_`: a
    replacement deprecates it, as an ITI-57 status change would."""
    if principal is None:
        return True  # no caller identified (require_vihf = false): no entry to read
    row = session.get(XdsDocumentEntry, uuid_)
    return row is not None and access.may_update(principal, row)


def _check_relationships(
    session: Session,
    submission: Submission,
    writer: Writer,
    existing: dict[str, tuple[str, Existing]],
    principal: Principal | None = None,
) -> tuple[list[RegistryError], list[str]]:
    """Associations whose ends are already registered (ITI TF-3 4.2.2): document
    relationships to an Approved entry of the same patient; folder membership of
    registered documents; RPLC/XFRM_RPLC deprecate their target (when the caller may
    change it, `may_replace`) and carry its folder memberships to the replacement."""
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
                if not may_replace(session, principal, row.uuid):
                    errors.append(RegistryError(c.XDSRegistryError, access.UPDATE_REFUSED, association.id))
                    continue
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
            patient_of_target = row.patient_id if row.patient_id is not None else patient
            if patient_of_target != patient:
                errors.append(
                    RegistryError(c.XDSPatientIdDoesNotMatch, "the member belongs to another patient", association.id)
                )
    for association in submission.associations:
        if association.association_type == c.HAS_MEMBER and association.source in existing:
            kind_, row = existing[association.source]
            if kind_ == "Folder":
                writer.touched_folders.add(association.source)
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
        session.execute(update(ENTRIES).where(ENTRIES.c.uuid.in_(sorted(uuids))).values(status=c.STATUS_DEPRECATED))


def register(
    session: Session,
    submission: Submission,
    patients: PatientDirectory,
    settings: RegistrySettings,
    transaction: str = ITI42,
    now: datetime | None = None,
    extra: Sequence[Batch] = (),
    principal: Principal | None = None,
) -> Registered:
    """ITI-42 (and the registry part of ITI-41): validate and store `submission`, or raise
    `XdsFailure`. Runs inside the caller's transaction; `extra` rows (the repository's
    documents) are written with the registry's. `principal` is the caller: its structure
    is recorded with the entries, and a registered object it may not see is treated as
    not registered (an association to it is an unresolved reference)."""
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
    existing = {
        uuid_: found
        for uuid_, found in _existing_objects(session, external).items()
        if found[1].patient_id is None or access.may_read(principal, found[1].patient_id)
    }
    writer = Writer(session, submission, now_dtm(now), access.structure_of(principal))
    errors, deprecated = _check_relationships(session, submission, writer, existing, principal)
    if errors:
        raise XdsFailure(submitted_locations(submission, errors))
    writer.add_submission_set(ss)
    for entry in submission.documents:
        writer.add_document(entry, entry.id, 1)
    for folder in submission.folders:
        writer.add_folder(folder, folder.id, 1)
    for association in submission.associations:
        writer.add_association(association)
    writer.write(*extra)
    deprecate_documents(session, deprecated)
    return Registered(
        patient_id=ss.patient_id or "",
        submission_set=ss.id,
        documents=[d.id for d in submission.documents],
        deprecated=deprecated,
    )
