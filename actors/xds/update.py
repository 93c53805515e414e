"""ITI-57 Update Document Set (ITI TF-2b 3.57, Metadata Update supplement).

Operations: a new version of a DocumentEntry or a Folder (same logicalId, HasMember from
the SubmissionSet with a PreviousVersion slot: the previous version becomes Deprecated)
and UpdateAvailabilityStatus associations (Approved <-> Deprecated).

Every operation names a registered object: one the caller may not see is answered as
an unknown one, and one it may not change (`access.may_update`: only an author
structure may) refuses the whole submission with XDSMetadataUpdateError, the Metadata
Update's general error, whose codeContext says "not authorised".
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from actors.xds import access
from actors.xds import constants as c
from actors.xds.errors import RegistryError, XdsFailure
from actors.xds.metadata import Association, Submission, resolve_symbolic_ids
from actors.xds.patients import PatientDirectory
from actors.xds.registry import (
    Registered,
    RegistrySettings,
    Writer,
    check_against_registry,
    now_dtm,
    submitted_locations,
)
from actors.xds.validation import ITI57, ValidationContext, validate_submission
from hub.store.models.xds import XdsDocumentEntry, XdsFolder
from vihf.principal import Principal

STATUSES = (c.STATUS_APPROVED, c.STATUS_DEPRECATED)


def _latest(session: Session, model: type[XdsDocumentEntry | XdsFolder], lid: str) -> XdsDocumentEntry | XdsFolder | None:
    statement = select(model).where(model.lid == lid).order_by(model.version.desc()).limit(1)
    return cast("XdsDocumentEntry | XdsFolder | None", session.scalars(statement).first())


def _previous_version(submission: Submission, target: str) -> tuple[Association | None, str | None]:
    ss = submission.submission_set
    for association in submission.associations:
        if association.association_type == c.HAS_MEMBER and ss is not None and association.source == ss.id and association.target == target:
            values = association.slots.get(c.SLOT_PREVIOUS_VERSION)
            return association, values[0] if values and len(values) == 1 else None
    return None, None


# (latest registered version, its model, the submitted object that supersedes it)
Versioned = tuple[XdsDocumentEntry | XdsFolder, type[XdsDocumentEntry | XdsFolder], Any]
# (model, entryUUID, new availability status)
StatusChange = tuple[type[XdsDocumentEntry | XdsFolder], str, str]


def update_document_set(
    session: Session,
    submission: Submission,
    patients: PatientDirectory,
    settings: RegistrySettings,
    now: datetime | None = None,
    principal: Principal | None = None,
) -> Registered:
    """ITI-57: apply the updates of `submission` in the caller's transaction, or raise
    `XdsFailure` (XDSMetadataUpdateError, XDSMetadataVersionError,
    XDSMetadataIdentifierError, XDSPatientIDReconciliationError ...). `principal` is
    the caller (None when the hub does not require VIHF). Every operation is checked
    against the registry first (nothing written when one fails), then written."""
    errors = validate_submission(submission, ValidationContext(ITI57, settings.value_sets))
    if any(e.is_error for e in errors):
        raise XdsFailure(errors)
    errors = check_against_registry(session, submission, patients, update_mode=True)
    if errors:
        raise XdsFailure(errors)
    ss = submission.submission_set
    assert ss is not None
    resolve_symbolic_ids(submission)
    versions, errors = _new_versions(session, submission, principal)
    status_changes, refused = _status_changes(session, submission, ss.patient_id, principal)
    errors += refused + _unsupported_operations(submission, ss.id)
    if not versions and not status_changes and not errors:
        errors.append(RegistryError(c.XDSMetadataUpdateError, "the submission updates nothing", ss.id))
    if errors:
        raise XdsFailure(submitted_locations(submission, errors))
    deprecated = _write(session, submission, now_dtm(now), versions, status_changes)
    return Registered(
        patient_id=ss.patient_id or "",
        submission_set=ss.id,
        documents=[d.id for d in submission.documents],
        deprecated=deprecated,
    )


def _new_versions(
    session: Session, submission: Submission, principal: Principal | None
) -> tuple[list[Versioned], list[RegistryError]]:
    """(object, model, previous version) of each DocumentEntry or Folder the submission
    versions, and the errors of those it may not."""
    versions: list[Versioned] = []
    errors: list[RegistryError] = []
    seen_lids: set[str] = set()
    for obj in [*submission.documents, *submission.folders]:
        model: type[XdsDocumentEntry | XdsFolder] = XdsDocumentEntry if obj in submission.documents else XdsFolder
        lid = obj.lid
        if not lid or lid == obj.id:
            errors.append(
                RegistryError(c.XDSMetadataUpdateOperationError, "an update carries a new version (lid of the updated object)", obj.id)
            )
            continue
        if lid in seen_lids:
            errors.append(RegistryError(c.XDSMetadataUpdateError, f"logicalId {lid} is updated twice in one submission", obj.id))
            continue
        seen_lids.add(lid)
        previous = _latest(session, model, lid)
        error = _version_error(submission, obj, previous, principal)
        if error is not None:
            errors.append(error)
        else:
            assert previous is not None
            versions.append((previous, model, obj))
    return versions, errors


def _version_error(
    submission: Submission, obj: Any, previous: XdsDocumentEntry | XdsFolder | None, principal: Principal | None
) -> RegistryError | None:
    """Why `obj` cannot be the next version of `previous` (the latest registered version
    of its logicalId), or None."""
    if previous is None or not access.may_read(principal, previous.patient_id):
        return RegistryError(c.XDSMetadataIdentifierError, f"no registered object has logicalId {obj.lid}", obj.id)
    if not access.may_update(principal, previous):
        return RegistryError(c.XDSMetadataUpdateError, access.UPDATE_REFUSED, obj.id)
    association, version = _previous_version(submission, obj.id)
    if association is None or version is None:
        return RegistryError(c.XDSMetadataUpdateError, "the SubmissionSet HasMember needs one PreviousVersion value", obj.id)
    if version != str(previous.version) or previous.status != c.STATUS_APPROVED:
        return RegistryError(
            c.XDSMetadataVersionError, f"PreviousVersion {version} is not the latest Approved version ({previous.version})", obj.id
        )
    if obj.unique_id != previous.unique_id:
        return RegistryError(c.XDSMetadataIdentifierError, "uniqueId differs from the previous version's", obj.id)
    if obj.patient_id != previous.patient_id:
        return RegistryError(c.XDSPatientIDReconciliationError, "patientId differs from the previous version's", obj.id)
    return None


def _status_changes(
    session: Session, submission: Submission, patient_id: str | None, principal: Principal | None
) -> tuple[list[StatusChange], list[RegistryError]]:
    """(model, uuid, new status) of each UpdateAvailabilityStatus, and the errors of
    those that cannot be applied."""
    changes: list[StatusChange] = []
    errors: list[RegistryError] = []
    for association in submission.associations:
        if association.association_type != c.UPDATE_AVAILABILITY_STATUS:
            continue
        original = association.slots.get(c.SLOT_ORIGINAL_STATUS, [])
        new = association.slots.get(c.SLOT_NEW_STATUS, [])
        if len(original) != 1 or len(new) != 1 or new[0] not in STATUSES:
            errors.append(
                RegistryError(c.XDSMetadataUpdateError, "UpdateAvailabilityStatus needs OriginalStatus and NewStatus", association.id)
            )
            continue
        target: XdsDocumentEntry | XdsFolder | None = session.get(XdsDocumentEntry, association.target)
        if target is None:
            target = session.get(XdsFolder, association.target)
        error = _status_error(target, original[0], patient_id, principal)
        if error is not None:
            errors.append(RegistryError(error[0], error[1], association.id))
        else:
            assert target is not None
            changes.append((type(target), target.uuid, new[0]))
    return changes, errors


def _status_error(
    target: XdsDocumentEntry | XdsFolder | None, original: str, patient_id: str | None, principal: Principal | None
) -> tuple[str, str] | None:
    """(error code, text) of a status change `target` cannot take, or None."""
    if target is None or not access.may_read(principal, target.patient_id):
        return c.UnresolvedReferenceException, "UpdateAvailabilityStatus target is not registered"
    if not access.may_update(principal, target):
        return c.XDSMetadataUpdateError, access.UPDATE_REFUSED
    if target.status != original:
        return c.XDSMetadataUpdateError, f"OriginalStatus {original} is not the current status"
    if target.patient_id != patient_id:
        return c.XDSPatientIdDoesNotMatch, "the target belongs to another patient"
    return None


def _unsupported_operations(submission: Submission, submission_set: str) -> list[RegistryError]:
    """Associations that are neither a HasMember nor an UpdateAvailabilityStatus."""
    return [
        RegistryError(c.XDSMetadataUpdateOperationError, f"{a.association_type} is not an ITI-57 operation here", a.id)
        for a in submission.associations
        if a.association_type not in (c.UPDATE_AVAILABILITY_STATUS, c.HAS_MEMBER)
    ]


def _write(
    session: Session, submission: Submission, stamp: str, versions: list[Versioned], status_changes: list[StatusChange]
) -> list[str]:
    """Write the checked updates; the uuids of the DocumentEntries deprecated by a new
    version. A new version keeps the structure that submitted the object: an update does
    not make its caller the submitter."""
    writer = Writer(session, submission, stamp)
    deprecated: dict[type[XdsDocumentEntry | XdsFolder], list[str]] = {XdsDocumentEntry: [], XdsFolder: []}
    for previous, model, obj in versions:
        if model is XdsDocumentEntry:
            writer.add_document(obj, previous.lid, previous.version + 1, previous.submitter_structure)
        else:
            writer.add_folder(obj, previous.lid, previous.version + 1, previous.submitter_structure)
        deprecated[model].append(previous.uuid)
    assert submission.submission_set is not None
    writer.add_submission_set(submission.submission_set)
    for association in submission.associations:
        writer.add_association(association)
    writer.write()
    for model, uuids in deprecated.items():
        if uuids:
            session.execute(update(model).where(model.uuid.in_(uuids)).values(status=c.STATUS_DEPRECATED))
    for model, uuid_, status in status_changes:
        session.execute(update(model).where(model.uuid == uuid_).values(status=status))
    return deprecated[XdsDocumentEntry]
