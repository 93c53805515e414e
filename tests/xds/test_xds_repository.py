"""ITI-41 / ITI-42 / ITI-43 on a real store, without a server (ITI TF-2b 3.41-3.43)."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from xds_support import (
    OTHER_PATIENT,
    PATIENT,
    REPOSITORY,
    counts,
    iti41,
    iti42,
    seed_patients,
    submit,
)

from actors.xds import constants as c
from actors.xds.repository import DocumentRequest, retrieve
from conformance.xds_metadata import (
    AssociationSpec,
    DocumentSpec,
    FolderSpec,
    submit_objects_request,
)
from hub.store.models.xds import XdsDocument, XdsDocumentEntry, XdsFolder


def test_iti41_stores_bytes_and_registers_size_hash_and_repository(store):
    seed_patients(store, PATIENT)
    errors, documents = submit(store, documents=[DocumentSpec(content=b"a" * 1000), DocumentSpec(content=b"b")])
    assert errors == []
    with store.session() as session:
        entries = {e.unique_id: e for e in session.scalars(select(XdsDocumentEntry))}
        stored = {d.unique_id: d for d in session.scalars(select(XdsDocument))}
    for spec in documents:
        entry = entries[spec.unique_id]
        assert (entry.size, entry.hash, entry.repository_unique_id) == (len(spec.content), hashlib.sha1(spec.content).hexdigest(), REPOSITORY)
        assert entry.status == c.STATUS_APPROVED and entry.uuid.startswith("urn:uuid:")
        assert stored[spec.unique_id].content == spec.content
        assert f'<rim:Value>{hashlib.sha1(spec.content).hexdigest()}</rim:Value>' in entry.xml


def test_second_document_failing_validation_leaves_no_trace(store):
    seed_patients(store, PATIENT)
    bad = DocumentSpec(class_code=DocumentSpec().class_code)
    bad.creation_time = "not-a-time"
    errors, _ = submit(store, documents=[DocumentSpec(), bad])
    assert errors == [(c.XDSRegistryMetadataError, "Document02")]
    assert set(counts(store).values()) == {0}


def test_store_error_in_the_middle_of_iti41_leaves_no_trace(store):
    seed_patients(store, PATIENT)
    first, second = DocumentSpec(content=b"one"), DocumentSpec(content=b"two")
    # The repository already holds bytes under the second uniqueId (unknown to the
    # registry): the insert fails at the end of the transaction.
    with store.transaction() as session:
        session.add(XdsDocument(unique_id=second.unique_id, mime_type="text/plain", size=1, hash="0" * 40, content=b"x"))
    before = counts(store)
    with pytest.raises(IntegrityError):
        submit(store, documents=[first, second])
    assert counts(store) == before


def test_unknown_patient_is_refused(store):
    errors, _ = submit(store)
    assert errors == [(c.XDSUnknownPatientId, "SubmissionSet01")]


def test_patient_outside_the_affinity_domain_is_unknown(store):
    foreign = "1234567890123^^^&1.2.3.4&ISO"
    seed_patients(store, foreign)
    errors, _ = submit(store, patient=foreign)
    assert errors == [(c.XDSUnknownPatientId, "SubmissionSet01")]


def test_duplicate_unique_id_in_registry(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec()
    assert submit(store, documents=[spec])[0] == []
    again = DocumentSpec(unique_id=spec.unique_id, content=spec.content)
    assert submit(store, documents=[again])[0] == [(c.XDSDuplicateUniqueIdInRegistry, "Document01")]


def test_duplicate_unique_id_with_other_hash_is_non_identical_hash(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec()
    assert submit(store, documents=[spec])[0] == []
    other = DocumentSpec(unique_id=spec.unique_id, content=b"other", with_hash_and_size=True)
    assert submit(store, documents=[other])[0] == [(c.XDSNonIdenticalHash, "Document01")]


def test_submission_set_unique_id_already_registered(store):
    seed_patients(store, PATIENT)
    assert submit(store, submission_unique_id="1.2.3.4.5")[0] == []
    assert submit(store, submission_unique_id="1.2.3.4.5")[0] == [(c.XDSDuplicateUniqueIdInRegistry, "SubmissionSet01")]


def test_supplied_hash_must_match_the_document(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec(with_hash_and_size=True)
    request = submit_objects_request(PATIENT, documents=[spec])
    spec.content = b"changed!!"  # same length as nothing else: hash differs, size differs too
    assert sorted(iti41(store, request, [spec])) == [(c.XDSNonIdenticalHash, "Document01"), (c.XDSNonIdenticalSize, "Document01")]


def test_supplied_size_must_match_the_document(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec(content=b"abc", with_hash_and_size=True)
    request = submit_objects_request(PATIENT, documents=[spec])
    for value in request.iter(f"{{{c.RIM}}}Slot"):
        if value.get("name") == "size":
            value.find(f".//{{{c.RIM}}}Value").text = "4"
    assert iti41(store, request, [spec]) == [(c.XDSNonIdenticalSize, "Document01")]


def test_missing_document(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec()
    request = submit_objects_request(PATIENT, documents=[spec])
    assert iti41(store, request, []) == [(c.XDSMissingDocument, "Document01")]


def test_missing_document_metadata(store):
    seed_patients(store, PATIENT)
    spec, extra = DocumentSpec(), DocumentSpec(symbolic_id="Document99")
    request = submit_objects_request(PATIENT, documents=[spec])
    assert iti41(store, request, [spec, extra]) == [(c.XDSMissingDocumentMetadata, "Document99")]


def test_iti42_registers_metadata_of_documents_held_elsewhere(store):
    seed_patients(store, PATIENT)
    spec = DocumentSpec(with_hash_and_size=True, repository_unique_id="1.2.250.1.213.1.999.77")
    assert iti42(store, submit_objects_request(PATIENT, documents=[spec])) == []
    with store.session() as session:
        entry = session.scalars(select(XdsDocumentEntry)).one()
    assert entry.repository_unique_id == "1.2.250.1.213.1.999.77"
    assert counts(store)["xds_document"] == 0


def test_folder_of_another_patient_cannot_receive_a_document(store):
    seed_patients(store, PATIENT, OTHER_PATIENT)
    folder = FolderSpec()
    assert submit(store, patient=OTHER_PATIENT, documents=[DocumentSpec()], folders=[folder])[0] == []
    with store.session() as session:
        folder_uuid = session.scalars(select(XdsFolder.uuid)).one()
    errors, _ = submit(
        store,
        documents=[DocumentSpec()],
        associations=[AssociationSpec(c.HAS_MEMBER, folder_uuid, "Document01")],
    )
    assert (c.XDSPatientIdDoesNotMatch, "as2") in errors


def test_iti43_retrieves_and_reports_missing_documents(store):
    seed_patients(store, PATIENT)
    errors, documents = submit(store, documents=[DocumentSpec(content=b"payload")])
    assert errors == []
    unique_id = documents[0].unique_id
    with store.session() as session:
        found, missing = retrieve(
            session,
            [
                DocumentRequest(REPOSITORY, unique_id),
                DocumentRequest(REPOSITORY, "1.2.3.999"),
                DocumentRequest("1.9.9.9", unique_id),
            ],
            REPOSITORY,
        )
    assert [(f.content, f.patient_id) for f in found] == [(b"payload", PATIENT)]
    assert [(e.code, e.location) for e in missing] == [
        (c.XDSDocumentUniqueIdError, "1.2.3.999"),
        (c.XDSUnknownRepositoryId, unique_id),
    ]
