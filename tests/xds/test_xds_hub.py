"""ITI-41, ITI-42, ITI-43 and ITI-18 end to end over HTTPS against a running hub, with a
signed VIHF assertion on every request (issue 4, "Done when" 1-4)."""
from __future__ import annotations

import base64

from xds_support import assertion_source
from lxml import etree
from xds_support import DOMAIN, REPOSITORY, counts

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.xds_client import XdsClient, quoted, quoted_list, zeep_client
from conformance.xds_metadata import DocumentSpec, submit_objects_request

PATIENT = f"3300000000001^^^&{DOMAIN}&ISO"


def _seed(hub_store, *patients: str) -> None:
    with hub_store.transaction() as session:
        for patient in patients:
            add_known_patient(session, patient)


def test_iti41_mtom_then_iti43_mtom_and_inline(client: XdsClient, hub_store):
    _seed(hub_store, PATIENT)
    documents = [DocumentSpec(content=b"\x00\x01binary\xff" * 100, mime_type="application/pdf"), DocumentSpec(content=b"texte")]
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=documents), documents, mtom_=True)
    assert (answer.status, answer.registry_status, answer.errors) == (200, c.RESPONSE_SUCCESS, [])
    wanted = [(REPOSITORY, d.unique_id) for d in documents]
    answer, contents = client.retrieve(wanted, mtom_=True)
    assert answer.content_type.startswith("multipart/related")
    assert answer.registry_status == c.RESPONSE_SUCCESS
    assert contents == {d.unique_id: d.content for d in documents}
    answer, contents = client.retrieve(wanted, mtom_=False)
    assert answer.content_type.startswith("application/soap+xml")
    assert contents == {d.unique_id: d.content for d in documents}
    mime = [x.text for x in answer.body.iter(f"{{{c.XDSB}}}mimeType")]
    assert mime == ["application/pdf", "text/plain"]


def test_iti41_inline_documents(client: XdsClient, hub_store):
    _seed(hub_store, PATIENT)
    documents = [DocumentSpec(content=b"<ClinicalDocument/>", mime_type="text/xml")]
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=documents), documents, mtom_=False)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    _, contents = client.retrieve([(REPOSITORY, documents[0].unique_id)])
    assert contents == {documents[0].unique_id: b"<ClinicalDocument/>"}


def test_iti43_partial_success(client: XdsClient, hub_store):
    _seed(hub_store, PATIENT)
    documents = [DocumentSpec()]
    assert client.provide_and_register(submit_objects_request(PATIENT, documents=documents), documents).errors == []
    answer, contents = client.retrieve([(REPOSITORY, documents[0].unique_id), (REPOSITORY, "1.2.3.4.404"), ("1.2.3.9", "1.2.3.4.5")])
    assert answer.registry_status == c.RESPONSE_PARTIAL_SUCCESS
    assert answer.errors == [(c.XDSDocumentUniqueIdError, "1.2.3.4.404"), (c.XDSUnknownRepositoryId, "1.2.3.4.5")]
    assert list(contents) == [documents[0].unique_id]
    answer, contents = client.retrieve([(REPOSITORY, "1.2.3.4.404")])
    assert (answer.registry_status, contents) == (c.RESPONSE_FAILURE, {})


def test_iti41_whose_second_document_fails_leaves_no_trace(client: XdsClient, hub_store):
    _seed(hub_store, PATIENT)
    before = counts(hub_store)
    bad = DocumentSpec()
    bad.creation_time = "2024-13-01"
    documents = [DocumentSpec(), bad]
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=documents), documents)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_FAILURE, [(c.XDSRegistryMetadataError, "Document02")])
    assert counts(hub_store) == before


def test_iti41_interrupted_by_a_store_error_leaves_no_trace(client: XdsClient, hub_store):
    from hub.store.models.xds import XdsDocument

    _seed(hub_store, PATIENT)
    first, second = DocumentSpec(content=b"1"), DocumentSpec(content=b"2")
    with hub_store.transaction() as session:
        session.add(XdsDocument(unique_id=second.unique_id, mime_type="text/plain", size=1, hash="0" * 40, content=b"x"))
    before = counts(hub_store)
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=[first, second]), [first, second])
    assert (answer.registry_status, [code for code, _ in answer.errors]) == (c.RESPONSE_FAILURE, [c.XDSRepositoryError])
    assert counts(hub_store) == before


def test_iti42_then_find_documents(client: XdsClient, hub_store):
    patient = f"3300000000002^^^&{DOMAIN}&ISO"
    _seed(hub_store, patient)
    spec = DocumentSpec(with_hash_and_size=True, repository_unique_id="1.2.250.1.213.1.999.77")
    answer = client.register(submit_objects_request(patient, documents=[spec]))
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    answer = client.stored_query(
        c.FIND_DOCUMENTS,
        {"$XDSDocumentEntryPatientId": quoted(patient), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)},
    )
    assert answer.registry_status == c.RESPONSE_SUCCESS
    entries = answer.body.findall(f".//{{{c.RIM}}}ExtrinsicObject")
    assert [e.get("status") for e in entries] == [c.STATUS_APPROVED]
    unique = [x.get("value") for x in entries[0].iter(f"{{{c.RIM}}}ExternalIdentifier") if x.get("identificationScheme") == c.XDSDocumentEntry_uniqueId]
    assert unique == [spec.unique_id]


def test_unknown_patient_over_https(client: XdsClient):
    documents = [DocumentSpec()]
    answer = client.provide_and_register(submit_objects_request(f"404^^^&{DOMAIN}&ISO", documents=documents), documents)
    assert answer.errors == [(c.XDSUnknownPatientId, "SubmissionSet01")]


def test_query_without_assertion_is_a_security_fault(xds_hub):
    anonymous = XdsClient(xds_hub.session(), xds_hub.https_url)
    answer = anonymous.stored_query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)}
    )
    assert answer.status == 400 and etree.QName(answer.body).localname == "Fault"


def test_assertion_about_another_patient_cannot_query(xds_hub, signer):
    other = XdsClient(xds_hub.session(), xds_hub.https_url, assertion_source(signer, patient="287043523811712"))
    answer = other.stored_query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)}
    )
    assert answer.status == 400 and etree.QName(answer.body).localname == "Fault"


def test_zeep_through_the_served_wsdl_calls_iti18_and_iti43(xds_hub, signer, client: XdsClient, hub_store):
    """Issue 4 "Done when" 4: zeep reads GET ?wsdl (self-contained types) and calls
    ITI-18 and ITI-43 from Python values only."""
    patient = f"3300000000003^^^&{DOMAIN}&ISO"
    _seed(hub_store, patient)
    documents = [DocumentSpec(content=b"zeep me")]
    assert client.provide_and_register(submit_objects_request(patient, documents=documents), documents).errors == []
    source = assertion_source(signer)
    registry = zeep_client(xds_hub.session(), xds_hub.https_url + "/xds/registry?wsdl", source)
    result = registry.service.DocumentRegistry_RegistryStoredQuery(
        ResponseOption={"returnType": "ObjectRef"},
        AdhocQuery={
            "id": c.FIND_DOCUMENTS,
            "Slot": [
                {"name": "$XDSDocumentEntryPatientId", "ValueList": {"Value": [quoted(patient)]}},
                {"name": "$XDSDocumentEntryStatus", "ValueList": {"Value": [quoted_list(c.STATUS_APPROVED)]}},
            ],
        },
    )
    assert result.status == c.RESPONSE_SUCCESS
    refs = result.RegistryObjectList._value_1
    assert len(refs) == 1
    repository = zeep_client(xds_hub.session(), xds_hub.https_url + "/xds/repository?wsdl", source)
    retrieved = repository.service.DocumentRepository_RetrieveDocumentSet(
        DocumentRequest=[{"RepositoryUniqueId": REPOSITORY, "DocumentUniqueId": documents[0].unique_id}]
    )
    assert retrieved.RegistryResponse.status == c.RESPONSE_SUCCESS
    assert retrieved.DocumentResponse[0].Document == b"zeep me"
    assert retrieved.DocumentResponse[0].mimeType == "text/plain"
    assert base64.b64encode(b"zeep me")  # the bytes came back decoded by zeep


def test_rplc_and_iti57_over_https(client: XdsClient, hub_store):
    from conformance.xds_metadata import AssociationSpec

    patient = f"3300000000004^^^&{DOMAIN}&ISO"
    _seed(hub_store, patient)
    first = [DocumentSpec(content=b"v1")]
    assert client.provide_and_register(submit_objects_request(patient, documents=first), first).errors == []
    refs = client.stored_query(
        c.GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": quoted_list(first[0].unique_id)}, return_type="ObjectRef"
    )
    original = refs.body.find(f".//{{{c.RIM}}}ObjectRef").get("id")
    second = [DocumentSpec(content=b"v2")]
    request = submit_objects_request(patient, documents=second, associations=[AssociationSpec(c.RPLC, "Document01", original)])
    assert client.provide_and_register(request, second).errors == []
    related = client.stored_query(
        c.GET_RELATED_DOCUMENTS, {"$XDSDocumentEntryEntryUUID": quoted(original), "$AssociationTypes": quoted_list(c.RPLC)}
    )
    statuses = sorted(e.get("status") for e in related.body.iter(f"{{{c.RIM}}}ExtrinsicObject"))
    assert statuses == [c.STATUS_APPROVED, c.STATUS_DEPRECATED]
    # ITI-57: bring the replaced entry back to Approved
    update = submit_objects_request(
        patient,
        documents=[],
        associations=[
            AssociationSpec(
                c.UPDATE_AVAILABILITY_STATUS, "SubmissionSet01", original,
                {c.SLOT_ORIGINAL_STATUS: [c.STATUS_DEPRECATED], c.SLOT_NEW_STATUS: [c.STATUS_APPROVED]},
            )
        ],
    )
    answer = client.update(update)
    assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
    found = client.stored_query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(patient), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)}
    )
    assert len(found.body.findall(f".//{{{c.RIM}}}ExtrinsicObject")) == 2


def test_value_sets_of_the_configuration_are_enforced(start_hub, signer, tmp_path):
    from hub.store import Store

    value_sets = tmp_path / "value-sets.toml"
    value_sets.write_text('classCode = ["11490-0^^2.16.840.1.113883.6.1"]\n', encoding="utf-8")
    hub = start_hub(
        f'[identity]\naffinity_domain = "{DOMAIN}"\n[xds]\nvalue_sets = "{value_sets}"\n[cda]\nsubmission_gate = "off"\n'
        '[coordination]\nunenrolled_patients = "allow"\n'
    )
    store = Store(hub.db_url)
    _seed(store, PATIENT)
    store.close()
    client = XdsClient(hub.session(), hub.https_url, assertion_source(signer))
    refused = [DocumentSpec()]  # classCode 11488-4 is not in the value set
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=refused), refused)
    assert answer.errors == [(c.XDSRegistryMetadataError, "Document01")]
    from conformance.xds_metadata import CodeSpec

    accepted = [DocumentSpec(class_code=CodeSpec("11490-0", "2.16.840.1.113883.6.1"))]
    assert client.provide_and_register(submit_objects_request(PATIENT, documents=accepted), accepted).errors == []


def test_zeep_document_source_sends_iti41_as_mtom(xds_hub, signer, hub_store):
    """The zeep Document Source: metadata as Python-built ebRIM, documents as MTOM parts."""
    from conformance.xds_client import zeep_provide_and_register

    patient = f"3300000000005^^^&{DOMAIN}&ISO"
    _seed(hub_store, patient)
    session = xds_hub.session()
    sent: list[str] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request.headers.get("Content-Type", "")))
    repository = zeep_client(session, xds_hub.https_url + "/xds/repository?wsdl", assertion_source(signer))
    documents = [DocumentSpec(content=b"\x00binary\xff" * 50, mime_type="application/pdf"), DocumentSpec(content=b"two")]
    result = zeep_provide_and_register(repository, submit_objects_request(patient, documents=documents), documents)
    assert result.status == c.RESPONSE_SUCCESS
    assert sent[-1].startswith("multipart/related")
    retrieved = repository.service.DocumentRepository_RetrieveDocumentSet(
        DocumentRequest=[{"RepositoryUniqueId": REPOSITORY, "DocumentUniqueId": d.unique_id} for d in documents]
    )
    assert [r.Document for r in retrieved.DocumentResponse] == [d.content for d in documents]
