"""Metadata validation of a submission (ITI TF-3 4.1 and 4.2.3, ITI TF-2b 3.42.4.1.3).

The rules that need no store: presence and cardinality of the classifications, external
identifiers and slots of SubmissionSet, DocumentEntry, Folder and Association, their
formats, code values against the affinity domain's value sets, one patient per
submission, uniqueIds unique in the message. Rules that need the registry content
(known patient, uniqueIds already registered, association targets) are in `registry`.
Every error names the object it is about in `location`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from actors.xds import constants as c
from actors.xds import datatypes as dt
from actors.xds.errors import RegistryError
from actors.xds.metadata import (
    Association,
    DocumentEntry,
    Folder,
    RegistryObject,
    Submission,
    SubmissionSet,
)

META = c.XDSRegistryMetadataError

ITI41 = "ITI-41"
ITI42 = "ITI-42"
ITI57 = "ITI-57"


@dataclass
class ValidationContext:
    """What the rules depend on: the transaction and the affinity domain's value sets
    (classification scheme UUID -> accepted `code^^scheme` keys; a scheme without a value
    set accepts any code)."""

    transaction: str = ITI42
    value_sets: Mapping[str, frozenset[str]] = field(default_factory=dict)


# (scheme, display name, minimum, maximum) of DocumentEntry coded classifications
DOCUMENT_CODES = (
    (c.XDSDocumentEntry_classCode, "classCode", 1, 1),
    (c.XDSDocumentEntry_confidentialityCode, "confidentialityCode", 1, None),
    (c.XDSDocumentEntry_eventCodeList, "eventCodeList", 0, None),
    (c.XDSDocumentEntry_formatCode, "formatCode", 1, 1),
    (c.XDSDocumentEntry_healthCareFacilityTypeCode, "healthcareFacilityTypeCode", 1, 1),
    (c.XDSDocumentEntry_practiceSettingCode, "practiceSettingCode", 1, 1),
    (c.XDSDocumentEntry_typeCode, "typeCode", 1, 1),
)
SUBMISSION_SET_CODES = ((c.XDSSubmissionSet_contentTypeCode, "contentTypeCode", 1, 1),)
FOLDER_CODES = ((c.XDSFolder_codeList, "codeList", 1, None),)

# slot name -> (checker, single valued)
Checker = Callable[[str], "str | None"]
DOCUMENT_SLOTS: dict[str, tuple[Checker, bool]] = {
    "creationTime": (dt.check_dtm, True),
    "serviceStartTime": (dt.check_dtm, True),
    "serviceStopTime": (dt.check_dtm, True),
    "hash": (dt.check_sha1, True),
    "size": (dt.check_integer, True),
    "languageCode": (dt.check_language, True),
    "repositoryUniqueId": (dt.check_oid, True),
    "sourcePatientId": (dt.check_cx, True),
    "legalAuthenticator": (dt.check_xcn, True),
    "URI": (lambda v: None if v else "empty", False),
    c.SLOT_REFERENCE_ID_LIST: (dt.check_cxi, False),
}
AUTHOR_SLOTS: dict[str, tuple[Checker, bool]] = {
    "authorPerson": (dt.check_xcn, True),
    "authorInstitution": (dt.check_xon, False),
    "authorTelecommunication": (dt.check_xtn, False),
    "authorRole": (lambda v: None if v else "empty", False),
    "authorSpecialty": (lambda v: None if v else "empty", False),
}


class _Errors(list[RegistryError]):
    def add(self, code: str, context: str, location: str) -> None:
        self.append(RegistryError(code, context, location))


def _check_slot_values(
    slots: Mapping[str, list[str]],
    rules: Mapping[str, tuple[Checker, bool]],
    errors: _Errors,
    location: str,
    not_single: str,
    invalid: str,
) -> None:
    """The slots that have a rule: one value when the rule says so, each value accepted by
    the rule's checker. The error texts are `not_single` and `invalid`, formatted with the
    slot's `name` (and the `value` and the checker's `reason`)."""
    for name, values in slots.items():
        rule = rules.get(name)
        if rule is None:
            continue
        checker, single = rule
        if single and len(values) != 1:
            errors.add(META, not_single.format(name=name), location)
        for value in values:
            reason = checker(value)
            if reason:
                errors.add(META, invalid.format(name=name, value=value, reason=reason), location)


def _check_slots(obj: RegistryObject, rules: Mapping[str, tuple[Checker, bool]], errors: _Errors) -> None:
    for name in obj.duplicate_slots:
        errors.add(META, f"slot {name} appears more than once", obj.id)
    _check_slot_values(
        obj.slots, rules, errors, obj.id, "slot {name} must have exactly one value", "slot {name} value '{value}': {reason}"
    )


def _check_codes(
    obj: RegistryObject,
    rules: tuple[tuple[str, str, int, int | None], ...],
    context: ValidationContext,
    errors: _Errors,
) -> None:
    for scheme, label, low, high in rules:
        found = obj.classified(scheme)
        if len(found) < low or (high is not None and len(found) > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            errors.add(META, f"{label}: {wanted} classification(s) required, {len(found)} found", obj.id)
        for classification in found:
            schemes = classification.slots.get("codingScheme", [])
            if not classification.node_representation:
                errors.add(META, f"{label}: nodeRepresentation (code) is missing", obj.id)
            if len(schemes) != 1 or not schemes[0]:
                errors.add(META, f"{label}: codingScheme slot must have exactly one value", obj.id)
                continue
            accepted = context.value_sets.get(scheme)
            key = f"{classification.node_representation}^^{schemes[0]}"
            if accepted is not None and key not in accepted:
                errors.add(META, f"{label} {key} is not in the affinity domain's value set", obj.id)


def _check_classified_object(obj: RegistryObject, errors: _Errors) -> None:
    """Each Classification and ExternalIdentifier of `obj` names `obj` as its parent."""
    links = [("Classification", x.id, "classifiedObject", x.classified_object) for x in obj.classifications]
    links += [("ExternalIdentifier", x.id, "registryObject", x.registry_object) for x in obj.external_identifiers]
    for kind, child_id, attribute, parent in links:
        if parent != obj.id:
            errors.add(META, f"{kind} {child_id} has {attribute} '{parent}', not its parent {obj.id}", obj.id)


def _check_identifiers(
    obj: RegistryObject, label: str, patient_scheme: str, unique_scheme: str, errors: _Errors
) -> None:
    for scheme, name, checker in (
        (patient_scheme, "patientId", dt.check_cx),
        (unique_scheme, "uniqueId", dt.check_unique_id),
    ):
        values = obj.identifiers(scheme)
        if len(values) != 1:
            errors.add(META, f"{label}.{name}: exactly one ExternalIdentifier required, {len(values)} found", obj.id)
            continue
        reason = checker(values[0].value)
        if reason:
            errors.add(META, f"{label}.{name} '{values[0].value}': {reason}", obj.id)


def _check_authors(obj: RegistryObject, scheme: str, label: str, errors: _Errors) -> None:
    for classification in obj.classified(scheme):
        if classification.node_representation:
            errors.add(META, f"{label}.author classification must have an empty nodeRepresentation", obj.id)
        slots = classification.slots
        if not (slots.get("authorPerson") or slots.get("authorInstitution") or slots.get("authorTelecommunication")):
            errors.add(
                META, f"{label}.author needs authorPerson, authorInstitution or authorTelecommunication", obj.id
            )
        _check_slot_values(
            slots,
            AUTHOR_SLOTS,
            errors,
            obj.id,
            f"{label}.author slot {{name}} must have exactly one value",
            f"{label}.author {{name}} '{{value}}': {{reason}}",
        )


def validate_document_entry(entry: DocumentEntry, context: ValidationContext, errors: _Errors) -> None:
    """DocumentEntry attributes (ITI TF-3 Table 4.3.1-3, column XDS DS / registry)."""
    if entry.object_type not in (c.DOCUMENT_ENTRY_STABLE, c.DOCUMENT_ENTRY_ON_DEMAND):
        errors.add(META, f"DocumentEntry objectType '{entry.object_type}' is neither stable nor on-demand", entry.id)
    if not entry.mime_type:
        errors.add(META, "DocumentEntry.mimeType is required", entry.id)
    required = ["languageCode", "sourcePatientId"]
    if not entry.on_demand:
        required.append("creationTime")
        if context.transaction in (ITI42, ITI57):
            required += ["hash", "size", "repositoryUniqueId"]
    else:
        required.append("repositoryUniqueId")
    for name in required:
        if not entry.slots.get(name):
            errors.add(META, f"DocumentEntry.{name} slot is required", entry.id)
    _check_slots(entry, DOCUMENT_SLOTS, errors)
    for value in entry.slots.get("sourcePatientInfo", []):
        field_name, sep, _ = value.partition("|")
        if not sep or not field_name.startswith("PID-"):
            errors.add(META, f"sourcePatientInfo value must be 'PID-n|value', got '{value[:20]}'", entry.id)
    _check_codes(entry, DOCUMENT_CODES, context, errors)
    _check_authors(entry, c.XDSDocumentEntry_author, "DocumentEntry", errors)
    _check_identifiers(entry, "DocumentEntry", c.XDSDocumentEntry_patientId, c.XDSDocumentEntry_uniqueId, errors)
    _check_classified_object(entry, errors)
    start, stop = entry.slot("serviceStartTime"), entry.slot("serviceStopTime")
    if start and stop and not dt.check_dtm(start) and not dt.check_dtm(stop) and dt.pad_dtm(stop) < dt.pad_dtm(start):
        errors.add(META, "serviceStopTime is before serviceStartTime", entry.id)


def validate_submission_set(ss: SubmissionSet, context: ValidationContext, errors: _Errors) -> None:
    """SubmissionSet attributes (ITI TF-3 Table 4.3.1-2)."""
    times = ss.slots.get("submissionTime", [])
    if len(times) != 1:
        errors.add(META, "SubmissionSet.submissionTime slot is required (one value)", ss.id)
    elif dt.check_dtm(times[0]):
        errors.add(META, f"SubmissionSet.submissionTime '{times[0]}': {dt.check_dtm(times[0])}", ss.id)
    _check_codes(ss, SUBMISSION_SET_CODES, context, errors)
    _check_authors(ss, c.XDSSubmissionSet_author, "SubmissionSet", errors)
    _check_identifiers(ss, "SubmissionSet", c.XDSSubmissionSet_patientId, c.XDSSubmissionSet_uniqueId, errors)
    sources = ss.identifiers(c.XDSSubmissionSet_sourceId)
    if len(sources) != 1:
        errors.add(META, "SubmissionSet.sourceId: exactly one ExternalIdentifier required", ss.id)
    elif dt.check_oid(sources[0].value):
        errors.add(META, f"SubmissionSet.sourceId '{sources[0].value}': {dt.check_oid(sources[0].value)}", ss.id)
    _check_classified_object(ss, errors)


def validate_folder(folder: Folder, context: ValidationContext, errors: _Errors) -> None:
    """Folder attributes (ITI TF-3 Table 4.3.1-4)."""
    if not folder.name:
        errors.add(META, "Folder.title (rim:Name) is required", folder.id)
    _check_codes(folder, FOLDER_CODES, context, errors)
    _check_identifiers(folder, "Folder", c.XDSFolder_patientId, c.XDSFolder_uniqueId, errors)
    _check_classified_object(folder, errors)


def _validate_associations(submission: Submission, errors: _Errors) -> None:
    """Association types and the HasMember structure of a submission (ITI TF-3 4.2.2)."""
    ss = submission.submission_set
    local_ids = {o.id for o in submission.objects}
    documents = {d.id for d in submission.documents}
    folders = {f.id for f in submission.folders}
    members: set[str] = set()
    for association in submission.associations:
        kind = association.association_type
        if kind not in c.ASSOCIATION_TYPES:
            errors.add(META, f"associationType '{kind}' is not an XDS association type", association.id)
            continue
        for end in (association.source, association.target):
            if not end:
                errors.add(META, "Association needs sourceObject and targetObject", association.id)
            elif end not in local_ids and not end.startswith("urn:uuid:") and end not in submission.object_refs:
                errors.add(
                    c.UnresolvedReferenceException,
                    f"'{end}' names no object of the submission and is not a UUID",
                    association.id,
                )
        if kind == c.HAS_MEMBER and ss is not None and association.source == ss.id:
            members.add(association.target)
            if association.target in documents:
                status = association.slots.get(c.SLOT_SUBMISSION_SET_STATUS, [])
                if status not in (["Original"], ["Reference"]):
                    errors.add(
                        META,
                        "SubmissionSet-DocumentEntry HasMember needs SubmissionSetStatus Original or Reference",
                        association.id,
                    )
        if kind in c.DOCUMENT_RELATIONSHIPS and association.source not in documents:
            errors.add(
                META,
                "the source of a document relationship must be a DocumentEntry of the submission",
                association.id,
            )
    for entry_id in sorted((documents | folders) - members):
        errors.add(META, "object is not the target of a HasMember association from the SubmissionSet", entry_id)


# ebRIM 3.0 rim:Value is a LongName (ITI TF-3 4.2.3.1.3: slot values of at most 256 characters)
MAX_SLOT_VALUE = 256


def _check_value_lengths(obj: RegistryObject, errors: _Errors) -> None:
    holders = [obj.slots, *(x.slots for x in obj.classifications)]
    for slots in holders:
        for name, values in slots.items():
            if any(len(value) > MAX_SLOT_VALUE for value in values):
                errors.add(META, f"a value of slot {name} is longer than {MAX_SLOT_VALUE} characters", obj.id)


def validate_submission(submission: Submission, context: ValidationContext) -> list[RegistryError]:
    """All store-independent metadata rules of ITI-41/42/57 (ITI TF-3 4.1, 4.2.3)."""
    errors = _Errors(submission.errors)
    if len(submission.submission_sets) != 1:
        errors.add(
            META,
            f"a submission carries exactly one SubmissionSet, {len(submission.submission_sets)} found",
            "",
        )
    seen: set[str] = set()
    for obj in submission.objects:
        if not obj.id:
            errors.add(META, f"{type(obj).__name__} without id attribute", "")
        elif obj.id in seen:
            errors.add(META, f"id '{obj.id}' is used by more than one object", obj.id)
        elif obj.id.startswith("urn:uuid:") and not dt.is_uuid_urn(obj.id):
            errors.add(META, f"entryUUID '{obj.id}' is not a UUID URN (RFC 4122)", obj.id)
        seen.add(obj.id)
        _check_value_lengths(obj, errors)
    for entry in submission.documents:
        validate_document_entry(entry, context, errors)
    for ss in submission.submission_sets:
        validate_submission_set(ss, context, errors)
    for folder in submission.folders:
        validate_folder(folder, context, errors)
    unique_ids: dict[str, str] = {}
    identified: list[SubmissionSet | DocumentEntry | Folder] = [*submission.submission_sets, *submission.documents, *submission.folders]
    for obj in identified:
        unique_id = obj.unique_id
        if not unique_id:
            continue
        if unique_id in unique_ids:
            errors.add(
                c.XDSRegistryDuplicateUniqueIdInMessage,
                f"uniqueId {unique_id} is used by {unique_ids[unique_id]} and {obj.id}",
                obj.id,
            )
        unique_ids[unique_id] = obj.id
    submission_set = submission.submission_set
    if submission_set is not None and submission_set.patient_id:
        with_patient: list[DocumentEntry | Folder] = [*submission.documents, *submission.folders]
        for obj in with_patient:
            patient = obj.patient_id
            if patient and patient != submission_set.patient_id:
                errors.add(
                    c.XDSPatientIdDoesNotMatch,
                    f"patientId {patient} differs from the SubmissionSet's {submission_set.patient_id}",
                    obj.id,
                )
    if submission_set is not None:
        _validate_associations(submission, errors)
    return list(errors)


__all__ = [
    "ITI41",
    "ITI42",
    "ITI57",
    "Association",
    "ValidationContext",
    "validate_submission",
]
