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
from typing import cast

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
    the caller (None when the hub does not require VIHF)."""
    errors = validate_submission(submission, ValidationContext(ITI57, settings.value_sets))
    if any(e.is_error for e in errors):
        raise XdsFailure(errors)
    errors = check_against_registry(session, submission, patients, update_mode=True)
    if errors:
        raise XdsFailure(errors)
    ss = submission.submission_set
    assert ss is not None
    stamp = now_dtm(now)
    resolve_symbolic_ids(submission)
    writer = Writer(session, submission, stamp)
    errors = []
    deprecated_documents: list[str] = []
    deprecated_folders: list[str] = []
    seen_lids: set[str] = set()
    versioned = [*submission.documents, *submission.folders]
    for obj in versioned:
        model = XdsDocumentEntry if obj in submission.documents else XdsFolder
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
        if previous is None or not access.may_read(principal, previous.patient_id):
            errors.append(RegistryError(c.XDSMetadataIdentifierError, f"no registered object has logicalId {lid}", obj.id))
            continue
        if not access.may_update(principal, previous):
            errors.append(RegistryError(c.XDSMetadataUpdateError, access.UPDATE_REFUSED, obj.id))
            continue
        association, version = _previous_version(submission, obj.id)
        if association is None or version is None:
            errors.append(
                RegistryError(c.XDSMetadataUpdateError, "the SubmissionSet HasMember needs one PreviousVersion value", obj.id)
            )
            continue
        if version != str(previous.version) or previous.status != c.STATUS_APPROVED:
            errors.append(
                RegistryError(
                    c.XDSMetadataVersionError,
                    f"PreviousVersion {version} is not the latest Approved version ({previous.version})",
                    obj.id,
                )
            )
            continue
        if obj.unique_id != previous.unique_id:  # type: ignore[attr-defined]
            errors.append(RegistryError(c.XDSMetadataIdentifierError, "uniqueId differs from the previous version's", obj.id))
            continue
        if obj.patient_id != previous.patient_id:  # type: ignore[attr-defined]
            errors.append(RegistryError(c.XDSPatientIDReconciliationError, "patientId differs from the previous version's", obj.id))
            continue
        # A new version keeps the structure that submitted the object: an update does not
        # make its caller the submitter.
        if model is XdsDocumentEntry:
            writer.add_document(obj, lid, previous.version + 1, previous.submitter_structure)  # type: ignore[arg-type]
            deprecated_documents.append(previous.uuid)
        else:
            writer.add_folder(obj, lid, previous.version + 1, previous.submitter_structure)  # type: ignore[arg-type]
            deprecated_folders.append(previous.uuid)
    status_changes: list[tuple[type[XdsDocumentEntry | XdsFolder], str, str]] = []
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
        if target is None or not access.may_read(principal, target.patient_id):
            errors.append(RegistryError(c.UnresolvedReferenceException, "UpdateAvailabilityStatus target is not registered", association.id))
            continue
        if not access.may_update(principal, target):
            errors.append(RegistryError(c.XDSMetadataUpdateError, access.UPDATE_REFUSED, association.id))
            continue
        if target.status != original[0]:
            errors.append(
                RegistryError(c.XDSMetadataUpdateError, f"OriginalStatus {original[0]} is not the current status", association.id)
            )
            continue
        if target.patient_id != ss.patient_id:
            errors.append(RegistryError(c.XDSPatientIdDoesNotMatch, "the target belongs to another patient", association.id))
            continue
        status_changes.append((type(target), target.uuid, new[0]))
    handled = {c.UPDATE_AVAILABILITY_STATUS}
    for association in submission.associations:
        if association.association_type in handled:
            continue
        if association.association_type == c.HAS_MEMBER and association.source == ss.id:
            continue
        if association.association_type == c.HAS_MEMBER:
            continue
        errors.append(
            RegistryError(c.XDSMetadataUpdateOperationError, f"{association.association_type} is not an ITI-57 operation here", association.id)
        )
    if not versioned and not status_changes and not errors:
        errors.append(RegistryError(c.XDSMetadataUpdateError, "the submission updates nothing", ss.id))
    if errors:
        raise XdsFailure(submitted_locations(submission, errors))
    writer.add_submission_set(ss)
    for association in submission.associations:
        writer.add_association(association)
    writer.write()
    if deprecated_documents:
        session.execute(update(XdsDocumentEntry).where(XdsDocumentEntry.uuid.in_(deprecated_documents)).values(status=c.STATUS_DEPRECATED))
    if deprecated_folders:
        session.execute(update(XdsFolder).where(XdsFolder.uuid.in_(deprecated_folders)).values(status=c.STATUS_DEPRECATED))
    for model, uuid_, status in status_changes:
        session.execute(update(model).where(model.uuid == uuid_).values(status=status))
    return Registered(
        patient_id=ss.patient_id or "",
        submission_set=ss.id,
        documents=[d.id for d in submission.documents],
        deprecated=deprecated_documents,
    )
