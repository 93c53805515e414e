"""ITI-18 Registry Stored Query on a seeded registry: one test per stored query and per
parameter family, each asserting the exact result set (ITI TF-2a 3.18.4.1.2.3.7)."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from xds_support import OTHER_PATIENT, PATIENT, iti42, seed_patients, submit

from actors.xds import constants as c
from actors.xds.query import QuerySettings, run
from conformance.xds_client import adhoc_query, quoted, quoted_list
from conformance.xds_metadata import (
    AssociationSpec,
    CodeSpec,
    DocumentSpec,
    FolderSpec,
    submit_objects_request,
)
from hub.store.models.xds import (
    XdsDocumentEntry,
    XdsFolder,
    XdsSubmissionSet,
)

R = f"{{{c.RIM}}}"
APPROVED = quoted_list(c.STATUS_APPROVED)
BOTH = quoted_list(c.STATUS_APPROVED, c.STATUS_DEPRECATED)
LOINC = "2.16.840.1.113883.6.1"


def code(value: str, scheme: str = "1.2.250.1.999.2") -> CodeSpec:
    return CodeSpec(value, scheme, value)


class Registry:
    """A seeded registry: uniqueIds by name, entryUUIDs by name."""

    def __init__(self, store) -> None:
        self.store = store
        self.unique: dict[str, str] = {}
        self.uuid: dict[str, str] = {}

    def name_of(self, unique_id: str) -> str:
        return {v: k for k, v in self.unique.items()}[unique_id]

    def query(self, query_id: str, params: dict, return_type: str = "LeafClass", max_results: int = 100, home: str | None = None):
        with self.store.session() as session:
            return run(session, adhoc_query(query_id, params, return_type, home), QuerySettings(max_results, "urn:oid:1.2.3"), lambda p: None).response

    def names(self, response, tag: str = "ExtrinsicObject") -> set[str]:
        assert response.get("status") == c.RESPONSE_SUCCESS, [e.attrib for e in response.iter(f"{{{c.RS}}}RegistryError")]
        found = set()
        for element in response.iter(f"{R}{tag}"):
            for ei in element.iterfind(f"{R}ExternalIdentifier"):
                if ei.get("identificationScheme") in (c.XDSDocumentEntry_uniqueId, c.XDSFolder_uniqueId, c.XDSSubmissionSet_uniqueId):
                    found.add(self.name_of(ei.get("value")))
        return found

    def error(self, response) -> str:
        assert response.get("status") == c.RESPONSE_FAILURE
        return next(e.get("errorCode") for e in response.iter(f"{{{c.RS}}}RegistryError"))


@pytest.fixture
def registry(store) -> Registry:
    seeded = Registry(store)
    seed_patients(store, PATIENT, OTHER_PATIENT)
    d1 = DocumentSpec(
        class_code=code("A"), type_code=code("T1"), format_code=code("F1"), facility_code=code("X1"), practice_code=code("P1"),
        creation_time="20240101", service_start_time="202401010800", service_stop_time="202401021800",
        event_codes=[code("E1"), code("E2")], confidentiality_codes=[code("N", "2.16.840.1.113883.5.25")],
        author_person="^DUPONT^Anne^^^", reference_ids=["R1^^^&1.2.3&ISO^urn:ihe:iti:xds:2013:order"],
    )
    d2 = DocumentSpec(
        class_code=code("B"), type_code=code("T2"), format_code=code("F2"), facility_code=code("X2"), practice_code=code("P2"),
        creation_time="20240201", service_start_time="20240201", service_stop_time=None,
        event_codes=[code("E1")], confidentiality_codes=[code("N", "2.16.840.1.113883.5.25"), code("R", "2.16.840.1.113883.5.25")],
        author_person="^MARTIN^Paul^^^",
    )
    errors, _ = submit(
        store, documents=[d1, d2], folders=[FolderSpec(codes=[code("C1")], members=["Document01"])],
        submission_unique_id="1.2.3.100", source_id="1.2.3.7", submission_time="20240301120000",
        author_person="^Dopplemeyer^Sherry^^^", content_type=code("CT1"),
    )
    assert errors == []
    d3 = DocumentSpec(on_demand=True, repository_unique_id="1.2.3.4", class_code=code("A"), creation_time="20240105")
    assert iti42(store, submit_objects_request(PATIENT, documents=[d3], submission_unique_id="1.2.3.101", submission_time="20240401")) == []
    d4 = DocumentSpec(class_code=code("A"), creation_time="20230101")
    assert submit(store, documents=[d4], submission_unique_id="1.2.3.102", submission_time="20240402")[0] == []
    seeded.unique.update(d1=d1.unique_id, d2=d2.unique_id, d3=d3.unique_id, d4=d4.unique_id, ss1="1.2.3.100", ss2="1.2.3.101", ss3="1.2.3.102")
    with store.session() as session:
        for name, unique_id in list(seeded.unique.items()):
            row = session.scalars(select(XdsDocumentEntry.uuid).where(XdsDocumentEntry.unique_id == unique_id)).first()
            row = row or session.scalars(select(XdsSubmissionSet.uuid).where(XdsSubmissionSet.unique_id == unique_id)).first()
            seeded.uuid[name] = row
        folder = session.scalars(select(XdsFolder)).one()
    seeded.unique["fd1"], seeded.uuid["fd1"] = folder.unique_id, folder.uuid
    d5 = DocumentSpec(class_code=code("A"), creation_time="20240501")
    assert submit(
        store, documents=[d5], submission_unique_id="1.2.3.103", submission_time="20240502",
        associations=[AssociationSpec(c.RPLC, "Document01", seeded.uuid["d4"])],
    )[0] == []
    d6 = DocumentSpec(class_code=code("A"))
    assert submit(store, patient=OTHER_PATIENT, documents=[d6], submission_unique_id="1.2.3.104")[0] == []
    seeded.unique.update(d5=d5.unique_id, d6=d6.unique_id, ss4="1.2.3.103", ss5="1.2.3.104")
    with store.session() as session:
        for name in ("d5", "d6"):
            seeded.uuid[name] = session.scalars(select(XdsDocumentEntry.uuid).where(XdsDocumentEntry.unique_id == seeded.unique[name])).one()
        for name in ("ss4", "ss5"):
            seeded.uuid[name] = session.scalars(select(XdsSubmissionSet.uuid).where(XdsSubmissionSet.unique_id == seeded.unique[name])).one()
    return seeded


def find(registry: Registry, **params) -> set[str]:
    base = {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": APPROVED}
    base.update({k.replace("_", "$", 1) if k.startswith("_") else k: v for k, v in params.items()})
    return registry.names(registry.query(c.FIND_DOCUMENTS, base))


# -- FindDocuments, parameter by parameter --------------------------------------------------

def test_find_documents_patient_and_status(registry):
    assert find(registry) == {"d1", "d2", "d5"}
    assert find(registry, **{"$XDSDocumentEntryStatus": BOTH}) == {"d1", "d2", "d4", "d5"}
    assert find(registry, **{"$XDSDocumentEntryStatus": quoted_list(c.STATUS_DEPRECATED)}) == {"d4"}


def test_find_documents_rplc_deprecates_the_replaced_entry(registry):
    with registry.store.session() as session:
        assert session.get(XdsDocumentEntry, registry.uuid["d4"]).status == c.STATUS_DEPRECATED


def test_find_documents_entry_type(registry):
    assert find(registry, **{"$XDSDocumentEntryType": quoted_list(c.DOCUMENT_ENTRY_ON_DEMAND)}) == {"d3"}
    both = quoted_list(c.DOCUMENT_ENTRY_STABLE, c.DOCUMENT_ENTRY_ON_DEMAND)
    assert find(registry, **{"$XDSDocumentEntryType": both}) == {"d1", "d2", "d3", "d5"}


@pytest.mark.parametrize(
    "name, values, expected",
    [
        ("$XDSDocumentEntryClassCode", ["B^^1.2.250.1.999.2"], {"d2"}),
        ("$XDSDocumentEntryClassCode", ["A^^1.2.250.1.999.2", "B^^1.2.250.1.999.2"], {"d1", "d2", "d5"}),
        ("$XDSDocumentEntryTypeCode", ["T1^^1.2.250.1.999.2"], {"d1"}),
        ("$XDSDocumentEntryPracticeSettingCode", ["P2^^1.2.250.1.999.2"], {"d2"}),
        ("$XDSDocumentEntryHealthcareFacilityTypeCode", ["X1^^1.2.250.1.999.2"], {"d1"}),
        ("$XDSDocumentEntryFormatCode", ["F2^^1.2.250.1.999.2", "F1^^1.2.250.1.999.2"], {"d1", "d2"}),
        ("$XDSDocumentEntryClassCode", ["A^^other.scheme"], set()),
    ],
)
def test_find_documents_code_parameters_or_within(registry, name, values, expected):
    assert find(registry, **{name: quoted_list(*values)}) == expected


def test_find_documents_code_values_across_value_elements_are_ored(registry):
    assert find(registry, **{"$XDSDocumentEntryClassCode": [quoted_list("B^^1.2.250.1.999.2"), quoted_list("A^^1.2.250.1.999.2")]}) == {"d1", "d2", "d5"}


def test_find_documents_event_codes_and_across_slots(registry):
    e1, e2 = quoted_list("E1^^1.2.250.1.999.2"), quoted_list("E2^^1.2.250.1.999.2")
    assert find(registry, **{"$XDSDocumentEntryEventCodeList": e1}) == {"d1", "d2"}
    assert find(registry, **{"$XDSDocumentEntryEventCodeList": (e1, e2)}) == {"d1"}
    assert find(registry, **{"$XDSDocumentEntryEventCodeList": quoted_list("E2^^1.2.250.1.999.2", "E1^^1.2.250.1.999.2")}) == {"d1", "d2"}


def test_find_documents_confidentiality_codes_and_across_slots(registry):
    n, r = quoted_list("N^^2.16.840.1.113883.5.25"), quoted_list("R^^2.16.840.1.113883.5.25")
    assert find(registry, **{"$XDSDocumentEntryConfidentialityCode": r}) == {"d2"}
    assert find(registry, **{"$XDSDocumentEntryConfidentialityCode": (n, r)}) == {"d2"}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"$XDSDocumentEntryCreationTimeFrom": "20240101"}, {"d1", "d2", "d5"}),
        ({"$XDSDocumentEntryCreationTimeFrom": "20240102"}, {"d2", "d5"}),
        ({"$XDSDocumentEntryCreationTimeTo": "20240201"}, {"d1"}),
        ({"$XDSDocumentEntryCreationTimeFrom": "202401", "$XDSDocumentEntryCreationTimeTo": "202402"}, {"d1"}),
        ({"$XDSDocumentEntryServiceStartTimeFrom": "20240201"}, {"d2"}),
        ({"$XDSDocumentEntryServiceStartTimeTo": "20240102"}, {"d1", "d5"}),
        ({"$XDSDocumentEntryServiceStopTimeFrom": "20240102"}, {"d1"}),
        ({"$XDSDocumentEntryServiceStopTimeTo": "20240102"}, set()),
    ],
)
def test_find_documents_time_ranges(registry, params, expected):
    assert find(registry, **params) == expected


def test_find_documents_author_like(registry):
    assert find(registry, **{"$XDSDocumentEntryAuthorPerson": quoted_list("%DUPONT%")}) == {"d1"}
    assert find(registry, **{"$XDSDocumentEntryAuthorPerson": quoted_list("%DUPONT%", "^MARTIN^Paul%")}) == {"d1", "d2"}
    assert find(registry, **{"$XDSDocumentEntryAuthorPerson": quoted_list("^MARTI_^%")}) == {"d2"}


def test_find_documents_by_reference_id(registry):
    params = {
        "$XDSDocumentEntryPatientId": quoted(PATIENT),
        "$XDSDocumentEntryStatus": APPROVED,
        "$XDSDocumentEntryReferenceIdList": quoted_list("R1^^^&1.2.3&ISO^urn:ihe:iti:xds:2013:order"),
    }
    assert registry.names(registry.query(c.FIND_DOCUMENTS_BY_REFERENCE_ID, params)) == {"d1"}
    del params["$XDSDocumentEntryReferenceIdList"]
    assert registry.error(registry.query(c.FIND_DOCUMENTS_BY_REFERENCE_ID, params)) == c.XDSStoredQueryMissingParam


def test_find_documents_object_ref(registry):
    response = registry.query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": APPROVED}, "ObjectRef"
    )
    refs = {r.get("id") for r in response.iter(f"{R}ObjectRef")}
    assert refs == {registry.uuid[n] for n in ("d1", "d2", "d5")}
    assert response.find(f".//{R}ExtrinsicObject") is None


def test_leaf_class_carries_status_and_home(registry):
    response = registry.query(c.GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": quoted_list(registry.unique["d4"])})
    entry = response.find(f".//{R}ExtrinsicObject")
    assert (entry.get("status"), entry.get("home"), entry.get("id"), entry.get("lid")) == (
        c.STATUS_DEPRECATED, "urn:oid:1.2.3", registry.uuid["d4"], registry.uuid["d4"]
    )
    assert entry.find(f"{R}VersionInfo").get("versionName") == "1"


# -- parameter errors -------------------------------------------------------------------------

def test_missing_required_parameter(registry):
    response = registry.query(c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(PATIENT)})
    assert registry.error(response) == c.XDSStoredQueryMissingParam


def test_single_valued_parameter_with_several_values(registry):
    response = registry.query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted_list(PATIENT, OTHER_PATIENT), "$XDSDocumentEntryStatus": APPROVED}
    )
    assert registry.error(response) == c.XDSStoredQueryParamNumber


def test_unknown_stored_query(registry):
    response = registry.query("urn:uuid:00000000-1111-2222-3333-444444444444", {})
    assert registry.error(response) == c.XDSUnknownStoredQuery


def test_too_many_results(registry):
    response = registry.query(
        c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": APPROVED}, max_results=2
    )
    assert registry.error(response) == c.XDSTooManyResults


def test_result_not_single_patient_in_leaf_class_only(registry):
    params = {"$XDSDocumentEntryUniqueId": quoted_list(registry.unique["d1"], registry.unique["d6"])}
    assert registry.error(registry.query(c.GET_DOCUMENTS, params)) == c.XDSResultNotSinglePatient
    refs = registry.query(c.GET_DOCUMENTS, params, "ObjectRef")
    assert {r.get("id") for r in refs.iter(f"{R}ObjectRef")} == {registry.uuid["d1"], registry.uuid["d6"]}


def test_unquoted_patient_id_is_refused(registry):
    response = registry.query(c.FIND_DOCUMENTS, {"$XDSDocumentEntryPatientId": PATIENT, "$XDSDocumentEntryStatus": APPROVED})
    assert registry.error(response) == c.XDSRegistryError


def test_get_documents_needs_exactly_one_identifier_family(registry):
    both = {"$XDSDocumentEntryUniqueId": quoted_list("1.2"), "$XDSDocumentEntryEntryUUID": quoted_list("urn:uuid:x")}
    assert registry.error(registry.query(c.GET_DOCUMENTS, both)) == c.XDSStoredQueryParamNumber
    assert registry.error(registry.query(c.GET_DOCUMENTS, {})) == c.XDSStoredQueryMissingParam


# -- the other stored queries -----------------------------------------------------------------

def test_find_submission_sets(registry):
    base = {"$XDSSubmissionSetPatientId": quoted(PATIENT), "$XDSSubmissionSetStatus": APPROVED}
    assert registry.names(registry.query(c.FIND_SUBMISSION_SETS, base), "RegistryPackage") == {"ss1", "ss2", "ss3", "ss4"}
    assert registry.names(registry.query(c.FIND_SUBMISSION_SETS, {**base, "$XDSSubmissionSetSourceId": quoted_list("1.2.3.7")}), "RegistryPackage") == {"ss1"}
    window = {**base, "$XDSSubmissionSetSubmissionTimeFrom": "20240401", "$XDSSubmissionSetSubmissionTimeTo": "20240402"}
    assert registry.names(registry.query(c.FIND_SUBMISSION_SETS, window), "RegistryPackage") == {"ss2"}
    author = {**base, "$XDSSubmissionSetAuthorPerson": quoted("%Dopplemeyer%")}
    assert registry.names(registry.query(c.FIND_SUBMISSION_SETS, author), "RegistryPackage") == {"ss1"}
    content = {**base, "$XDSSubmissionSetContentType": quoted_list("CT1^^1.2.250.1.999.2")}
    assert registry.names(registry.query(c.FIND_SUBMISSION_SETS, content), "RegistryPackage") == {"ss1"}


def test_find_folders(registry):
    base = {"$XDSFolderPatientId": quoted(PATIENT), "$XDSFolderStatus": APPROVED}
    assert registry.names(registry.query(c.FIND_FOLDERS, base), "RegistryPackage") == {"fd1"}
    assert registry.names(registry.query(c.FIND_FOLDERS, {**base, "$XDSFolderCodeList": quoted_list("C2^^1.2.250.1.999.2")}), "RegistryPackage") == set()
    assert registry.names(registry.query(c.FIND_FOLDERS, {**base, "$XDSFolderCodeList": quoted_list("C1^^1.2.250.1.999.2")}), "RegistryPackage") == {"fd1"}
    assert registry.names(registry.query(c.FIND_FOLDERS, {**base, "$XDSFolderLastUpdateTimeFrom": "20991231"}), "RegistryPackage") == set()
    assert registry.names(registry.query(c.FIND_FOLDERS, {**base, "$XDSFolderLastUpdateTimeFrom": "2020"}), "RegistryPackage") == {"fd1"}


def test_folder_last_update_time_is_returned(registry):
    response = registry.query(c.GET_FOLDERS, {"$XDSFolderEntryUUID": quoted_list(registry.uuid["fd1"])})
    slots = {s.get("name"): s.findtext(f".//{R}Value") for s in response.iter(f"{R}Slot")}
    assert len(slots["lastUpdateTime"]) == 14


def test_get_all(registry):
    params = {"$patientId": quoted(PATIENT), "$XDSDocumentEntryStatus": APPROVED, "$XDSSubmissionSetStatus": APPROVED, "$XDSFolderStatus": APPROVED}
    response = registry.query(c.GET_ALL, params)
    assert registry.names(response) == {"d1", "d2", "d5"}
    assert registry.names(response, "RegistryPackage") == {"ss1", "ss2", "ss3", "ss4", "fd1"}
    associations = {(a.get("sourceObject"), a.get("targetObject")) for a in response.iter(f"{R}Association")}
    assert (registry.uuid["ss1"], registry.uuid["d1"]) in associations
    assert (registry.uuid["fd1"], registry.uuid["d1"]) in associations
    assert (registry.uuid["d5"], registry.uuid["d4"]) not in associations  # d4 is Deprecated, not returned
    with_format = registry.query(c.GET_ALL, {**params, "$XDSDocumentEntryFormatCode": quoted_list("F2^^1.2.250.1.999.2")})
    assert registry.names(with_format) == {"d2"}


def test_get_documents_by_uuid_and_unique_id(registry):
    assert registry.names(registry.query(c.GET_DOCUMENTS, {"$XDSDocumentEntryEntryUUID": quoted_list(registry.uuid["d2"])})) == {"d2"}
    assert registry.names(registry.query(c.GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": [quoted_list(registry.unique["d1"]), quoted_list(registry.unique["d2"])]})) == {"d1", "d2"}


def test_get_folders(registry):
    assert registry.names(registry.query(c.GET_FOLDERS, {"$XDSFolderUniqueId": quoted_list(registry.unique["fd1"])}), "RegistryPackage") == {"fd1"}


def test_get_associations(registry):
    response = registry.query(c.GET_ASSOCIATIONS, {"$uuid": quoted_list(registry.uuid["d4"])})
    kinds = {a.get("associationType") for a in response.iter(f"{R}Association")}
    assert kinds == {c.HAS_MEMBER, c.RPLC}


def test_get_documents_and_associations(registry):
    response = registry.query(c.GET_DOCUMENTS_AND_ASSOCIATIONS, {"$XDSDocumentEntryEntryUUID": quoted_list(registry.uuid["d1"])})
    assert registry.names(response) == {"d1"}
    sources = {a.get("sourceObject") for a in response.iter(f"{R}Association")}
    assert sources == {registry.uuid["ss1"], registry.uuid["fd1"]}


def test_get_submission_sets(registry):
    response = registry.query(c.GET_SUBMISSION_SETS, {"$uuid": quoted_list(registry.uuid["d1"], registry.uuid["d5"])})
    assert registry.names(response, "RegistryPackage") == {"ss1", "ss4"}
    assert {a.get("targetObject") for a in response.iter(f"{R}Association")} == {registry.uuid["d1"], registry.uuid["d5"]}


def test_get_submission_set_and_contents(registry):
    response = registry.query(c.GET_SUBMISSION_SET_AND_CONTENTS, {"$XDSSubmissionSetUniqueId": quoted_list("1.2.3.100")})
    assert registry.names(response) == {"d1", "d2"}
    assert registry.names(response, "RegistryPackage") == {"ss1", "fd1"}
    with_conf = registry.query(
        c.GET_SUBMISSION_SET_AND_CONTENTS,
        {"$XDSSubmissionSetEntryUUID": quoted_list(registry.uuid["ss1"]), "$XDSDocumentEntryConfidentialityCode": quoted_list("R^^2.16.840.1.113883.5.25")},
    )
    assert registry.names(with_conf) == {"d2"}


def test_get_folder_and_contents(registry):
    response = registry.query(c.GET_FOLDER_AND_CONTENTS, {"$XDSFolderEntryUUID": quoted_list(registry.uuid["fd1"])})
    assert registry.names(response) == {"d1"}
    assert registry.names(response, "RegistryPackage") == {"fd1"}
    assert [(a.get("sourceObject"), a.get("targetObject")) for a in response.iter(f"{R}Association")] == [(registry.uuid["fd1"], registry.uuid["d1"])]


def test_get_folders_for_document(registry):
    response = registry.query(c.GET_FOLDERS_FOR_DOCUMENT, {"$XDSDocumentEntryUniqueId": quoted_list(registry.unique["d1"])})
    assert registry.names(response, "RegistryPackage") == {"fd1"}
    assert registry.names(registry.query(c.GET_FOLDERS_FOR_DOCUMENT, {"$XDSDocumentEntryUniqueId": quoted_list(registry.unique["d2"])}), "RegistryPackage") == set()


def test_get_related_documents(registry):
    params = {"$XDSDocumentEntryEntryUUID": quoted(registry.uuid["d5"]), "$AssociationTypes": quoted_list(c.RPLC)}
    response = registry.query(c.GET_RELATED_DOCUMENTS, params)
    assert registry.names(response) == {"d4", "d5"}
    assert [a.get("associationType") for a in response.iter(f"{R}Association")] == [c.RPLC]
    none = registry.query(c.GET_RELATED_DOCUMENTS, {**params, "$AssociationTypes": quoted_list(c.APND)})
    assert registry.names(none) == set()


def test_home_community_id_is_accepted(registry):
    response = registry.query(c.GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": quoted_list(registry.unique["d1"]), "$homeCommunityId": quoted("urn:oid:1.2.3")}, home="urn:oid:1.2.3")
    assert registry.names(response) == {"d1"}
