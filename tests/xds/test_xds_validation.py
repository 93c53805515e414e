"""Metadata validation rules of ITI-41/42 (ITI TF-3 4.1, 4.2.3, 4.2.4): one test per rule,
each asserting the exact XDS error code and the object it is located on."""
from __future__ import annotations

from lxml import etree

from actors.xds import constants as c
from actors.xds.metadata import parse_submission
from actors.xds.validation import ITI41, ITI42, ValidationContext, validate_submission
from conformance.xds_metadata import (
    AssociationSpec,
    CodeSpec,
    DocumentSpec,
    FolderSpec,
    submit_objects_request,
)

R = f"{{{c.RIM}}}"
PATIENT = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"


def _errors(request: etree._Element, transaction: str = ITI41, value_sets: dict | None = None) -> list[tuple[str, str]]:
    submission = parse_submission(request)
    errors = validate_submission(submission, ValidationContext(transaction, value_sets or {}))
    return [(e.code, e.location) for e in errors]


def _request(**kwargs) -> etree._Element:
    kwargs.setdefault("documents", [DocumentSpec()])
    return submit_objects_request(PATIENT, **kwargs)


def _entry(request: etree._Element, index: int = 0) -> etree._Element:
    return request.findall(f".//{R}ExtrinsicObject")[index]


def _remove_classification(owner: etree._Element, scheme: str) -> None:
    for node in owner.findall(f"{R}Classification"):
        if node.get("classificationScheme") == scheme:
            owner.remove(node)


def _slot_value(owner: etree._Element, name: str, value: str) -> None:
    for slot in owner.findall(f"{R}Slot"):
        if slot.get("name") == name:
            slot.find(f"{R}ValueList/{R}Value").text = value
            return
    raise AssertionError(name)


def test_valid_submission_has_no_error():
    assert _errors(_request(folders=[FolderSpec(members=["Document01"])])) == []


def test_iti42_requires_hash_size_and_repository_unique_id():
    errors = _errors(_request(), ITI42)
    assert errors == [(c.XDSRegistryMetadataError, "Document01")] * 3
    ok = _request(documents=[DocumentSpec(with_hash_and_size=True, repository_unique_id="1.2.3.4")])
    assert _errors(ok, ITI42) == []


def test_document_entry_class_code_is_required():
    request = _request()
    _remove_classification(_entry(request), c.XDSDocumentEntry_classCode)
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_document_entry_type_code_cardinality_is_one():
    request = _request()
    entry = _entry(request)
    duplicate = etree.fromstring(etree.tostring(next(x for x in entry.findall(f"{R}Classification") if x.get("classificationScheme") == c.XDSDocumentEntry_typeCode)))
    duplicate.set("id", "clx")
    entry.insert(len(entry) - 2, duplicate)
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_each_required_document_code_is_checked():
    for scheme in (
        c.XDSDocumentEntry_confidentialityCode,
        c.XDSDocumentEntry_formatCode,
        c.XDSDocumentEntry_healthCareFacilityTypeCode,
        c.XDSDocumentEntry_practiceSettingCode,
    ):
        request = _request()
        _remove_classification(_entry(request), scheme)
        assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")], scheme


def test_code_without_coding_scheme_is_refused():
    request = _request()
    classification = next(
        x for x in _entry(request).findall(f"{R}Classification") if x.get("classificationScheme") == c.XDSDocumentEntry_classCode
    )
    classification.remove(classification.find(f"{R}Slot"))
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_code_outside_the_affinity_domain_value_set_is_refused():
    value_sets = {c.XDSDocumentEntry_classCode: frozenset({"11490-0^^2.16.840.1.113883.6.1"})}
    assert _errors(_request(), value_sets=value_sets) == [(c.XDSRegistryMetadataError, "Document01")]
    accepted = _request(documents=[DocumentSpec(class_code=CodeSpec("11490-0", "2.16.840.1.113883.6.1"))])
    assert _errors(accepted, value_sets=value_sets) == []


def test_creation_time_must_be_a_dtm():
    request = _request()
    _slot_value(_entry(request), "creationTime", "2024-01-02T10:30:00")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_creation_time_with_impossible_month_is_refused():
    request = _request()
    _slot_value(_entry(request), "creationTime", "20241302")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_single_valued_slot_with_two_values_is_refused():
    request = _request()
    slot = next(s for s in _entry(request).findall(f"{R}Slot") if s.get("name") == "languageCode")
    etree.SubElement(slot.find(f"{R}ValueList"), f"{R}Value").text = "en-US"
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_source_patient_id_must_be_cx():
    request = _request()
    _slot_value(_entry(request), "sourcePatientId", "123^^^GSIHealth")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_patient_id_must_be_cx_with_iso_authority():
    request = _request()
    for ei in request.iter(f"{R}ExternalIdentifier"):
        if ei.get("identificationScheme") == c.XDSDocumentEntry_patientId:
            ei.set("value", "123^^&1.2.3&ISO")
    codes = _errors(request)
    assert (c.XDSRegistryMetadataError, "Document01") in codes
    assert (c.XDSPatientIdDoesNotMatch, "Document01") in codes


def test_unique_id_must_be_an_oid():
    assert _errors(_request(documents=[DocumentSpec(unique_id="Document01")])) == [(c.XDSRegistryMetadataError, "Document01")]


def test_unique_id_with_extension_is_accepted():
    assert _errors(_request(documents=[DocumentSpec(unique_id="1.2.3.4^abc123")])) == []


def test_hash_must_be_sha1_hex():
    request = _request(documents=[DocumentSpec(with_hash_and_size=True)])
    _slot_value(_entry(request), "hash", "xyz")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_author_needs_person_institution_or_telecom():
    assert _errors(_request(documents=[DocumentSpec(author_person=None, author_institution=None)])) == []
    request = _request()
    author = next(x for x in _entry(request).findall(f"{R}Classification") if x.get("classificationScheme") == c.XDSDocumentEntry_author)
    for slot in author.findall(f"{R}Slot"):
        author.remove(slot)
    etree.SubElement(etree.SubElement(author, f"{R}Slot", name="authorRole"), f"{R}ValueList")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_author_institution_must_be_xon():
    assert _errors(_request(documents=[DocumentSpec(author_institution="^^^x")])) == [(c.XDSRegistryMetadataError, "Document01")]


def test_classification_must_classify_its_parent():
    request = _request()
    classification = _entry(request).find(f"{R}Classification")
    classification.set("classifiedObject", "Document011")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_document_entry_object_type_must_be_stable_or_on_demand():
    request = _request()
    _entry(request).set("objectType", "urn:uuid:00000000-0000-0000-0000-000000000000")
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_submission_set_requires_content_type_code():
    request = _request()
    package = next(p for p in request.iter(f"{R}RegistryPackage") if p.get("id") == "SubmissionSet01")
    _remove_classification(package, c.XDSSubmissionSet_contentTypeCode)
    assert _errors(request) == [(c.XDSRegistryMetadataError, "SubmissionSet01")]


def test_submission_set_source_id_must_be_an_oid():
    assert _errors(_request(source_id="3670984664")) == [(c.XDSRegistryMetadataError, "SubmissionSet01")]


def test_submission_set_submission_time_is_required():
    assert _errors(_request(submission_time="yesterday")) == [(c.XDSRegistryMetadataError, "SubmissionSet01")]


def test_exactly_one_submission_set():
    request = _request()
    objects = request.find(f"{R}RegistryObjectList")
    for node in list(objects):
        if node.get("id") == "SubmissionSet01" or node.get("classificationNode") == c.XDSSubmissionSet:
            objects.remove(node)
    codes = {code for code, _ in _errors(request)}
    assert codes == {c.XDSRegistryMetadataError}


def test_folder_requires_title_and_code_list():
    request = _request(folders=[FolderSpec(title="", codes=[], members=["Document01"])])
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Folder01")] * 2


def test_duplicate_unique_id_in_message():
    request = _request(documents=[DocumentSpec(unique_id="1.2.3.4"), DocumentSpec(unique_id="1.2.3.4")])
    assert _errors(request) == [(c.XDSRegistryDuplicateUniqueIdInMessage, "Document02")]


def test_patient_id_of_document_entry_must_match_submission_set():
    request = _request()
    for ei in _entry(request).findall(f"{R}ExternalIdentifier"):
        if ei.get("identificationScheme") == c.XDSDocumentEntry_patientId:
            ei.set("value", "999^^^&1.2.250.1.213.1.4.8&ISO")
    assert _errors(request) == [(c.XDSPatientIdDoesNotMatch, "Document01")]


def test_document_entry_must_be_member_of_the_submission_set():
    request = _request()
    objects = request.find(f"{R}RegistryObjectList")
    objects.remove(objects.find(f"{R}Association"))
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]


def test_has_member_to_document_needs_submission_set_status():
    request = _request()
    association = request.find(f".//{R}Association")
    association.remove(association.find(f"{R}Slot"))
    assert _errors(request) == [(c.XDSRegistryMetadataError, "as1")]


def test_unknown_association_type_is_refused():
    request = _request(associations=[AssociationSpec("HasMember", "Document01", "urn:uuid:7d2f1b5e-6f0c-4d52-9d6a-9b3d8b0f1a10")])
    assert _errors(request) == [(c.XDSRegistryMetadataError, "as2")]


def test_association_to_an_unknown_symbolic_id_is_unresolved():
    request = _request(associations=[AssociationSpec(c.RPLC, "Document01", "Document99")])
    assert _errors(request) == [(c.UnresolvedReferenceException, "as2")]


def test_document_relationship_source_must_be_a_submitted_document_entry():
    target = "urn:uuid:7d2f1b5e-6f0c-4d52-9d6a-9b3d8b0f1a10"
    request = _request(associations=[AssociationSpec(c.APND, "SubmissionSet01", target)])
    assert _errors(request) == [(c.XDSRegistryMetadataError, "as2")]


def test_ebrs21_submission_is_refused_as_metadata_error():
    legacy = etree.fromstring(
        b'<rs:SubmitObjectsRequest xmlns:rs="urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1">'
        b'<LeafRegistryObjectList xmlns="urn:oasis:names:tc:ebxml-regrep:rim:xsd:2.1"/></rs:SubmitObjectsRequest>'
    )
    assert {code for code, _ in _errors(legacy)} == {c.XDSRegistryMetadataError}


def test_value_sets_file_drives_the_code_check(tmp_path):
    from actors.xds import valuesets

    path = tmp_path / "value-sets.toml"
    path.write_text('classCode = ["11490-0^^2.16.840.1.113883.6.1"]\n', encoding="utf-8")
    value_sets = valuesets.load(path)
    assert _errors(_request(), value_sets=value_sets) == [(c.XDSRegistryMetadataError, "Document01")]
    accepted = _request(documents=[DocumentSpec(class_code=CodeSpec("11490-0", "2.16.840.1.113883.6.1"))])
    assert _errors(accepted, value_sets=value_sets) == []


def test_value_sets_file_with_unknown_attribute_is_refused(tmp_path):
    import pytest

    from actors.xds import valuesets

    path = tmp_path / "value-sets.toml"
    path.write_text('colourCode = ["red^^1.2.3"]\n', encoding="utf-8")
    with pytest.raises(valuesets.ValueSetError):
        valuesets.load(path)


def test_slot_value_longer_than_256_characters_is_refused():
    request = _request()
    slot = etree.Element(f"{R}Slot", name="URI")
    etree.SubElement(etree.SubElement(slot, f"{R}ValueList"), f"{R}Value").text = "https://example.org/" + "a" * 300
    _entry(request).insert(0, slot)
    assert _errors(request) == [(c.XDSRegistryMetadataError, "Document01")]
    slot.find(f".//{R}Value").text = "https://example.org/doc"
    assert _errors(request) == []


def test_entry_uuid_must_be_a_uuid_urn():
    request = _request(documents=[DocumentSpec(entry_uuid="urn:uuid:not-a-uuid")])
    assert _errors(request) == [(c.XDSRegistryMetadataError, "urn:uuid:not-a-uuid")]
