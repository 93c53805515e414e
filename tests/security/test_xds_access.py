"""Issue 18, findings 6 and 8, against a real hub (VIHF required), with real SOAP clients
sending a fresh signed assertion per request.

Finding 6 — the ITI-57 authorisation rule (INTERFACES.md access rules): only an author
structure of a document may change its status or metadata. Its author structures are
the structures its authorInstitution names (XON.10) and the structure of the principal
who submitted it ("the submitter's structure counts as an author structure for later
ITI-57"). A refusal is an ITI-57 RegistryResponse Failure (XDSMetadataUpdateError, the
Metadata Update's general error, codeContext "not authorised: ..."), nothing changes and
the audit trail records a refusal. A replacement (RPLC through ITI-41) deprecates its
target, so the same rule applies to it.

Finding 8 — existence-blind answers: an object the caller may not see (here: an
assertion restricted to patient A asking about patient B's objects) is answered exactly
as an id that names nothing, on every stored query by id and on ITI-43. The answers are
compared byte for byte once the ids themselves are set aside.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from actors.xds.query import QUERIES
from conformance.hubprocess import HubProcess, launch_hub
from conformance.xds_client import Answer, XdsClient, quoted_list
from conformance.xds_metadata import AssociationSpec, DocumentSpec, FolderSpec, new_oid, submit_objects_request
from hub.store import Store
from hub.store.models.audit import AuditRecord
from vihf.issue import Signer, issue

DOMAIN = "1.2.250.1.213.1.4.8"
REPOSITORY = "1.2.250.1.213.1.999.1"
PATIENT_A = f"1800000000001^^^&{DOMAIN}&ISO"
PATIENT_B = f"1800000000002^^^&{DOMAIN}&ISO"
STRUCTURE_A = "49990001234701"
STRUCTURE_B = "49990009876501"
STRUCTURE_C = "49990005555501"

HUB_CONFIG = f"""
[identity]
affinity_domain = "{DOMAIN}"

[xds]
repository_unique_id = "{REPOSITORY}"

[cda]
submission_gate = "off"
# These tests look at the assertion's and ITI-57's rules: documents of patients in no pathway are open to every
# authenticated professional here (the coordination model's rules: tests/coordination).
[coordination]
unenrolled_patients = "allow"
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("xds-access"), pki, HUB_CONFIG)
    store = Store(process.db_url)
    with store.transaction() as session:
        add_known_patient(session, PATIENT_A)
        add_known_patient(session, PATIENT_B)
    store.close()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def professional(hub: HubProcess, signer: Signer) -> Callable[..., XdsClient]:
    """A Document Source/Consumer acting for one professional of one structure,
    optionally under an assertion restricted to one patient."""

    def make(subject_id: str, structure: str, patient: str | None = None) -> XdsClient:
        def fresh() -> etree._Element:
            return issue(
                signer,
                subject_id=subject_id,
                subject_name="PRO, Test, Médecine générale",
                roles=["10", "SM26"],
                structure_id=structure,
                sector="SA07",
                patient=patient,
            )

        return XdsClient(hub.session(), hub.https_url, fresh)

    return make


def _institution(structure: str) -> str:
    return f"Cabinet {structure}^^^^^^^^^{structure}"  # XON.10: the structure id


def _submit(client: XdsClient, patient: str, author_structure: str, **changes: object) -> DocumentSpec:
    document = DocumentSpec(entry_uuid=f"urn:uuid:{uuid.uuid4()}", author_institution=_institution(author_structure), **changes)  # type: ignore[arg-type]
    answer = client.provide_and_register(submit_objects_request(patient, documents=[document]), [document])
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    return document


def _deprecate(client: XdsClient, patient: str, entry_uuid: str) -> Answer:
    return client.update(
        submit_objects_request(
            patient,
            associations=[
                AssociationSpec(
                    c.UPDATE_AVAILABILITY_STATUS, "SubmissionSet01", entry_uuid,
                    {c.SLOT_ORIGINAL_STATUS: [c.STATUS_APPROVED], c.SLOT_NEW_STATUS: [c.STATUS_DEPRECATED]},
                )
            ],
        )
    )


def _status(client: XdsClient, entry_uuid: str) -> str:
    answer = client.stored_query(c.GET_DOCUMENTS, {"$XDSDocumentEntryEntryUUID": quoted_list(entry_uuid)})
    entries = answer.body.findall(f".//{{{c.RIM}}}ExtrinsicObject")
    assert len(entries) == 1
    return entries[0].get("status", "")


def _contexts(answer: Answer) -> list[tuple[str, str]]:
    return [(e.get("errorCode", ""), e.get("codeContext", "")) for e in answer.body.iter(f"{{{c.RS}}}RegistryError")]


def _audited(hub: HubProcess, transaction: str, outcome: str) -> list[AuditRecord]:
    store = Store(hub.db_url)
    try:
        for _ in range(50):  # the record may be written just after the answer
            with store.session() as session:
                rows = list(
                    session.scalars(
                        select(AuditRecord).where(AuditRecord.transaction == transaction, AuditRecord.outcome == outcome)
                    )
                )
            if rows:
                return rows
            time.sleep(0.1)
        return []
    finally:
        store.close()


# -- finding 6: ITI-57 authorisation ----------------------------------------------------------


def test_iti57_by_another_structure_is_refused_and_changes_nothing(hub: HubProcess, professional: Callable[..., XdsClient]) -> None:
    author = professional("899900012347", STRUCTURE_A)
    stranger = professional("899900023456", STRUCTURE_B)
    document = _submit(author, PATIENT_A, STRUCTURE_A)
    assert document.entry_uuid is not None
    answer = _deprecate(stranger, PATIENT_A, document.entry_uuid)
    assert answer.registry_status == c.RESPONSE_FAILURE
    assert [code for code, _ in _contexts(answer)] == [c.XDSMetadataUpdateError]
    assert _contexts(answer)[0][1].startswith("not authorised")
    assert _status(author, document.entry_uuid) == c.STATUS_APPROVED
    refused = _audited(hub, "ITI-57", "refused")
    assert refused and any("not authorised" in (r.detail or "") and STRUCTURE_B in (r.who or "") for r in refused)


def test_iti57_new_version_by_another_structure_is_refused(professional: Callable[..., XdsClient]) -> None:
    author = professional("899900012347", STRUCTURE_A)
    stranger = professional("899900023456", STRUCTURE_B)
    document = _submit(author, PATIENT_A, STRUCTURE_A, with_hash_and_size=True)
    assert document.entry_uuid is not None
    version = DocumentSpec(
        unique_id=document.unique_id, content=document.content, with_hash_and_size=True,
        repository_unique_id=REPOSITORY, title="Rewritten by another structure",
    )
    request = submit_objects_request(PATIENT_A, documents=[version])
    entry = request.find(f".//{{{c.RIM}}}ExtrinsicObject")
    assert entry is not None
    entry.set("lid", document.entry_uuid)
    has_member = request.find(f".//{{{c.RIM}}}Association")
    assert has_member is not None
    slot = etree.SubElement(has_member, f"{{{c.RIM}}}Slot", name=c.SLOT_PREVIOUS_VERSION)
    etree.SubElement(etree.SubElement(slot, f"{{{c.RIM}}}ValueList"), f"{{{c.RIM}}}Value").text = "1"
    answer = stranger.update(request)
    assert answer.registry_status == c.RESPONSE_FAILURE
    assert [code for code, _ in _contexts(answer)] == [c.XDSMetadataUpdateError]
    assert _status(author, document.entry_uuid) == c.STATUS_APPROVED


def test_replacement_by_another_structure_is_refused(professional: Callable[..., XdsClient]) -> None:
    author = professional("899900012347", STRUCTURE_A)
    stranger = professional("899900023456", STRUCTURE_B)
    original = _submit(author, PATIENT_A, STRUCTURE_A)
    assert original.entry_uuid is not None
    replacement = DocumentSpec(author_institution=_institution(STRUCTURE_B))
    request = submit_objects_request(
        PATIENT_A, documents=[replacement], associations=[AssociationSpec(c.RPLC, "Document01", original.entry_uuid)]
    )
    answer = stranger.provide_and_register(request, [replacement])
    assert answer.registry_status == c.RESPONSE_FAILURE
    assert [code for code, _ in _contexts(answer)] == [c.XDSRegistryError]
    assert _contexts(answer)[0][1].startswith("not authorised")
    assert _status(author, original.entry_uuid) == c.STATUS_APPROVED


def test_iti57_by_the_author_structure_is_accepted(professional: Callable[..., XdsClient]) -> None:
    """Submitted by structure C for an author of structure A: another professional of
    A (not the submitter, not the same person) may deprecate it."""
    submitter = professional("899900034565", STRUCTURE_C)
    colleague = professional("899900045674", STRUCTURE_A)
    document = _submit(submitter, PATIENT_A, STRUCTURE_A)
    assert document.entry_uuid is not None
    answer = _deprecate(colleague, PATIENT_A, document.entry_uuid)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    assert _status(colleague, document.entry_uuid) == c.STATUS_DEPRECATED


def test_iti57_by_the_submitter_structure_is_accepted(professional: Callable[..., XdsClient]) -> None:
    """authorInstitution names structure C; the document was submitted from structure A:
    another professional of A may deprecate it."""
    submitter = professional("899900012347", STRUCTURE_A)
    colleague = professional("899900045674", STRUCTURE_A)
    document = _submit(submitter, PATIENT_A, STRUCTURE_C)
    assert document.entry_uuid is not None
    answer = _deprecate(colleague, PATIENT_A, document.entry_uuid)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    assert _status(colleague, document.entry_uuid) == c.STATUS_DEPRECATED


# -- finding 8: existence-blind answers -------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """Patient B's objects, as the registry named them."""

    document_uuid: str
    document_unique_id: str
    submission_set_uuid: str
    submission_set_unique_id: str
    folder_uuid: str
    folder_unique_id: str


def _ids(answer: Answer) -> list[str]:
    return [x.get("id", "") for x in answer.body.iter(f"{{{c.RIM}}}ObjectRef")]


@pytest.fixture(scope="module")
def patient_b(professional: Callable[..., XdsClient]) -> Registered:
    """Patient B's record: a document in a folder, and a second document appended to
    it (so that every Get* query has something to find)."""
    source = professional("899900012347", STRUCTURE_A)
    first = DocumentSpec(entry_uuid=f"urn:uuid:{uuid.uuid4()}")
    assert first.entry_uuid is not None
    folder = FolderSpec(members=[first.entry_uuid])
    set_unique_id = new_oid()
    request = submit_objects_request(PATIENT_B, documents=[first], folders=[folder], submission_unique_id=set_unique_id)
    assert source.provide_and_register(request, [first]).errors == []
    appended = DocumentSpec()
    request = submit_objects_request(
        PATIENT_B, documents=[appended], associations=[AssociationSpec(c.APND, "Document01", first.entry_uuid)]
    )
    assert source.provide_and_register(request, [appended]).errors == []
    folders = _ids(source.stored_query(c.GET_FOLDERS, {"$XDSFolderUniqueId": quoted_list(folder.unique_id)}, "ObjectRef"))
    sets = source.stored_query(c.GET_SUBMISSION_SET_AND_CONTENTS, {"$XDSSubmissionSetUniqueId": quoted_list(set_unique_id)})
    packages = [
        x.get("id", "")
        for x in sets.body.iter(f"{{{c.RIM}}}RegistryPackage")
        if any(i.get("value") == set_unique_id for i in x.iter(f"{{{c.RIM}}}ExternalIdentifier"))
    ]
    assert len(folders) == 1 and len(packages) == 1
    return Registered(first.entry_uuid, first.unique_id, packages[0], set_unique_id, folders[0], folder.unique_id)


# (stored query, its parameters for one id, which of B's ids it is asked about)
QUERIES_BY_ID: list[tuple[str, Callable[[str], dict[str, str]], str]] = [
    (c.GET_DOCUMENTS, lambda x: {"$XDSDocumentEntryEntryUUID": quoted_list(x)}, "document_uuid"),
    (c.GET_DOCUMENTS, lambda x: {"$XDSDocumentEntryUniqueId": quoted_list(x)}, "document_unique_id"),
    (c.GET_DOCUMENTS, lambda x: {"$XDSDocumentEntryLogicalID": quoted_list(x)}, "document_uuid"),
    (c.GET_FOLDERS, lambda x: {"$XDSFolderEntryUUID": quoted_list(x)}, "folder_uuid"),
    (c.GET_FOLDERS, lambda x: {"$XDSFolderUniqueId": quoted_list(x)}, "folder_unique_id"),
    (c.GET_ASSOCIATIONS, lambda x: {"$uuid": quoted_list(x)}, "document_uuid"),
    (c.GET_ASSOCIATIONS, lambda x: {"$uuid": quoted_list(x)}, "submission_set_uuid"),
    (c.GET_ASSOCIATIONS, lambda x: {"$uuid": quoted_list(x)}, "folder_uuid"),
    (c.GET_DOCUMENTS_AND_ASSOCIATIONS, lambda x: {"$XDSDocumentEntryEntryUUID": quoted_list(x)}, "document_uuid"),
    (c.GET_DOCUMENTS_AND_ASSOCIATIONS, lambda x: {"$XDSDocumentEntryUniqueId": quoted_list(x)}, "document_unique_id"),
    (c.GET_SUBMISSION_SETS, lambda x: {"$uuid": quoted_list(x)}, "document_uuid"),
    (c.GET_SUBMISSION_SET_AND_CONTENTS, lambda x: {"$XDSSubmissionSetEntryUUID": quoted_list(x)}, "submission_set_uuid"),
    (c.GET_SUBMISSION_SET_AND_CONTENTS, lambda x: {"$XDSSubmissionSetUniqueId": quoted_list(x)}, "submission_set_unique_id"),
    (c.GET_FOLDER_AND_CONTENTS, lambda x: {"$XDSFolderEntryUUID": quoted_list(x)}, "folder_uuid"),
    (c.GET_FOLDER_AND_CONTENTS, lambda x: {"$XDSFolderUniqueId": quoted_list(x)}, "folder_unique_id"),
    (c.GET_FOLDERS_FOR_DOCUMENT, lambda x: {"$XDSDocumentEntryEntryUUID": quoted_list(x)}, "document_uuid"),
    (c.GET_FOLDERS_FOR_DOCUMENT, lambda x: {"$XDSDocumentEntryUniqueId": quoted_list(x)}, "document_unique_id"),
    (
        c.GET_RELATED_DOCUMENTS,
        lambda x: {"$XDSDocumentEntryEntryUUID": quoted_list(x), "$AssociationTypes": quoted_list(c.APND)},
        "document_uuid",
    ),
    (
        c.GET_RELATED_DOCUMENTS,
        lambda x: {"$XDSDocumentEntryUniqueId": quoted_list(x), "$AssociationTypes": quoted_list(c.APND)},
        "document_unique_id",
    ),
]


def _unknown_like(value: str) -> str:
    return f"urn:uuid:{uuid.uuid4()}" if value.startswith("urn:uuid:") else new_oid()


def _bytes(answer: Answer, *ids: str) -> bytes:
    """The answer's body, canonical, with the ids asked about set aside."""
    text = etree.tostring(answer.body, method="c14n")
    for value in ids:
        text = text.replace(value.encode(), b"<id>")
    return text


@pytest.mark.parametrize("return_type", ["LeafClass", "ObjectRef"])
@pytest.mark.parametrize(
    ("query_id", "params", "which"),
    QUERIES_BY_ID,
    ids=[f"{QUERIES[q].name}-{next(iter(p('x'))).lstrip('$')}-{w}" for q, p, w in QUERIES_BY_ID],
)
def test_a_stored_query_by_id_answers_a_hidden_object_as_an_unknown_one(
    professional: Callable[..., XdsClient],
    patient_b: Registered,
    query_id: str,
    params: Callable[[str], dict[str, str]],
    which: str,
    return_type: str,
) -> None:
    hidden = getattr(patient_b, which)
    unknown = _unknown_like(hidden)
    care_team = professional("899900012347", STRUCTURE_A)
    seen = care_team.stored_query(query_id, params(hidden), return_type)
    assert seen.registry_status == c.RESPONSE_SUCCESS
    assert len(seen.body.find(f"{{{c.RIM}}}RegistryObjectList")), "the object exists and is found by the care team"
    restricted = professional("899900023456", STRUCTURE_B, patient=PATIENT_A)
    about_hidden = restricted.stored_query(query_id, params(hidden), return_type)
    about_unknown = restricted.stored_query(query_id, params(unknown), return_type)
    assert (about_hidden.status, about_hidden.registry_status) == (about_unknown.status, about_unknown.registry_status) == (200, c.RESPONSE_SUCCESS)
    assert _bytes(about_hidden, hidden) == _bytes(about_unknown, unknown)


def test_iti43_answers_a_hidden_document_as_an_unknown_one(professional: Callable[..., XdsClient], patient_b: Registered) -> None:
    source = professional("899900012347", STRUCTURE_A)
    own = _submit(source, PATIENT_A, STRUCTURE_A)
    restricted = professional("899900023456", STRUCTURE_B, patient=PATIENT_A)
    unknown = new_oid()
    for mtom in (False, True):
        hidden_answer, hidden_contents = restricted.retrieve([(REPOSITORY, patient_b.document_unique_id)], mtom_=mtom)
        unknown_answer, unknown_contents = restricted.retrieve([(REPOSITORY, unknown)], mtom_=mtom)
        assert hidden_answer.errors == [(c.XDSDocumentUniqueIdError, patient_b.document_unique_id)]
        assert (hidden_contents, unknown_contents) == ({}, {})
        assert _bytes(hidden_answer, patient_b.document_unique_id) == _bytes(unknown_answer, unknown)
    # beside a document the caller may read: the same PartialSuccess either way
    mixed_hidden, contents = restricted.retrieve([(REPOSITORY, own.unique_id), (REPOSITORY, patient_b.document_unique_id)], mtom_=False)
    mixed_unknown, _ = restricted.retrieve([(REPOSITORY, own.unique_id), (REPOSITORY, unknown)], mtom_=False)
    assert mixed_hidden.registry_status == c.RESPONSE_PARTIAL_SUCCESS
    assert contents == {own.unique_id: own.content}
    assert _bytes(mixed_hidden, patient_b.document_unique_id) == _bytes(mixed_unknown, unknown)


def test_iti57_answers_a_hidden_target_as_an_unknown_one(professional: Callable[..., XdsClient], patient_b: Registered) -> None:
    """An update for patient A naming B's entry must not tell that the entry exists."""
    restricted = professional("899900012347", STRUCTURE_A, patient=PATIENT_A)
    unknown = f"urn:uuid:{uuid.uuid4()}"
    hidden_answer = _deprecate(restricted, PATIENT_A, patient_b.document_uuid)
    unknown_answer = _deprecate(restricted, PATIENT_A, unknown)
    assert hidden_answer.registry_status == c.RESPONSE_FAILURE
    assert _bytes(hidden_answer, patient_b.document_uuid) == _bytes(unknown_answer, unknown)
