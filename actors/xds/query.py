"""ITI-18 Registry Stored Query (ITI TF-2a 3.18.4.1.2.3.7): the fourteen stored queries,
their parameters and errors, LeafClass and ObjectRef results.

Parameter values follow ITI TF-2a 3.18.4.1.2.3.3: strings in single quotes, lists in
parentheses; several Value elements of one Slot are ORed; for the AND/OR parameters
($XDSDocumentEntryEventCodeList, $XDSDocumentEntryConfidentialityCode,
$XDSFolderCodeList) repeated Slots are ANDed. Every query starts from an index.

A query about a patient the caller may not read is refused (`check_read`). A query by
object id (the Get* queries) is existence-blind: an object of a patient the caller may
not read (`may_read`) is answered exactly as an id that names nothing — the ids are
dropped before the query runs, and what the query reaches from the others is filtered
the same way (`_Visibility`).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lxml import etree
from sqlalchemy import Select, exists, or_, select, union_all
from sqlalchemy.orm import Session

from actors.xds import constants as c
from actors.xds import datatypes as dt
from actors.xds.errors import RegistryError, error_list, status_of
from actors.xds.metadata import ByKind
from actors.xds.registry import CODE_CONFIDENTIALITY, CODE_EVENT, CODE_FOLDER
from hub.wire import xmlsafe
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

RETURN_LEAF_CLASS = "LeafClass"
RETURN_OBJECT_REF = "ObjectRef"

_STRING = re.compile(r"'((?:[^']|'')*)'")
_NUMBER = re.compile(r"^\s*\(?\s*([0-9]+)\s*\)?\s*$")


class QueryError(Exception):
    def __init__(self, code: str, context: str, location: str = "") -> None:
        super().__init__(context)
        self.error = RegistryError(code, context, location)


@dataclass
class QuerySettings:
    max_results: int = 1000
    home_community_id: str = ""


@dataclass
class Outcome:
    response: etree._Element
    patient_id: str | None = None


# -- parameters -----------------------------------------------------------------------------

STR, STRS, NUM, CODES, CODES_AND = "string", "strings", "number", "codes", "codes-and"


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    required: bool = False


@dataclass
class Params:
    """Parsed parameter values: strings and codes as lists (OR), AND/OR codes as a list
    of OR-groups, numbers as strings."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.values.get(name)


def _strings(raw: str, name: str) -> list[str]:
    text = raw.strip()
    if text.startswith("("):
        if not text.endswith(")"):
            raise QueryError(c.XDSRegistryError, f"{name}: list value is not closed by ')'", name)
        text = text[1:-1]
    found = _STRING.findall(text)
    rest = _STRING.sub("", text).replace(",", "").strip()
    if not found or rest:
        raise QueryError(c.XDSRegistryError, f"{name}: value must be a quoted string or a list of quoted strings", name)
    return [s.replace("''", "'") for s in found]


def parse_params(query: etree._Element, definitions: Sequence[Param], query_name: str) -> Params:
    """Slots of the AdhocQuery checked against the query's parameter definitions."""
    known = {p.name: p for p in definitions}
    slots: dict[str, list[list[str]]] = {}
    for slot in query.iterchildren(f"{{{c.RIM}}}Slot"):
        name = slot.get("name", "")
        values = [(v.text or "") for v in slot.iter(f"{{{c.RIM}}}Value")]
        if name not in known:
            raise QueryError(c.XDSRegistryError, f"{name} is not a parameter of {query_name}", name)
        slots.setdefault(name, []).append(values)
    params = Params()
    for name, groups in slots.items():
        kind = known[name].kind
        if kind != CODES_AND and len(groups) > 1:
            raise QueryError(c.XDSStoredQueryParamNumber, f"{name} is given in more than one Slot", name)
        if kind in (STR, NUM):
            values = groups[0]
            if len(values) != 1:
                raise QueryError(c.XDSStoredQueryParamNumber, f"{name} takes a single value", name)
            if kind == NUM:
                match = _NUMBER.match(values[0])
                if not match or dt.check_dtm(match.group(1)):
                    raise QueryError(c.XDSRegistryError, f"{name}: '{values[0]}' is not a DTM", name)
                params.values[name] = match.group(1)
            else:
                parsed = _strings(values[0], name)
                if len(parsed) != 1:
                    raise QueryError(c.XDSStoredQueryParamNumber, f"{name} takes a single value", name)
                params.values[name] = parsed[0]
        elif kind == CODES_AND:
            params.values[name] = [[s for v in group for s in _strings(v, name)] for group in groups]
        else:
            params.values[name] = [s for v in groups[0] for s in _strings(v, name)]
    for definition in definitions:
        if definition.required and definition.name not in params.values:
            raise QueryError(c.XDSStoredQueryMissingParam, f"{definition.name} is required by {query_name}", definition.name)
    return params


def _one_of(params: Params, names: Sequence[str], query_name: str) -> tuple[str, list[str]]:
    given = [n for n in names if params.get(n) is not None]
    if len(given) != 1:
        code = c.XDSStoredQueryMissingParam if not given else c.XDSStoredQueryParamNumber
        raise QueryError(code, f"{query_name} needs exactly one of {', '.join(names)}", names[0])
    value = params.get(given[0])
    return given[0], [value] if isinstance(value, str) else list(value)


# -- result -----------------------------------------------------------------------------------


@dataclass
class Result(ByKind[XdsDocumentEntry, XdsSubmissionSet, XdsFolder, XdsAssociation]):
    """What a stored query found."""

    def count(self) -> int:
        return len(self.documents) + len(self.submission_sets) + len(self.folders) + len(self.associations)

    def patients(self) -> set[str]:
        rows: list[PatientObject] = [*self.documents, *self.submission_sets, *self.folders]
        return {r.patient_id for r in rows}


def _limited(session: Session, statement: Select[Any], limit: int) -> list[Any]:
    rows = list(session.scalars(statement.limit(limit + 1)))
    if len(rows) > limit:
        raise QueryError(c.XDSTooManyResults, f"more than {limit} results; narrow the query")
    return rows


def _status_filter(column: Any, statuses: list[str] | None) -> Any:
    return column.in_(statuses) if statuses else None


def _codes_and(model_uuid: Any, kind: str, groups: list[list[str]] | None) -> list[Any]:
    if not groups:
        return []
    return [
        exists().where(XdsCode.object_uuid == model_uuid, XdsCode.kind == kind, XdsCode.code.in_(group))
        for group in groups
    ]


def _authors(model_uuid: Any, patterns: list[str] | None) -> list[Any]:
    if not patterns:
        return []
    return [
        exists().where(XdsAuthor.object_uuid == model_uuid, or_(*(XdsAuthor.person.like(p) for p in patterns)))
    ]


# The prefixes of the parameters about each kind of object.
DOCUMENT, SUBMISSION_SET, FOLDER = "$XDSDocumentEntry", "$XDSSubmissionSet", "$XDSFolder"


def _ids(prefix: str, kind: str = STRS, logical: bool = False) -> tuple[Param, ...]:
    """The parameters that name objects by id: `prefix`EntryUUID, `prefix`UniqueId and,
    with `logical`, `prefix`LogicalID; one of them is given (`_by_id`)."""
    names = ("EntryUUID", "UniqueId", "LogicalID") if logical else ("EntryUUID", "UniqueId")
    return tuple(Param(f"{prefix}{name}", kind) for name in names)


def _range(name: str) -> tuple[Param, Param]:
    """The two parameters of a time range, `name`From (inclusive) and `name`To (exclusive)."""
    return Param(f"{name}From", NUM), Param(f"{name}To", NUM)


def _time_range(column: Any, params: Params, name: str) -> list[Any]:
    """The conditions of the time range `name` (see `_range`) on `column`."""
    start, end = params.get(f"{name}From"), params.get(f"{name}To")
    clauses = []
    if start:
        clauses.append(column >= dt.pad_dtm(start))
    if end:
        clauses.append(column < dt.pad_dtm(end))
    return clauses


def _entry_types(params: Params) -> list[str]:
    types = params.get("$XDSDocumentEntryType") or [c.DOCUMENT_ENTRY_STABLE]
    return list(types)


# The single-valued codes and the time ranges of FindDocuments, with the column each selects on.
_DOCUMENT_CODES = (
    ("$XDSDocumentEntryClassCode", XdsDocumentEntry.class_code),
    ("$XDSDocumentEntryTypeCode", XdsDocumentEntry.type_code),
    ("$XDSDocumentEntryPracticeSettingCode", XdsDocumentEntry.practice_setting_code),
    ("$XDSDocumentEntryHealthcareFacilityTypeCode", XdsDocumentEntry.healthcare_facility_type_code),
    ("$XDSDocumentEntryFormatCode", XdsDocumentEntry.format_code),
)
_DOCUMENT_TIMES = (
    ("$XDSDocumentEntryCreationTime", XdsDocumentEntry.creation_time),
    ("$XDSDocumentEntryServiceStartTime", XdsDocumentEntry.service_start_time),
    ("$XDSDocumentEntryServiceStopTime", XdsDocumentEntry.service_stop_time),
)


def _document_filters(params: Params, statuses_param: str = "$XDSDocumentEntryStatus") -> list[Any]:
    """FindDocuments parameters as SQL conditions (on top of the patient index)."""
    d = XdsDocumentEntry
    clauses: list[Any] = [d.object_type.in_(_entry_types(params))]
    status = params.get(statuses_param)
    if status:
        clauses.append(d.status.in_(status))
    for name, column in _DOCUMENT_CODES:
        if params.get(name):
            clauses.append(column.in_(params.get(name)))
    for name, time in _DOCUMENT_TIMES:
        clauses += _time_range(time, params, name)
    clauses += _codes_and(d.uuid, CODE_EVENT, params.get("$XDSDocumentEntryEventCodeList"))
    clauses += _codes_and(d.uuid, CODE_CONFIDENTIALITY, params.get("$XDSDocumentEntryConfidentialityCode"))
    clauses += _authors(d.uuid, params.get("$XDSDocumentEntryAuthorPerson"))
    references = params.get("$XDSDocumentEntryReferenceIdList")
    if references:
        clauses.append(exists().where(XdsReferenceId.object_uuid == d.uuid, XdsReferenceId.value.in_(references)))
    return clauses


def _content_filters(params: Params) -> list[Any]:
    """The DocumentEntry filters of GetAll / GetSubmissionSetAndContents / GetFolderAndContents."""
    d = XdsDocumentEntry
    clauses: list[Any] = [d.object_type.in_(_entry_types(params))]
    if params.get("$XDSDocumentEntryFormatCode"):
        clauses.append(d.format_code.in_(params.get("$XDSDocumentEntryFormatCode")))
    clauses += _codes_and(d.uuid, CODE_CONFIDENTIALITY, params.get("$XDSDocumentEntryConfidentialityCode"))
    return clauses


# -- the stored queries -----------------------------------------------------------------------

DOCUMENT_FIND_PARAMS = (
    *(Param(name, CODES) for name, _ in _DOCUMENT_CODES),
    *(param for name, _ in _DOCUMENT_TIMES for param in _range(name)),
    Param("$XDSDocumentEntryEventCodeList", CODES_AND),
    Param("$XDSDocumentEntryConfidentialityCode", CODES_AND),
    Param("$XDSDocumentEntryAuthorPerson", STRS),
    Param("$XDSDocumentEntryStatus", STRS, True),
    Param("$XDSDocumentEntryType", STRS),
)
HOME = Param("$homeCommunityId", STR)
METADATA_LEVEL = Param("$MetadataLevel", NUM)
CONTENT_PARAMS = (
    Param("$XDSDocumentEntryFormatCode", CODES),
    Param("$XDSDocumentEntryConfidentialityCode", CODES_AND),
    Param("$XDSDocumentEntryType", STRS),
)


def find_documents(session: Session, params: Params, limit: int) -> Result:
    """FindDocuments / FindDocumentsByReferenceId: DocumentEntries of one patient."""
    d = XdsDocumentEntry
    statement = select(d).where(d.patient_id == params.get("$XDSDocumentEntryPatientId"), *_document_filters(params))
    return Result(documents=_limited(session, statement.order_by(d.creation_time, d.uuid), limit))


def find_submission_sets(session: Session, params: Params, limit: int) -> Result:
    """FindSubmissionSets."""
    s = XdsSubmissionSet
    clauses: list[Any] = [s.patient_id == params.get("$XDSSubmissionSetPatientId"), s.status.in_(params.get("$XDSSubmissionSetStatus"))]
    if params.get("$XDSSubmissionSetSourceId"):
        clauses.append(s.source_id.in_(params.get("$XDSSubmissionSetSourceId")))
    if params.get("$XDSSubmissionSetContentType"):
        clauses.append(s.content_type_code.in_(params.get("$XDSSubmissionSetContentType")))
    clauses += _time_range(s.submission_time, params, "$XDSSubmissionSetSubmissionTime")
    author = params.get("$XDSSubmissionSetAuthorPerson")
    if author:
        clauses += _authors(s.uuid, [author])
    return Result(submission_sets=_limited(session, select(s).where(*clauses).order_by(s.submission_time, s.uuid), limit))


def find_folders(session: Session, params: Params, limit: int) -> Result:
    """FindFolders."""
    f = XdsFolder
    clauses: list[Any] = [f.patient_id == params.get("$XDSFolderPatientId"), f.status.in_(params.get("$XDSFolderStatus"))]
    clauses += _time_range(f.last_update_time, params, "$XDSFolderLastUpdateTime")
    clauses += _codes_and(f.uuid, CODE_FOLDER, params.get("$XDSFolderCodeList"))
    return Result(folders=_limited(session, select(f).where(*clauses).order_by(f.last_update_time, f.uuid), limit))


def _associations_from(session: Session, sources: Iterable[str], limit: int, types: Sequence[str] | None = None) -> list[XdsAssociation]:
    sources = list(sources)
    if not sources:
        return []
    a = XdsAssociation
    statement = select(a).where(a.source.in_(sources))
    if types:
        statement = statement.where(a.association_type.in_(types))
    return _limited(session, statement.order_by(a.uuid), limit)


def get_all(session: Session, params: Params, limit: int) -> Result:
    """GetAll: every SubmissionSet, DocumentEntry, Folder and Association of a patient."""
    patient = params.get("$patientId")
    d, s, f = XdsDocumentEntry, XdsSubmissionSet, XdsFolder
    result = Result(
        documents=_limited(
            session,
            select(d).where(d.patient_id == patient, d.status.in_(params.get("$XDSDocumentEntryStatus")), *_content_filters(params)),
            limit,
        ),
        submission_sets=_limited(session, select(s).where(s.patient_id == patient, s.status.in_(params.get("$XDSSubmissionSetStatus"))), limit),
        folders=_limited(session, select(f).where(f.patient_id == patient, f.status.in_(params.get("$XDSFolderStatus"))), limit),
    )
    rows: list[PatientObject] = [*result.documents, *result.submission_sets, *result.folders]
    ids = {r.uuid for r in rows}
    associations = _associations_from(session, ids, limit)
    ids |= {a.uuid for a in associations}
    result.associations = [a for a in associations if a.target in ids]
    return result


_Versioned = TypeVar("_Versioned", XdsDocumentEntry, XdsFolder)


def _by_id(session: Session, params: Params, query_name: str, limit: int, model: type[_Versioned], prefix: str) -> list[_Versioned]:
    """The `model` objects named by exactly one of `prefix`EntryUUID, `prefix`UniqueId and,
    when given, `prefix`LogicalID (see `_ids`)."""
    columns = {f"{prefix}EntryUUID": model.uuid, f"{prefix}UniqueId": model.unique_id}
    if params.get(f"{prefix}LogicalID") is not None:
        columns[f"{prefix}LogicalID"] = model.lid
    name, values = _one_of(params, list(columns), query_name)
    return _limited(session, select(model).where(columns[name].in_(values)).order_by(model.uuid), limit)


def _documents_by(session: Session, params: Params, query_name: str, limit: int) -> list[XdsDocumentEntry]:
    return _by_id(session, params, query_name, limit, XdsDocumentEntry, DOCUMENT)


def _folders_by(session: Session, params: Params, query_name: str, limit: int) -> list[XdsFolder]:
    return _by_id(session, params, query_name, limit, XdsFolder, FOLDER)


def get_documents(session: Session, params: Params, limit: int) -> Result:
    """GetDocuments."""
    return Result(documents=_documents_by(session, params, "GetDocuments", limit))


def get_folders(session: Session, params: Params, limit: int) -> Result:
    """GetFolders."""
    return Result(folders=_folders_by(session, params, "GetFolders", limit))


def get_associations(session: Session, params: Params, limit: int) -> Result:
    """GetAssociations: associations whose source or target is one of $uuid."""
    a = XdsAssociation
    uuids = params.get("$uuid")
    statement = select(a).where(or_(a.source.in_(uuids), a.target.in_(uuids))).order_by(a.uuid)
    return Result(associations=_limited(session, statement, limit))


def get_documents_and_associations(session: Session, params: Params, limit: int) -> Result:
    """GetDocumentsAndAssociations."""
    documents = _documents_by(session, params, "GetDocumentsAndAssociations", limit)
    ids = [x.uuid for x in documents]
    a = XdsAssociation
    associations = (
        _limited(session, select(a).where(or_(a.source.in_(ids), a.target.in_(ids))).order_by(a.uuid), limit) if ids else []
    )
    return Result(documents=documents, associations=associations)


def get_submission_sets(session: Session, params: Params, limit: int) -> Result:
    """GetSubmissionSets: the SubmissionSets whose HasMember names one of $uuid."""
    a, s = XdsAssociation, XdsSubmissionSet
    links = _limited(
        session,
        select(a).where(a.target.in_(params.get("$uuid")), a.association_type == c.HAS_MEMBER).order_by(a.uuid),
        limit,
    )
    sets = {x.uuid: x for x in session.scalars(select(s).where(s.uuid.in_({x.source for x in links})))}
    return Result(submission_sets=list(sets.values()), associations=[x for x in links if x.source in sets])


def _members(session: Session, source: str, params: Params, limit: int) -> tuple[list[XdsDocumentEntry], list[XdsFolder], list[XdsAssociation]]:
    links = _associations_from(session, [source], limit, [c.HAS_MEMBER])
    targets = {x.target for x in links}
    d, f = XdsDocumentEntry, XdsFolder
    documents = (
        _limited(session, select(d).where(d.uuid.in_(targets), *_content_filters(params)).order_by(d.uuid), limit) if targets else []
    )
    folders = list(session.scalars(select(f).where(f.uuid.in_(targets)).order_by(f.uuid))) if targets else []
    return documents, folders, links


def get_submission_set_and_contents(session: Session, params: Params, limit: int) -> Result:
    """GetSubmissionSetAndContents."""
    s = XdsSubmissionSet
    name, values = _one_of(params, ["$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId"], "GetSubmissionSetAndContents")
    column = s.uuid if name == "$XDSSubmissionSetEntryUUID" else s.unique_id
    sets = list(session.scalars(select(s).where(column.in_(values))))
    if not sets:
        return Result()
    if len(sets) > 1:
        raise QueryError(c.XDSStoredQueryParamNumber, "GetSubmissionSetAndContents takes one SubmissionSet", name)
    documents, folders, links = _members(session, sets[0].uuid, params, limit)
    members: list[PatientObject] = [*documents, *folders]
    kept = {x.uuid for x in members}
    # folder-document links made by this submission are HasMember targets of the set too
    link_ids = {x.target for x in links}
    inner = list(session.scalars(select(XdsAssociation).where(XdsAssociation.uuid.in_(link_ids)))) if link_ids else []
    inner = [x for x in inner if x.source in kept and x.target in kept]
    kept |= {x.uuid for x in inner}
    return Result(
        documents=documents,
        folders=folders,
        submission_sets=sets,
        associations=[x for x in links if x.target in kept] + inner,
    )


def get_folder_and_contents(session: Session, params: Params, limit: int) -> Result:
    """GetFolderAndContents."""
    folders = _folders_by(session, params, "GetFolderAndContents", limit)
    if not folders:
        return Result()
    if len(folders) > 1:
        raise QueryError(c.XDSStoredQueryParamNumber, "GetFolderAndContents takes one Folder", "$XDSFolderEntryUUID")
    documents, _, links = _members(session, folders[0].uuid, params, limit)
    kept = {x.uuid for x in documents}
    return Result(documents=documents, folders=folders, associations=[x for x in links if x.target in kept])


def get_folders_for_document(session: Session, params: Params, limit: int) -> Result:
    """GetFoldersForDocument."""
    documents = _documents_by(session, params, "GetFoldersForDocument", limit)
    if not documents:
        return Result()
    a, f = XdsAssociation, XdsFolder
    sources = select(a.source).where(a.target.in_([x.uuid for x in documents]), a.association_type == c.HAS_MEMBER)
    return Result(folders=_limited(session, select(f).where(f.uuid.in_(sources)).order_by(f.uuid), limit))


def get_related_documents(session: Session, params: Params, limit: int) -> Result:
    """GetRelatedDocuments: the entry and the entries related to it by $AssociationTypes
    (either direction), with those associations; nothing when none is related."""
    documents = _documents_by(session, params, "GetRelatedDocuments", limit)
    if not documents:
        return Result()
    ids = [x.uuid for x in documents]
    a, d = XdsAssociation, XdsDocumentEntry
    types = params.get("$AssociationTypes")
    associations = _limited(
        session,
        select(a).where(or_(a.source.in_(ids), a.target.in_(ids)), a.association_type.in_(types)).order_by(a.uuid),
        limit,
    )
    others = {x.target for x in associations} | {x.source for x in associations}
    related = list(session.scalars(select(d).where(d.uuid.in_(others - set(ids))).order_by(d.uuid))) if others else []
    if not related:
        return Result()
    present = set(ids) | {x.uuid for x in related}
    return Result(documents=documents + related, associations=[x for x in associations if x.source in present and x.target in present])


# -- visibility ------------------------------------------------------------------------------

# The parameters that name registry objects by id, and the columns each is looked up in
# ($uuid names any object; an Association is resolved through its source below).
_ENTRY_POINTS: dict[str, tuple[Any, ...]] = {
    "$XDSDocumentEntryEntryUUID": (XdsDocumentEntry.uuid,),
    "$XDSDocumentEntryUniqueId": (XdsDocumentEntry.unique_id,),
    "$XDSDocumentEntryLogicalID": (XdsDocumentEntry.lid,),
    "$XDSFolderEntryUUID": (XdsFolder.uuid,),
    "$XDSFolderUniqueId": (XdsFolder.unique_id,),
    "$XDSFolderLogicalID": (XdsFolder.lid,),
    "$XDSSubmissionSetEntryUUID": (XdsSubmissionSet.uuid,),
    "$XDSSubmissionSetUniqueId": (XdsSubmissionSet.unique_id,),
    "$uuid": (XdsDocumentEntry.uuid, XdsFolder.uuid, XdsSubmissionSet.uuid),
}


class _Visibility:
    """What the caller may see, one decision per patient and request."""

    def __init__(self, session: Session, may_read: Callable[[str], bool]) -> None:
        self.session = session
        self.may_read = may_read
        self.decided: dict[str, bool] = {}

    def readable(self, patient: str) -> bool:
        if patient not in self.decided:
            self.decided[patient] = self.may_read(patient)
        return self.decided[patient]

    def _owners(self, columns: Sequence[Any], values: Sequence[str]) -> list[tuple[str, str]]:
        """(value, patient) of the objects whose `columns` hold one of `values`."""
        parts = [select(column.label("value"), column.class_.patient_id).where(column.in_(values)) for column in columns]
        return [(row[0], row[1]) for row in self.session.execute(parts[0] if len(parts) == 1 else union_all(*parts))]

    def patients_of(self, uuids: set[str]) -> dict[str, str]:
        """The patient of each registry object among `uuids`; an Association belongs to
        the patient of its source, an object or an Association of one (HasMember of a
        folder membership)."""
        found = self.patients_of_objects(uuids)
        pending = {uuid_: uuid_ for uuid_ in uuids - set(found)}  # id -> association to resolve
        a = XdsAssociation
        for _ in range(2):
            if not pending:
                break
            sources = dict(self.session.execute(select(a.uuid, a.source).where(a.uuid.in_(sorted(set(pending.values()))))).all())
            owners = self.patients_of_objects(set(sources.values()))
            following: dict[str, str] = {}
            for uuid_, association in pending.items():
                source = sources.get(association)
                if source in owners:
                    found[uuid_] = owners[source]
                elif source is not None:
                    following[uuid_] = source
            pending = following
        return found

    def patients_of_objects(self, uuids: set[str]) -> dict[str, str]:
        return dict(self._owners(_ENTRY_POINTS["$uuid"], sorted(uuids))) if uuids else {}

    def hide_entry_points(self, params: Params) -> None:
        """Drop from `params` the ids that name an object the caller may not see: the
        query then runs as for an id that names nothing."""
        for name, columns in _ENTRY_POINTS.items():
            value = params.get(name)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            owners = self._owners(columns, values)
            if name == "$uuid":
                others = set(values) - {v for v, _ in owners}
                owners += list(self.patients_of(others).items())
            hidden = {v for v, patient in owners if not self.readable(patient)}
            if hidden:
                params.values[name] = [v for v in values if v not in hidden]

    def filter(self, result: Result) -> Result:
        """`result` less the objects of patients the caller may not see, and less the
        Associations with such an object at either end."""
        kept = Result(
            documents=[x for x in result.documents if self.readable(x.patient_id)],
            submission_sets=[x for x in result.submission_sets if self.readable(x.patient_id)],
            folders=[x for x in result.folders if self.readable(x.patient_id)],
        )
        if result.associations:
            ends = {end for x in result.associations for end in (x.source, x.target)}
            owners = self.patients_of(ends)
            kept.associations = [
                x for x in result.associations if all(self.readable(owners[end]) for end in (x.source, x.target) if end in owners)
            ]
        return kept


def _readable_entries(session: Session, result: Result, entries: Callable[[Sequence[XdsDocumentEntry]], list[bool]]) -> Result:
    """`result` less the DocumentEntries the caller may not read (the access decision,
    per entry), and less the Associations with such an entry at either end: a withheld
    entry is left out silently, as XDS expects."""
    hidden = {d.uuid for d, shown in zip(result.documents, entries(result.documents)) if not shown}
    documents = [d for d in result.documents if d.uuid not in hidden]
    associations = result.associations
    if associations:
        seen = {d.uuid for d in result.documents}
        ends = sorted({end for a in associations for end in (a.source, a.target)} - seen)
        others = list(session.scalars(select(XdsDocumentEntry).where(XdsDocumentEntry.uuid.in_(ends)))) if ends else []
        hidden |= {d.uuid for d, shown in zip(others, entries(others)) if not shown}
        associations = [a for a in associations if a.source not in hidden and a.target not in hidden]
    return Result(documents, result.submission_sets, result.folders, associations)


@dataclass(frozen=True)
class StoredQuery:
    name: str
    params: tuple[Param, ...]
    run: Callable[[Session, Params, int], Result]
    patient_param: str | None = None


def _about_patient(name: str, patient_param: str, params: tuple[Param, ...], run: Callable[[Session, Params, int], Result]) -> StoredQuery:
    """A query about one patient, named by its first parameter `patient_param` (required)."""
    return StoredQuery(name, (Param(patient_param, STR, True), *params), run, patient_param)


QUERIES: dict[str, StoredQuery] = {
    c.FIND_DOCUMENTS: _about_patient("FindDocuments", "$XDSDocumentEntryPatientId", DOCUMENT_FIND_PARAMS, find_documents),
    c.FIND_DOCUMENTS_BY_REFERENCE_ID: _about_patient(
        "FindDocumentsByReferenceId",
        "$XDSDocumentEntryPatientId",
        (Param("$XDSDocumentEntryReferenceIdList", STRS, True), *DOCUMENT_FIND_PARAMS),
        find_documents,
    ),
    c.FIND_SUBMISSION_SETS: _about_patient(
        "FindSubmissionSets",
        "$XDSSubmissionSetPatientId",
        (
            Param("$XDSSubmissionSetSourceId", STRS),
            *_range("$XDSSubmissionSetSubmissionTime"),
            Param("$XDSSubmissionSetAuthorPerson", STR),
            Param("$XDSSubmissionSetContentType", CODES),
            Param("$XDSSubmissionSetStatus", STRS, True),
        ),
        find_submission_sets,
    ),
    c.FIND_FOLDERS: _about_patient(
        "FindFolders",
        "$XDSFolderPatientId",
        (*_range("$XDSFolderLastUpdateTime"), Param("$XDSFolderCodeList", CODES_AND), Param("$XDSFolderStatus", STRS, True)),
        find_folders,
    ),
    c.GET_ALL: _about_patient(
        "GetAll",
        "$patientId",
        (*(Param(f"{prefix}Status", STRS, True) for prefix in (DOCUMENT, SUBMISSION_SET, FOLDER)), *CONTENT_PARAMS),
        get_all,
    ),
    c.GET_DOCUMENTS: StoredQuery("GetDocuments", (*_ids(DOCUMENT, logical=True), METADATA_LEVEL, HOME), get_documents),
    c.GET_FOLDERS: StoredQuery("GetFolders", (*_ids(FOLDER, logical=True), METADATA_LEVEL, HOME), get_folders),
    c.GET_ASSOCIATIONS: StoredQuery("GetAssociations", (Param("$uuid", STRS, True), METADATA_LEVEL, HOME), get_associations),
    c.GET_DOCUMENTS_AND_ASSOCIATIONS: StoredQuery(
        "GetDocumentsAndAssociations", (*_ids(DOCUMENT), METADATA_LEVEL, HOME), get_documents_and_associations
    ),
    c.GET_SUBMISSION_SETS: StoredQuery("GetSubmissionSets", (Param("$uuid", STRS, True), HOME), get_submission_sets),
    c.GET_SUBMISSION_SET_AND_CONTENTS: StoredQuery(
        "GetSubmissionSetAndContents", (*_ids(SUBMISSION_SET), *CONTENT_PARAMS, HOME), get_submission_set_and_contents
    ),
    c.GET_FOLDER_AND_CONTENTS: StoredQuery("GetFolderAndContents", (*_ids(FOLDER), *CONTENT_PARAMS, HOME), get_folder_and_contents),
    c.GET_FOLDERS_FOR_DOCUMENT: StoredQuery("GetFoldersForDocument", (*_ids(DOCUMENT), HOME), get_folders_for_document),
    c.GET_RELATED_DOCUMENTS: StoredQuery(
        "GetRelatedDocuments",
        (*_ids(DOCUMENT, STR), Param("$AssociationTypes", STRS, True), METADATA_LEVEL, HOME),
        get_related_documents,
    ),
}


# -- response ---------------------------------------------------------------------------------


def _leaf(xml: str, status: str, home: str) -> etree._Element:
    element = xmlsafe.parse_own(xml.encode("utf-8"))
    element.set("status", status)
    if home:
        element.set("home", home)
    return element


def _folder_leaf(row: XdsFolder, home: str) -> etree._Element:
    element = _leaf(row.xml, row.status, home)
    slot = etree.Element(f"{{{c.RIM}}}Slot", name=c.SLOT_LAST_UPDATE_TIME)
    etree.SubElement(etree.SubElement(slot, f"{{{c.RIM}}}ValueList"), f"{{{c.RIM}}}Value").text = row.last_update_time
    element.insert(0, slot)
    return element


def response_element(result: Result | None, errors: list[RegistryError], return_type: str, home: str) -> etree._Element:
    """query:AdhocQueryResponse with the objects in LeafClass or ObjectRef form."""
    response = etree.Element(f"{{{c.QUERY}}}AdhocQueryResponse", nsmap={"query": c.QUERY, "rim": c.RIM, "rs": c.RS})
    response.set("status", status_of(errors))
    if errors:
        response.append(error_list(errors))
    objects = etree.SubElement(response, f"{{{c.RIM}}}RegistryObjectList")
    if result is None:
        return response
    if return_type == RETURN_OBJECT_REF:
        rows: list[PatientObject | XdsAssociation] = [*result.submission_sets, *result.documents, *result.folders, *result.associations]
        for row in rows:
            ref = etree.SubElement(objects, f"{{{c.RIM}}}ObjectRef", id=row.uuid)
            if home:
                ref.set("home", home)
        return response
    for ss in result.submission_sets:
        objects.append(_leaf(ss.xml, ss.status, home))
    for document in result.documents:
        objects.append(_leaf(document.xml, document.status, home))
    for folder in result.folders:
        objects.append(_folder_leaf(folder, home))
    for association in result.associations:
        objects.append(_leaf(association.xml, association.status, home))
    return response


def run(
    session: Session,
    body: etree._Element,
    settings: QuerySettings,
    check_read: Callable[[str], None],
    may_read: Callable[[str], bool] | None = None,
    entries: Callable[[Sequence[XdsDocumentEntry]], list[bool]] | None = None,
) -> Outcome:
    """Answer one query:AdhocQueryRequest; `check_read(patient)` raises when the caller
    may not read the documents of the patient a query names; `may_read(patient)` says
    whether the caller may see an object it names by id (None: every object);
    `entries(documents)` whether the caller may see each DocumentEntry found (None: all)."""
    return_type = RETURN_LEAF_CLASS
    try:
        if etree.QName(body).namespace != c.QUERY or etree.QName(body).localname != "AdhocQueryRequest":
            raise QueryError(c.XDSRegistryError, "the body of ITI-18 is a query:AdhocQueryRequest (ebRS 3.0)")
        option = body.find(f"{{{c.QUERY}}}ResponseOption")
        return_type = option.get("returnType", RETURN_OBJECT_REF) if option is not None else RETURN_OBJECT_REF
        if return_type not in (RETURN_LEAF_CLASS, RETURN_OBJECT_REF):
            raise QueryError(c.XDSRegistryError, f"returnType {return_type} is not LeafClass or ObjectRef")
        query = body.find(f"{{{c.RIM}}}AdhocQuery")
        if query is None:
            raise QueryError(c.XDSRegistryError, "AdhocQueryRequest has no rim:AdhocQuery")
        # the id is an xsd:anyURI: surrounding whitespace is not part of it
        query_id = query.get("id", "").strip()
        stored = QUERIES.get(query_id)
        if stored is None:
            raise QueryError(c.XDSUnknownStoredQuery, f"unknown stored query {query_id}", query_id)
        params = parse_params(query, stored.params, stored.name)
        patient = params.get(stored.patient_param) if stored.patient_param else None
        if patient is not None:
            reason = dt.check_cx(patient)
            if reason:
                raise QueryError(c.XDSRegistryError, f"{stored.patient_param}: {reason}", stored.patient_param or "")
            check_read(patient)
        visibility = _Visibility(session, may_read) if may_read is not None and patient is None else None
        if visibility is not None:
            visibility.hide_entry_points(params)
        result = stored.run(session, params, settings.max_results)
        if visibility is not None:
            result = visibility.filter(result)
        if entries is not None:
            result = _readable_entries(session, result, entries)
        if result.count() > settings.max_results:
            raise QueryError(c.XDSTooManyResults, f"more than {settings.max_results} results; narrow the query")
        patients = result.patients()
        if return_type == RETURN_LEAF_CLASS and len(patients) > 1:
            raise QueryError(c.XDSResultNotSinglePatient, "the result holds objects of more than one patient")
        for other in patients - ({patient} if patient else set()):
            check_read(other)
        home = settings.home_community_id
        return Outcome(response_element(result, [], return_type, home), patient or (next(iter(patients)) if len(patients) == 1 else None))
    except QueryError as error:
        return Outcome(response_element(None, [error.error], return_type, settings.home_community_id))
