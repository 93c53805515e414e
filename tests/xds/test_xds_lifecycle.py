"""Document relationships (ITI TF-3 4.2.2: RPLC, APND, XFRM, XFRM_RPLC, signs) and ITI-57
Update Document Set (Metadata Update), end to end on a store."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from xds_support import OTHER_PATIENT, PATIENT, REPOSITORY, iti57, seed_patients, submit

from actors.xds import constants as c
from conformance.xds_metadata import (
    AssociationSpec,
    CodeSpec,
    DocumentSpec,
    FolderSpec,
    submit_objects_request,
)
from hub.store.models.xds import XdsAssociation, XdsDocumentEntry, XdsFolder

R = f"{{{c.RIM}}}"


def _entry(store, unique_id: str) -> XdsDocumentEntry:
    with store.session() as session:
        return session.scalars(select(XdsDocumentEntry).where(XdsDocumentEntry.unique_id == unique_id).order_by(XdsDocumentEntry.version.desc())).first()


@pytest.fixture
def original(store) -> XdsDocumentEntry:
    seed_patients(store, PATIENT, OTHER_PATIENT)
    spec = DocumentSpec()
    assert submit(store, documents=[spec], folders=[FolderSpec(members=["Document01"])])[0] == []
    return _entry(store, spec.unique_id)


def _relate(store, kind: str, target: str, patient: str = PATIENT) -> tuple[list, DocumentSpec]:
    spec = DocumentSpec(content=b"new version")
    errors, _ = submit(store, patient=patient, documents=[spec], associations=[AssociationSpec(kind, "Document01", target)])
    return errors, spec


@pytest.mark.parametrize("kind", [c.RPLC, c.XFRM_RPLC])
def test_replacement_deprecates_the_original_and_joins_its_folders(store, original, kind):
    with store.session() as session:
        folder_before = session.scalars(select(XdsFolder)).one().last_update_time
    errors, spec = _relate(store, kind, original.uuid)
    assert errors == []
    replacement = _entry(store, spec.unique_id)
    assert (_entry(store, original.unique_id).status, replacement.status) == (c.STATUS_DEPRECATED, c.STATUS_APPROVED)
    with store.session() as session:
        folder = session.scalars(select(XdsFolder)).one()
        members = set(session.scalars(select(XdsAssociation.target).where(XdsAssociation.source == folder.uuid)))
    assert members == {original.uuid, replacement.uuid}
    assert folder.last_update_time >= folder_before


@pytest.mark.parametrize("kind", [c.APND, c.XFRM, c.SIGNS])
def test_addendum_transform_and_signature_leave_the_original_approved(store, original, kind):
    errors, spec = _relate(store, kind, original.uuid)
    assert errors == []
    assert _entry(store, original.unique_id).status == c.STATUS_APPROVED
    with store.session() as session:
        links = session.scalars(select(XdsAssociation).where(XdsAssociation.target == original.uuid, XdsAssociation.association_type == kind)).all()
    assert [link.source for link in links] == [_entry(store, spec.unique_id).uuid]


def test_relationship_to_a_deprecated_entry_is_refused(store, original):
    assert _relate(store, c.RPLC, original.uuid)[0] == []
    errors, _ = _relate(store, c.APND, original.uuid)
    assert errors == [(c.XDSRegistryDeprecatedDocumentError, "as2")]


def test_relationship_to_another_patients_entry_is_refused(store, original):
    errors, _ = _relate(store, c.RPLC, original.uuid, patient=OTHER_PATIENT)
    assert errors == [(c.XDSPatientIdDoesNotMatch, "as2")]
    assert _entry(store, original.unique_id).status == c.STATUS_APPROVED


def test_relationship_to_an_unknown_entry_is_unresolved(store, original):
    errors, _ = _relate(store, c.RPLC, "urn:uuid:5f8e9a4c-0000-4000-8000-000000000000")
    assert errors == [(c.UnresolvedReferenceException, "as2")]


# -- ITI-57 -----------------------------------------------------------------------------------

def _new_version(original: XdsDocumentEntry, previous: str = "1", **changes) -> object:
    spec = DocumentSpec(unique_id=original.unique_id, with_hash_and_size=True, repository_unique_id=REPOSITORY, **changes)
    request = submit_objects_request(PATIENT, documents=[spec])
    request.find(f".//{R}ExtrinsicObject").set("lid", original.lid)
    has_member = request.find(f".//{R}Association")
    slot = has_member.makeelement(f"{R}Slot", name=c.SLOT_PREVIOUS_VERSION)
    slot.append(slot.makeelement(f"{R}ValueList"))
    slot[0].append(slot.makeelement(f"{R}Value"))
    slot[0][0].text = previous
    has_member.append(slot)
    return request


def test_iti57_new_version_deprecates_the_previous_one(store, original):
    request = _new_version(original, class_code=CodeSpec("11490-0", "2.16.840.1.113883.6.1"))
    # the DocumentEntry of the version must carry the original document's hash and size
    for slot in request.iter(f"{R}Slot"):
        if slot.get("name") == "hash":
            slot.find(f".//{R}Value").text = original.hash
        if slot.get("name") == "size":
            slot.find(f".//{R}Value").text = str(original.size)
    assert iti57(store, request) == []
    with store.session() as session:
        versions = session.scalars(select(XdsDocumentEntry).where(XdsDocumentEntry.lid == original.lid).order_by(XdsDocumentEntry.version)).all()
    assert [(v.version, v.status, v.class_code) for v in versions] == [
        (1, c.STATUS_DEPRECATED, original.class_code),
        (2, c.STATUS_APPROVED, "11490-0^^2.16.840.1.113883.6.1"),
    ]
    assert 'versionName="2"' in versions[1].xml


def test_iti57_previous_version_must_be_the_latest(store, original):
    assert iti57(store, _new_version(original, previous="2")) == [(c.XDSMetadataVersionError, "Document01")]


def test_iti57_unknown_logical_id(store, original):
    request = _new_version(original)
    request.find(f".//{R}ExtrinsicObject").set("lid", "urn:uuid:0e4c1a70-0000-4000-8000-000000000000")
    for ei in request.iter(f"{R}ExternalIdentifier"):
        if ei.get("identificationScheme") == c.XDSDocumentEntry_uniqueId:
            ei.set("value", "1.2.3.4.5.7")
    assert iti57(store, request) == [(c.XDSMetadataIdentifierError, "Document01")]


def test_iti57_unique_id_cannot_change(store, original):
    request = _new_version(original)
    for ei in request.iter(f"{R}ExternalIdentifier"):
        if ei.get("identificationScheme") == c.XDSDocumentEntry_uniqueId:
            ei.set("value", "1.2.3.4.5.6")
    assert iti57(store, request) == [(c.XDSMetadataIdentifierError, "Document01")]


def test_iti57_previous_version_slot_is_required(store, original):
    request = _new_version(original)
    has_member = request.find(f".//{R}Association")
    has_member.remove(has_member.findall(f"{R}Slot")[-1])
    assert iti57(store, request) == [(c.XDSMetadataUpdateError, "Document01")]


def _status_update(target: str, original: str, new: str):
    return submit_objects_request(
        PATIENT,
        documents=[],
        associations=[
            AssociationSpec(c.UPDATE_AVAILABILITY_STATUS, "SubmissionSet01", target, {c.SLOT_ORIGINAL_STATUS: [original], c.SLOT_NEW_STATUS: [new]})
        ],
    )


def test_iti57_update_availability_status(store, original):
    assert iti57(store, _status_update(original.uuid, c.STATUS_APPROVED, c.STATUS_DEPRECATED)) == []
    assert _entry(store, original.unique_id).status == c.STATUS_DEPRECATED
    assert iti57(store, _status_update(original.uuid, c.STATUS_DEPRECATED, c.STATUS_APPROVED)) == []
    assert _entry(store, original.unique_id).status == c.STATUS_APPROVED


def test_iti57_original_status_must_be_current(store, original):
    errors = iti57(store, _status_update(original.uuid, c.STATUS_DEPRECATED, c.STATUS_APPROVED))
    assert errors == [(c.XDSMetadataUpdateError, "as1")]


def test_iti57_folder_new_version(store, original):
    with store.session() as session:
        folder = session.scalars(select(XdsFolder)).one()
    request = submit_objects_request(PATIENT, documents=[], folders=[FolderSpec(unique_id=folder.unique_id, title="Renamed")])
    package = next(p for p in request.iter(f"{R}RegistryPackage") if p.get("id") == "Folder01")
    package.set("lid", folder.lid)
    has_member = next(a for a in request.iter(f"{R}Association") if a.get("targetObject") == "Folder01")
    slot = has_member.makeelement(f"{R}Slot", name=c.SLOT_PREVIOUS_VERSION)
    value_list = slot.makeelement(f"{R}ValueList")
    value = value_list.makeelement(f"{R}Value")
    value.text = "1"
    value_list.append(value)
    slot.append(value_list)
    has_member.append(slot)
    assert iti57(store, request) == []
    with store.session() as session:
        versions = session.scalars(select(XdsFolder).where(XdsFolder.lid == folder.lid).order_by(XdsFolder.version)).all()
    assert [(v.version, v.status) for v in versions] == [(1, c.STATUS_DEPRECATED), (2, c.STATUS_APPROVED)]
    assert "Renamed" in versions[1].xml
