"""Every request sample of ../shared/corpus/xds/ replayed against a running hub (issue 4,
"Done when" 1; SOURCES-xds.tsv says what each sample is).

Bodies are wrapped in SOAP 1.2 with a fresh VIHF assertion (MTOM where the sample is
MTOM); SOAP envelopes get the VIHF header added; NIST templates get their $placeholders$
filled (patient ids, uniqueIds and entryUUIDs of a seeded registry, as the NIST toolkit
does at run time); raw HTTP captures are replayed as they are, on a hub that does not
require VIHF (they carry none, or a foreign one). Each outcome is checked against what
the Technical Framework requires of the sample, listed in EXPECTED with the reason.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from xds_support import assertion_source
from lxml import etree

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.hubprocess import HubProcess, launch_hub
from conformance.xds_client import Answer, XdsClient, quoted, quoted_list
from conformance.xds_metadata import (
    AssociationSpec,
    DocumentSpec,
    FolderSpec,
    new_oid,
    submit_objects_request,
)
from hub.wire import soap, xmlsafe
from hub.store import Store
from vihf import wsse

DOMAIN = "1.3.6.1.4.1.21367.2005.3.7"  # the IHE connectathon affinity domain of the samples
REPOSITORY = "1.3.6.1.4.1.21367.2010.1.2.1125"
PATIENT = f"TSN-1^^^&{DOMAIN}&ISO"
OTHER = f"TSN-2^^^&{DOMAIN}&ISO"
MU_LID = "urn:uuid:20744602-ba65-44e9-87ee-a52303a5183e"
CONFIG = f"""
[identity]
affinity_domain = "{DOMAIN}"

[xds]
repository_unique_id = "{REPOSITORY}"

# The replays look at the registry and repository; the CDA gate has its own tests.
[cda]
submission_gate = "off"
# These tests look at XDS itself: documents of patients in no pathway are open to every
# authenticated professional here (the coordination model's rules: tests/coordination).
[coordination]
unenrolled_patients = "allow"
"""
SUCCESS, FAILURE, PARTIAL = "Success", "Failure", "PartialSuccess"
META = c.XDSRegistryMetadataError

# sample -> (expected status or SOAP fault, expected error codes (a subset), why)
EXPECTED: dict[str, tuple[str, set[str], str]] = {}


def expect(path: str, status: str, codes: set[str], why: str) -> None:
    EXPECTED[path] = (status, codes, why)


# -- IHE published examples (2007): short associationType and a sourceId that is no OID
old_ihe = "2007 example: associationType 'HasMember' (ebRS 2.1 short form) and sourceId not an OID"
expect("ihe-examples/ProvideAndRegisterDocumentSet-bRequest.xml", FAILURE, {META}, old_ihe)
expect("ihe-examples/ProvideAndRegisterDocumentSet-bRequest_SOAP.xml", FAILURE, {META}, old_ihe)
expect("ihe-examples/RegisterDocumentSet-bRequest.xml", FAILURE, {META}, old_ihe + "; ITI-42 without hash/size/repositoryUniqueId")
expect("ihe-examples/RegistryStoredQueryRequest.xml", FAILURE, {c.XDSRegistryError}, "patient id not single-quoted (ITI TF-2a 3.18.4.1.2.3.3)")
expect("ihe-examples/RegistryStoredQueryRequest_SOAP.xml", FAILURE, {c.XDSRegistryError}, "patient id not single-quoted (ITI TF-2a 3.18.4.1.2.3.3)")
expect("ihe-examples/RetrieveDocumentSetRequest.xml", FAILURE, {c.XDSUnknownRepositoryId}, "names another repository")
expect("ihe-examples/RetrieveDocumentSetRequest_SOAP.xml", FAILURE, {c.XDSUnknownRepositoryId}, "names another repository")
expect("ihe-examples/MU/update.xml", SUCCESS, set(), "new version of the seeded entry it names (lid, PreviousVersion 1)")
# -- IPF
expect("ipf/SubmitObjectsRequest_ebrs30.xml", FAILURE, {META}, "no patientId, uniqueId or contentTypeCode on the SubmissionSet")
expect("ipf/SubmitObjectsRequest_ebrs30_2.xml", FAILURE, {META}, "same metadata gaps as SubmitObjectsRequest_ebrs30")
expect("ipf/SubmitObjectsRequest_ebrs30_update.xml", FAILURE, {c.UnresolvedReferenceException}, "its UpdateAvailabilityStatus targets an object this registry does not hold")
expect("ipf/SubmitObjectsRequest_ebrs30_update_sameLid.xml", FAILURE, {META}, "second entry not a member of the SubmissionSet")
expect("ipf/continua-ProvideAndRegisterDocumentSet.xml", FAILURE, {c.XDSNonIdenticalHash, c.XDSNonIdenticalSize}, "hash aaaa...dddd and size 0815 are placeholders, not those of the document")
expect("ipf/submission-set.xml", FAILURE, {c.XDSUnknownPatientId}, "patient of assigning authority 1.2.3, not the affinity domain")
expect("ipf/iti51request.xml", FAILURE, {c.XDSUnknownStoredQuery}, "ITI-51 query sent on ITI-18: not an ITI-18 stored query")
# -- Jembi
expect("jembi/RegisterDocumentSet-bRequest_SOAP.xml", FAILURE, {META}, old_ihe)
expect("jembi/adhocQueryRequest_wSOAP.xml", "Fault:Sender", set(), "no wsa:Action header (WS-Addressing MessageAddressingHeaderRequired)")
expect("jembi/pnr1.xml", FAILURE, {c.XDSPatientIdDoesNotMatch}, "DocumentEntry patient 1.2.3 vs SubmissionSet patient of the domain")
expect("jembi/pnr2.xml", FAILURE, {c.XDSUnknownPatientId}, "patient of assigning authority 1.2.3, not the affinity domain")
expect("jembi/pnr3.xml", FAILURE, {c.XDSPatientIdDoesNotMatch}, "as pnr1")
expect("jembi/pnr-no-epid.xml", FAILURE, {c.XDSPatientIdDoesNotMatch}, "as pnr1")
expect("jembi/pnr_e2e.xml", "Fault:MustUnderstand", set(), "To/Action/ReplyTo in the SOAP namespace, mustUnderstand: not understood")
expect("nhind-xdr/request_pdf.xml", FAILURE, {META, c.XDSPatientIdDoesNotMatch}, "XDR message: CX patient id with two carets, sourceId not an OID")
# -- NIST validator fixtures
expect("nist-validator/pnr.xml", SUCCESS, set(), "reference submission")
expect("nist-validator/soap-pnr.xml", FAILURE, {c.XDSMissingDocument}, "validator fixture: metadata of two documents, no Document elements")
expect("nist-validator/soap-pnr-element-order.xml", FAILURE, {c.XDSMissingDocument}, "validator fixture without Document elements (element order is not checked)")
expect("nist-validator/pnr-bad-uplink.xml", FAILURE, {META}, "Classification classifies a non-existent parent")
expect("nist-validator/pnr-limited.xml", FAILURE, {META}, "XDR limited metadata is not XDS metadata")
expect("nist-xdr/XdrMinimal.xml", FAILURE, {META}, "XDR minimal metadata")
expect("nist-validator/sq-req.xml", SUCCESS, set(), "FindDocuments")
expect("nist-validator/soap-sq-req.xml", SUCCESS, set(), "FindDocuments in SOAP")
expect("nist-validator/sq-req-bad-pid-format.xml", FAILURE, {c.XDSRegistryError}, "patient id not single-quoted")
expect("nist-validator/sq-req-bad-stat-format2.xml", FAILURE, {c.XDSRegistryError}, "status not single-quoted")
expect("nist-validator/sq-req-missing-stat.xml", FAILURE, {c.XDSStoredQueryMissingParam}, "required $XDSDocumentEntryStatus missing (ITI TF-3 4.2.4: XDSStoredQueryMissingParam)")
expect("nist-validator/soap-ret-req.xml", FAILURE, {c.XDSUnknownRepositoryId}, "names another repository")
expect("nist-validator/soap-ret-req-order.xml", FAILURE, {c.XDSRepositoryError}, "DocumentUniqueId before RepositoryUniqueId")
expect("nist-validator/empty-soap-wrapper.xml", "Fault:Sender", set(), "empty SOAP Body")
# -- NIST test kit templates, filled
for name in (
    "FindDocuments_11897_approved_query", "FindDocuments_11897_classcode_one_query", "FindDocuments_11897_eventcode_query",
    "FindDocuments_11897_objectref_query", "FindDocuments_11897_refid_query", "FindFolders_11899_basic_query1",
    "FindFolders_11899_codelist_query4", "FindFolders_11899_in_updatetime_query2", "FindSubmissionSets_11898_author_all_query",
    "FindSubmissionSets_11898_simple_query", "GetAll_15803_all_query", "GetAssociations_11903_multiple_doc_query4",
    "GetAssociations_11903_single_from_doc_query1", "GetDocumentsAndAssociations_11904_uniqueids_query2",
    "GetDocumentsAndAssociations_11904_uuid_query3", "GetDocuments_11901_homeCommunityId_query6", "GetDocuments_11901_uniqueid_query1",
    "GetDocuments_11901_uuid_multiple_slot_values_query5", "GetDocuments_11901_uuid_query3", "GetDocuments_12368_doc_objectref_query",
    "GetFolderAndContents_11907_uniqueid_query1", "GetFolderAndContents_11907_uuid_query2", "GetFoldersForDocument_11908_uniqueid_query1",
    "GetFoldersForDocument_11908_uuid_query2", "GetFolders_11902_uniqueid_query2", "GetFolders_11902_uuid_query1",
    "GetRelatedDocuments_11909_no_initial_doc_query1", "GetRelatedDocuments_11909_uuid_query6",
    "GetSubmissionSetAndContents_11906_uniqueid_query1", "GetSubmissionSetAndContents_11906_uuid_query3", "GetSubmissionSets_11905_basic_query1",
):
    expect(f"nist-testkit/sq/{name}.xml", SUCCESS, set(), "NIST stored query test, expected Success")
expect("nist-testkit/sq/FindDocuments_11897_old_scheme_query.xml", FAILURE, {c.XDSRegistryError}, "XDS.a ...CodeScheme parameter is not an ITI-18 parameter")
expect("nist-testkit/sq/GetSubmissionSets_12368_ss_leafclass_query.xml", FAILURE, {c.XDSResultNotSinglePatient}, "LeafClass across two patients")
expect("nist-testkit/sq/FindDocumentsForMultiplePatients_12364_one_pid_query.xml", FAILURE, {c.XDSUnknownStoredQuery}, "ITI-51 query is not an ITI-18 stored query")
expect("nist-testkit/retrieve/RetrieveDocumentSetRequest_12029_retrieve_query.xml", SUCCESS, set(), "retrieve of a seeded document")
expect("nist-testkit/submit/ReposAcceptanceTest-1111_SubmitSingleDoc_single_doc.xml", SUCCESS, set(), "single document")
expect("nist-testkit/submit/ReposAcceptanceTest-1111_SubmitRplc_single_doc.xml", SUCCESS, set(), "RPLC of a seeded document")
expect("nist-testkit/submit/ReposAcceptanceTest-1112_SubmitApnd_single_doc.xml", SUCCESS, set(), "APND to a seeded document")
expect("nist-testkit/submit/ReposAcceptanceTest-1113_SubmitFolder_single_fol.xml", SUCCESS, set(), "empty folder")
expect("nist-testkit/submit/ReposAcceptanceTest-1113_SubmitFolderwDoc_fol_doc.xml", SUCCESS, set(), "folder with a document")
expect("nist-testkit/submit/ReposAcceptanceTest-1113_SubmitTwoDocs_two_doc.xml", SUCCESS, set(), "two documents")
expect("nist-testkit/submit/12319_deprecate_version_1_deprecate.xml", SUCCESS, set(), "ITI-57 UpdateAvailabilityStatus Approved -> Deprecated")
expect("nist-testkit/submit/12375_submit_single_doc.xml", FAILURE, {META}, "XDR limited metadata is not XDS metadata")
expect("nist-testkit/submit/15805_Register_Snapshot_single_stable_doc.xml", SUCCESS, set(), "stable snapshot (IsSnapshotOf) of a seeded on-demand entry")
expect("nist-testkit/submit/16102c_submit_two_de_fd.xml", FAILURE, {META}, "Folder is not a member of the SubmissionSet in the template")
expect("nist-testkit/submit/30001_remove_remove.xml", "Fault:Sender", set(), "ITI-62 Delete Document Set is not offered (wsa:ActionNotSupported)")
expect("nist-testkit/submit/legacy-ebrs21_11992_rplc_metadata.xml", FAILURE, {META}, "ebRS 2.1 is refused by an XDS.b registry")
# -- raw HTTP captures, replayed as they are on the open hub
expect("nist-captures/http-mtom-pnr.txt", FAILURE, {c.XDSUnknownPatientId}, "MTOM ITI-41 for a patient outside the affinity domain")
expect("nist-captures/multipart.body.txt", FAILURE, {c.XDSUnknownPatientId}, "MTOM ITI-41 for a patient outside the affinity domain")
expect("nist-captures/simple.body.txt", FAILURE, {c.XDSUnknownPatientId}, "ITI-42 for a patient outside the affinity domain")
expect("nist-captures/socket-request.txt", FAILURE, {META}, "uniqueIds with an OID arc written with a leading zero (097130838508642)")
expect("epr-ch/ITI-43_request_raw.xml", FAILURE, {c.XDSUnknownRepositoryId}, "Swiss EPR retrieve from another repository")
expect("jembi/PnRBasicMtom.xml", "Fault:Sender", set(), "MTOM fixture whose SOAP part is not XML")
expect("jembi/PnRModifiedMtom.xml", "Fault:Sender", set(), "MTOM fixture whose SOAP part is not XML")

RAW = {
    "nist-captures/http-mtom-pnr.txt", "nist-captures/multipart.body.txt", "nist-captures/simple.body.txt",
    "nist-captures/socket-request.txt", "epr-ch/ITI-43_request_raw.xml", "jembi/PnRBasicMtom.xml", "jembi/PnRModifiedMtom.xml",
}
UPDATES = {"ihe-examples/MU/update.xml", "ipf/SubmitObjectsRequest_ebrs30_update.xml", "ipf/SubmitObjectsRequest_ebrs30_update_sameLid.xml", "nist-testkit/submit/12319_deprecate_version_1_deprecate.xml"}


class Seeded:
    """Registry content the templates point at."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}


@pytest.fixture(scope="module")
def corpus_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("xds-corpus"), pki, CONFIG)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def raw_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("xds-raw"), pki, CONFIG + "\n[security]\nrequire_vihf = false\n")
    yield process
    process.stop()


def _object_ref_ids(answer: Answer) -> list[str]:
    return [r.get("id") for r in answer.body.iter(f"{{{c.RIM}}}ObjectRef")]


@pytest.fixture(scope="module")
def seeded(corpus_hub: HubProcess, signer) -> Seeded:
    store = Store(corpus_hub.db_url)
    with store.transaction() as session:
        for patient in (PATIENT, OTHER):
            add_known_patient(session, patient)
    store.close()
    client = XdsClient(corpus_hub.session(), corpus_hub.https_url, assertion_source(signer))
    docs = [DocumentSpec(content=b"one"), DocumentSpec(content=b"two")]
    folder = FolderSpec(members=["Document01"])
    ss_unique = new_oid()
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=docs, folders=[folder], submission_unique_id=ss_unique), docs)
    assert answer.errors == []
    other = [DocumentSpec(content=b"other")]
    assert client.provide_and_register(submit_objects_request(OTHER, documents=other), other).errors == []
    state = Seeded()

    def uuid_of(query_id: str, name: str, value: str) -> str:
        return _object_ref_ids(client.stored_query(query_id, {name: quoted_list(value)}, "ObjectRef"))[0]

    d1 = uuid_of(c.GET_DOCUMENTS, "$XDSDocumentEntryUniqueId", docs[0].unique_id)
    d2 = uuid_of(c.GET_DOCUMENTS, "$XDSDocumentEntryUniqueId", docs[1].unique_id)
    d3 = uuid_of(c.GET_DOCUMENTS, "$XDSDocumentEntryUniqueId", other[0].unique_id)
    fd = uuid_of(c.GET_FOLDERS, "$XDSFolderUniqueId", folder.unique_id)
    ss = _object_ref_ids(client.stored_query(c.GET_SUBMISSION_SETS, {"$uuid": quoted_list(d1)}, "ObjectRef"))
    ss_uuid = next(x for x in ss if x not in (d1,))
    # the DocumentEntry that the Metadata Update example (ihe-examples/MU) updates
    mu_patient = f"714f4004f80540c^^^&{DOMAIN}&ISO"
    store = Store(corpus_hub.db_url)
    with store.transaction() as session:
        add_known_patient(session, mu_patient)
    store.close()
    mu = DocumentSpec(
        entry_uuid=MU_LID, unique_id="1.42.20100709101812.2", with_hash_and_size=True, repository_unique_id="1.19.6.24.109.42.1.5"
    )
    assert client.register(submit_objects_request(mu_patient, documents=[mu])).errors == []
    snapshot_patient = f"SELF-5^^^&{DOMAIN}&ISO"
    store = Store(corpus_hub.db_url)
    with store.transaction() as session:
        add_known_patient(session, snapshot_patient)
    store.close()
    on_demand = DocumentSpec(on_demand=True, repository_unique_id=REPOSITORY)
    assert client.register(submit_objects_request(snapshot_patient, documents=[on_demand])).errors == []
    od_uuid = _object_ref_ids(
        client.stored_query(
            c.FIND_DOCUMENTS,
            {
                "$XDSDocumentEntryPatientId": quoted(snapshot_patient),
                "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED),
                "$XDSDocumentEntryType": quoted_list(c.DOCUMENT_ENTRY_ON_DEMAND),
            },
            "ObjectRef",
        )
    )[0]
    targets = [DocumentSpec(content=b"rplc"), DocumentSpec(content=b"apnd"), DocumentSpec(content=b"deprecate")]
    assert client.provide_and_register(submit_objects_request(PATIENT, documents=targets), targets).errors == []
    rplc, apnd, deprecate = (uuid_of(c.GET_DOCUMENTS, "$XDSDocumentEntryUniqueId", t.unique_id) for t in targets)
    replacement = [DocumentSpec(content=b"three")]
    request = submit_objects_request(PATIENT, documents=replacement, associations=[AssociationSpec(c.APND, "Document01", d2)])
    assert client.provide_and_register(request, replacement).errors == []
    state.values.update(
        patient_id=PATIENT, patientid=PATIENT, basePatientId=PATIENT, baseSourcePatientId=f"X1^^^&{DOMAIN}&ISO",
        docuid1=docs[0].unique_id, repuid=REPOSITORY, uid=docs[0].unique_id, uniqueid1=docs[0].unique_id, uniqueid2=docs[1].unique_id,
        uuid=d1, uuid1=d1, uuid2=d2, orig_docentry_uuid=deprecate, original_doc_uuid=rplc, apnd_uuid=apnd, od_doc_uuid=od_uuid, rplc_doc_uuid=d1,
        SubmissionSet01=ss_uuid, lastyear="20200101", now="20991231",
        folder_uuid=fd, folder_unique=folder.unique_id, ss_uuid=ss_uuid, ss_unique=ss_unique, other_uuid=d3,
    )
    return state


# template placeholders whose meaning depends on the test
OVERRIDES = {
    "ReposAcceptanceTest-1112_SubmitApnd_single_doc": {"original_doc_uuid": "apnd_uuid"},
    "GetFolderAndContents_11907_uniqueid_query1": {"uniqueid": "folder_unique"},
    "GetFolderAndContents_11907_uuid_query2": {"uuid": "folder_uuid"},
    "GetFolders_11902_uniqueid_query2": {"uniqueid1": "folder_unique", "uniqueid2": "folder_unique"},
    "GetFolders_11902_uuid_query1": {"uuid1": "folder_uuid", "uuid2": "folder_uuid"},
    "GetSubmissionSetAndContents_11906_uniqueid_query1": {"uniqueid": "ss_unique"},
    "GetSubmissionSetAndContents_11906_uuid_query3": {"uuid": "ss_uuid"},
    "GetFoldersForDocument_11908_uniqueid_query1": {"uniqueid": "uid"},
    "GetDocuments_12368_doc_objectref_query": {"uuid2": "other_uuid"},
    "GetSubmissionSets_12368_ss_leafclass_query": {"uuid2": "other_uuid"},
}
TEMPLATE_PATIENT = re.compile(r"[^\s<>'\"|]*\^\^\^&amp;1\.3\.6\.1\.4\.1\.21367\.13\.20\.1000&amp;ISO")


def fill(path: str, text: str, seeded: Seeded) -> str:
    """Fill a NIST template as the toolkit does: placeholders, patient ids, fresh uniqueIds."""
    name = Path(path).stem
    values = dict(seeded.values)
    for key, source in OVERRIDES.get(name, {}).items():
        values[key] = seeded.values[source]
    text = re.sub(r"\$([A-Za-z_0-9]+)\$", lambda m: values.get(m.group(1), m.group(0)).replace("&", "&amp;"), text)
    if "/submit/" in path:
        text = TEMPLATE_PATIENT.sub(PATIENT.replace("&", "&amp;"), text)
        for scheme in (c.XDSDocumentEntry_uniqueId, c.XDSSubmissionSet_uniqueId, c.XDSFolder_uniqueId):
            text = re.sub(
                rf'(identificationScheme="{scheme}"[^>]*?value=")[^"]*(")|(value=")[^"]*("[^>]*?identificationScheme="{scheme}")',
                lambda m: (m.group(1) or m.group(3)) + new_oid() + (m.group(2) or m.group(4)),
                text,
            )
    return text


def _reset_metadata_update_example(hub: HubProcess) -> None:
    """The MU examples all update version 1 of one entry: bring it back before each."""
    from sqlalchemy import delete, select, update

    from hub.store.models.xds import XdsAssociation, XdsDocumentEntry, XdsSubmissionSet

    store = Store(hub.db_url)
    with store.transaction() as session:
        sets = list(session.scalars(select(XdsSubmissionSet.uuid).where(XdsSubmissionSet.unique_id == "1.42.20100709101812.3")))
        session.execute(delete(XdsAssociation).where(XdsAssociation.source.in_(sets)))
        session.execute(delete(XdsSubmissionSet).where(XdsSubmissionSet.uuid.in_(sets)))
        session.execute(delete(XdsDocumentEntry).where(XdsDocumentEntry.lid == MU_LID, XdsDocumentEntry.version > 1))
        session.execute(update(XdsDocumentEntry).where(XdsDocumentEntry.lid == MU_LID).values(status=c.STATUS_APPROVED))
    store.close()


def _attach_template_documents(root: etree._Element) -> None:
    """NIST Provide and Register templates get their documents from the test plan."""
    if etree.QName(root).localname != "ProvideAndRegisterDocumentSetRequest" or root.find(f"{{{c.XDSB}}}Document") is not None:
        return
    for entry in root.iter(f"{{{c.RIM}}}ExtrinsicObject"):
        document = etree.SubElement(root, f"{{{c.XDSB}}}Document", id=entry.get("id", ""))
        document.text = base64.b64encode(b"document attached by the test plan").decode("ascii")


def _action(body: etree._Element, path: str) -> tuple[str, str]:
    local = etree.QName(body).localname
    if local == "ProvideAndRegisterDocumentSetRequest":
        return "/xds/repository", c.ACTION_ITI41
    if local == "RetrieveDocumentSetRequest":
        return "/xds/repository", c.ACTION_ITI43
    if local == "AdhocQueryRequest":
        return "/xds/registry", c.ACTION_ITI18
    if local == "RemoveObjectsRequest":
        return "/xds/registry", "urn:ihe:iti:2010:DeleteDocumentSet"
    if path in UPDATES:
        return "/xds/registry", c.ACTION_ITI57
    return "/xds/registry", c.ACTION_ITI42


def _seed_patients(hub: HubProcess, body: etree._Element) -> None:
    """The identity feed knows the SubmissionSet's patient when it is of the domain."""
    patients = {
        e.get("value", "")
        for e in body.iter(f"{{{c.RIM}}}ExternalIdentifier")
        if e.get("identificationScheme") == c.XDSSubmissionSet_patientId
    }
    store = Store(hub.db_url)
    with store.transaction() as session:
        for patient in patients:
            add_known_patient(session, patient)
    store.close()


def _outcome(answer: Answer) -> tuple[str, set[str]]:
    if etree.QName(answer.body).localname == "Fault":
        return f"Fault:{answer.body.findtext(f'.//{{{soap.SOAP12}}}Value', '').split(':')[-1]}", set()
    status = answer.body.get("status") or answer.registry_status
    return status.rsplit(":", 1)[-1], {code for code, _ in answer.errors}


def _raw(data: bytes) -> tuple[str, bytes]:
    """Split a capture into Content-Type and body (HTTP headers may precede the body)."""
    if data.startswith(b"POST "):
        head, _, body = data.partition(b"\r\n\r\n") if b"\r\n\r\n" in data[:4000] else data.partition(b"\n\n")
        content_type = next(
            line.split(b":", 1)[1].strip().decode("latin-1")
            for line in head.splitlines()
            if line.lower().startswith(b"content-type:")
        )
        return content_type, body
    if data.lstrip().startswith(b"--"):
        boundary = data.lstrip().split(b"\n", 1)[0].strip()[2:].decode("latin-1")
        return f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; start-info="application/soap+xml"', data.lstrip()
    return "application/soap+xml; charset=UTF-8", data


def _header_file(corpus: Path, path: str) -> str | None:
    header = corpus / "xds" / path.replace(".body.txt", ".header.txt")
    if path.endswith(".body.txt") and header.exists():
        for line in header.read_text("latin-1").splitlines():
            if line.lower().startswith("content-type:"):
                return line.split(":", 1)[1].strip()
    return None


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_corpus_request(path: str, corpus: Path, corpus_hub: HubProcess, raw_hub: HubProcess, seeded: Seeded, signer) -> None:
    expected_status, expected_codes, why = EXPECTED[path]
    data = (corpus / "xds" / path).read_bytes()
    if path in RAW:
        content_type, body_bytes = _raw(data)
        content_type = _header_file(corpus, path) or content_type
        root_tag = b"RetrieveDocumentSetRequest" if b"RetrieveDocumentSetRequest" in data else b"ProvideAndRegister"
        target = "/xds/repository" if root_tag in data or b"RetrieveDocumentSet" in data else "/xds/registry"
        client = XdsClient(raw_hub.session(), raw_hub.https_url)
        answer = client.post_raw(raw_hub.https_url + target, body_bytes, content_type)
    else:
        text = data.decode("utf-8")
        if "nist-testkit" in path:
            text = fill(path, text, seeded)
        root = xmlsafe.parse(text.encode("utf-8"))
        _attach_template_documents(root)
        if path in UPDATES:
            _reset_metadata_update_example(corpus_hub)
        client = XdsClient(corpus_hub.session(), corpus_hub.https_url, assertion_source(signer))
        if etree.QName(root).localname == "Envelope":
            header = root.find(f"{{{soap.SOAP12}}}Header")
            if header is None:
                header = etree.Element(f"{{{soap.SOAP12}}}Header")
                root.insert(0, header)
            header.append(wsse.security_header(client.assertion()))
            body = root.find(f"{{{soap.SOAP12}}}Body")
            first = body[0] if body is not None and len(body) else None
            target, action = _action(first, path) if first is not None else ("/xds/repository", c.ACTION_ITI41)
            if first is not None:
                _seed_patients(corpus_hub, first)
            answer = client.post_raw(
                corpus_hub.https_url + target, etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                f'application/soap+xml; charset=UTF-8; action="{action}"',
            )
        else:
            target, action = _action(root, path)
            _seed_patients(corpus_hub, root)
            answer = client.post(corpus_hub.https_url + target, action, root)
    status, codes = _outcome(answer)
    assert (status, expected_codes <= codes) == (expected_status, True), f"{path}: {why}; got {status} {answer.errors}"


def test_every_request_sample_is_replayed(corpus: Path) -> None:
    """No request sample of the corpus is left out of EXPECTED."""
    responses = re.compile(r"(Response|resp|-msg|boundryTest|header\.txt|readme|four-score|regresp)", re.IGNORECASE)
    samples = {
        str(p.relative_to(corpus / "xds"))
        for p in (corpus / "xds").rglob("*")
        if p.is_file() and not responses.search(p.name)
    }
    assert samples - set(EXPECTED) == set()
