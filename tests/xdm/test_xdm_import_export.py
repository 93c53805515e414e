"""XDM import (Portable Media Importer into XDS) and export (Portable Media Creator).

The project's own tests run on media the project makes (`xdm_media`): documents registered
through the ITI-41 path and written by the exporter, and media composed in code for the
layouts real media use and for the broken ones. The same checks run on the three real
media of the corpus (the interoperability layer) when it is present.
"""
from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import xdm_media
from lxml import etree
from sqlalchemy import func, select
from xdm_media import AFFINITY, COMPLETION, IMPORTER_SOURCE, MEDIUM_PATIENT, PATIENT, REPOSITORY

from actors.xdm import medium
from actors.xdm.exporter import NothingToExport, export_patient
from actors.xdm.importer import ImportSettings, import_medium
from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.xds_metadata import DocumentSpec
from hub.store import Store
from hub.store.models.xds import XdsAssociation, XdsCode, XdsDocument, XdsDocumentEntry, XdsSubmissionSet

OTHER_PATIENT = f"160057512301281^^^&{AFFINITY}&ISO"  # invented NIR 1600575123012, key 81


def settings(**changes: object) -> ImportSettings:
    values: dict[str, object] = dict(
        repository_unique_id=REPOSITORY, affinity_domain=AFFINITY, source_id=IMPORTER_SOURCE, patient=PATIENT
    )
    values.update(changes)
    return ImportSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def known(store: Store) -> Store:
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    return store


def counts(store: Store) -> tuple[int, ...]:
    with store.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (XdsDocumentEntry, XdsSubmissionSet, XdsAssociation, XdsDocument)
        )


def errors_of(result: object) -> list[tuple[str, str, str]]:
    return [(e.code, s.subset, e.location) for s in result.subsets for e in s.errors]  # type: ignore[attr-defined]


def stored_documents(store: Store) -> dict[str, tuple[str, str, int, bytes]]:
    """uniqueId -> (patient, hash, size, bytes) of every registered entry and its document."""
    with store.session() as session:
        out = {}
        for entry in session.scalars(select(XdsDocumentEntry)):
            document = session.get(XdsDocument, entry.unique_id)
            assert document is not None and document.hash == entry.hash and document.size == entry.size
            out[entry.unique_id] = (entry.patient_id, entry.hash, entry.size, bytes(document.content))
        return out


def expected(documents: list[DocumentSpec], patient: str = PATIENT) -> dict[str, tuple[str, str, int, bytes]]:
    return {d.unique_id: (patient, hashlib.sha1(d.content).hexdigest(), len(d.content), d.content) for d in documents}


# -- media a project makes: the readers' cases, each imported ---------------------------------

def _profile_layout(docs: list[DocumentSpec]) -> bytes:
    return xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs)])


def _nested_lower_case(docs: list[DocumentSpec]) -> bytes:
    return xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs, uris=["Document01.txt", "doc02.pdf", "doc03.xml"])],
                             root="samplexdm/", lower=True)


def _uri_case(docs: list[DocumentSpec]) -> bytes:
    names = ["DOC.TXT", "DOC.PDF", "DOC.XML"]
    request = xdm_media.metadata(MEDIUM_PATIENT, docs, names)
    return xdm_media.compose([xdm_media.SubsetSpec("SUBSET", xdm_media.xml(request), {n.lower(): d.content for n, d in zip(names, docs)})])


def _several_subsets(docs: list[DocumentSpec]) -> bytes:
    return xdm_media.compose([
        xdm_media.subset(MEDIUM_PATIENT, docs[:1], name="SUBSET01", submission_time="20240101000000"),
        xdm_media.subset(MEDIUM_PATIENT, docs[1:], name="SUBSET02", submission_time="20240102000000"),
    ])


def _no_optional_files(docs: list[DocumentSpec]) -> bytes:
    return xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs)], index=False, readme=False)


def _no_uri_slot(docs: list[DocumentSpec]) -> bytes:
    request = xdm_media.metadata(MEDIUM_PATIENT, docs, [None] * len(docs))
    files = {f"{d.symbolic_id}.{xdm_media.default_name(1, d)[-3:]}": d.content for d in docs}
    return xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", xdm_media.xml(request), files)])


def _ebxml21(docs: list[DocumentSpec]) -> bytes:
    request = xdm_media.as_ebxml21(xdm_media.metadata(MEDIUM_PATIENT, docs))
    files = {xdm_media.default_name(i, d): d.content for i, d in enumerate(docs, 1)}
    return xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", xdm_media.xml(request), files)])


def _limited_metadata(docs: list[DocumentSpec]) -> bytes:
    return xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs, drop_codes=xdm_media.LIMITED_CODES,
                                               drop_slots=("creationTime", "languageCode"))])


PROJECT_MEDIA: dict[str, Callable[[list[DocumentSpec]], bytes]] = {
    "profile-layout": _profile_layout,
    "nested-root-lower-case": _nested_lower_case,
    "uri-case": _uri_case,
    "several-subsets": _several_subsets,
    "no-index-no-readme": _no_optional_files,
    "no-uri-slot": _no_uri_slot,
    "ebxml-2.1-metadata": _ebxml21,
    "limited-metadata-completed": _limited_metadata,
}


@pytest.mark.parametrize("layout", list(PROJECT_MEDIA))
def test_every_project_medium_imports(known: Store, layout: str) -> None:
    docs = xdm_media.three_documents()
    result = import_medium(known, PROJECT_MEDIA[layout](docs), settings(completion=COMPLETION))
    assert result.imported, errors_of(result)
    assert sum(s.documents for s in result.subsets) == 3
    assert stored_documents(known) == expected(docs)
    with known.session() as session:
        source_ids = {xdm_media.entry_slot(x, "sourcePatientId")[0] for x in session.scalars(select(XdsDocumentEntry.xml))}
    assert source_ids == {MEDIUM_PATIENT}


def test_limited_metadata_is_completed_with_the_operators_values_and_nothing_else(known: Store) -> None:
    docs = xdm_media.three_documents()
    partial = xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs, drop_codes=[c.XDSDocumentEntry_classCode])])
    assert import_medium(known, partial, settings(completion=COMPLETION)).imported
    with known.session() as session:
        rows = {e.unique_id: (e.class_code, e.type_code, e.format_code) for e in session.scalars(select(XdsDocumentEntry))}
    for doc in docs:
        # Missing: the operator's classCode; present: the medium's codes, never replaced.
        assert rows[doc.unique_id] == (
            "11488-4^^2.16.840.1.113883.6.1",
            f"{doc.type_code.code}^^{doc.type_code.scheme}",
            f"{doc.format_code.code}^^{doc.format_code.scheme}",
        )


# -- the patient ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source_patient, kept",
    [
        pytest.param(None, MEDIUM_PATIENT, id="missing"),
        pytest.param("IPP 770312", MEDIUM_PATIENT, id="invalid"),
        pytest.param("770312^^^&2.999.42.7.2&ISO", "770312^^^&2.999.42.7.2&ISO", id="valid-kept"),
    ],
)
def test_the_medium_patient_is_kept_as_source_patient_id(known: Store, source_patient: str | None, kept: str) -> None:
    docs = [xdm_media.document(b"patient")]
    request = xdm_media.metadata(MEDIUM_PATIENT, docs, drop_slots=("sourcePatientId",))
    if source_patient is not None:
        entry = request.find(f".//{xdm_media.R}ExtrinsicObject")
        slot = etree.Element(f"{xdm_media.R}Slot", name="sourcePatientId")
        etree.SubElement(etree.SubElement(slot, f"{xdm_media.R}ValueList"), f"{xdm_media.R}Value").text = source_patient
        entry.insert(0, slot)
    data = xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", xdm_media.xml(request), {"DOC0001.TXT": docs[0].content})])
    result = import_medium(known, data, settings())
    assert result.imported, errors_of(result)
    with known.session() as session:
        entry_row = session.scalars(select(XdsDocumentEntry)).one()
    assert entry_row.patient_id == PATIENT
    assert xdm_media.entry_slot(entry_row.xml, "sourcePatientId") == [kept]


def test_the_medium_patient_cross_referenced_by_the_identity_manager_is_used(store: Store, fresh_domain_cache: None) -> None:
    from actors.identity import core
    from actors.identity.model import Cx, Hd, PersonName, Traits

    clinic = Hd("CLINIQUE-IPP", xdm_media.SOURCE_DOMAIN, "ISO")
    ins = Hd("ASIP-SANTE-INS-NIR", AFFINITY, "ISO")
    context = core.Context(core.Policy(accepted_domains=(xdm_media.SOURCE_DOMAIN,)), datetime(2025, 3, 20, tzinfo=timezone.utc), "MSG-1")
    with store.transaction() as session:
        core.feed(session, context, core.IncomingIdentity(
            [Cx("IPP-770312", clinic, "PI"), Cx(xdm_media.NIR, ins, "INS")],
            Traits([PersonName("MARCHAND", "Lea", "Lea", "", "L")], "19850314", "F"), ["VALI"], source="GAM|CLINIQUE",
        ))
    docs = xdm_media.three_documents()
    result = import_medium(store, _profile_layout(docs), settings(patient=None))
    assert result.imported, errors_of(result)
    assert stored_documents(store) == expected(docs, PATIENT)


def test_an_unknown_patient_is_refused_without_reconciliation(store: Store) -> None:
    result = import_medium(store, _profile_layout(xdm_media.three_documents()), settings(patient=None))
    assert [e.code for e in result.subsets[0].errors] == [c.XDSUnknownPatientId]
    assert result.subsets[0].errors[0].location == MEDIUM_PATIENT
    assert counts(store) == (0, 0, 0, 0)


def test_a_patient_of_the_domain_not_known_to_the_registry_is_refused(store: Store) -> None:
    result = import_medium(store, xdm_media.compose([xdm_media.subset(PATIENT, [xdm_media.document(b"x")])]), settings(patient=None))
    assert {e.code for e in result.subsets[0].errors} == {c.XDSUnknownPatientId}
    assert counts(store) == (0, 0, 0, 0)


# -- refused media: each for what it breaks, nothing stored -----------------------------------

def test_limited_metadata_without_completion_is_refused_with_its_xds_errors(known: Store) -> None:
    result = import_medium(known, _limited_metadata(xdm_media.three_documents()), settings())
    assert not result.imported
    codes = {e.code for e in result.subsets[0].errors}
    assert codes == {c.XDSRegistryMetadataError}
    assert any("classCode" in e.context for e in result.subsets[0].errors)
    assert counts(known) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<lcm:SubmitObjectsRequest xmlns:lcm='urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0'><rim:", id="not-well-formed"),
        pytest.param(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', id="dtd-entity"),
        pytest.param(b"<ClinicalDocument xmlns='urn:hl7-org:v3'/>", id="not-a-submit-objects-request"),
        pytest.param(b"\xff\xfe<\x00x\x00", id="bad-encoding"),
    ],
)
def test_broken_metadata_is_refused_as_registry_metadata_error(known: Store, body: bytes) -> None:
    docs = [xdm_media.document(b"x")]
    good = xdm_media.subset(MEDIUM_PATIENT, docs, name="SUBSET02")
    data = xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", body, {"DOC0001.TXT": b"x"}), good])
    result = import_medium(known, data, settings())
    broken, fine = result.subsets
    assert [(e.code, e.location) for e in broken.errors] == [(c.XDSRegistryMetadataError, "SUBSET01")]
    assert "METADATA.XML" in broken.errors[0].context
    # Each submission set is its own transaction: the good one is imported.
    assert fine.imported and counts(known)[0] == 1


@pytest.mark.parametrize(
    "uri",
    ["../SUBSET02/DOC0001.TXT", "../../README.TXT", "/IHE_XDM/SUBSET01/DOC0001.TXT", "SUB/../../SUBSET02/DOC0001.TXT",
     "C:\\IHE_XDM\\SUBSET01\\DOC0001.TXT", "file:///etc/passwd"],
)
def test_a_uri_outside_its_subset_is_a_missing_document(known: Store, uri: str) -> None:
    victim = xdm_media.document(b"the neighbour's document")
    neighbour = xdm_media.subset(MEDIUM_PATIENT, [victim], name="SUBSET02")
    spec = xdm_media.document(b"the neighbour's document")  # same bytes: hash and size would match
    request = xdm_media.metadata(MEDIUM_PATIENT, [spec], [uri])
    data = xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", xdm_media.xml(request), {"DOC0001.TXT": b"a different file"}), neighbour])
    result = import_medium(known, data, settings())
    assert [(e.code, e.location) for e in result.subsets[0].errors] == [(c.XDSMissingDocument, spec.symbolic_id)]
    assert result.subsets[1].imported
    assert stored_documents(known) == expected([victim])


def test_a_missing_document_refuses_its_subset_only(known: Store) -> None:
    first, second = [xdm_media.document(b"first")], [xdm_media.document(b"second"), xdm_media.document(b"third")]
    lacking = xdm_media.subset(MEDIUM_PATIENT, second, name="SUBSET02")
    del lacking.files["DOC0002.TXT"]
    data = xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, first), lacking])
    result = import_medium(known, data, settings())
    assert not result.imported
    assert result.subsets[0].imported and result.subsets[0].documents == 1
    assert [(e.code, e.location) for e in result.subsets[1].errors] == [(c.XDSMissingDocument, second[1].symbolic_id)]
    assert stored_documents(known) == expected(first)


@pytest.fixture
def exported(store: Store) -> tuple[bytes, list[DocumentSpec]]:
    """A medium the exporter wrote: two submission sets of PATIENT (2 + 1 documents)."""
    xdm_media.seed(store, PATIENT, OTHER_PATIENT)
    docs = xdm_media.three_documents()
    xdm_media.register(store, PATIENT, docs[:2], "20240102100000")
    xdm_media.register(store, PATIENT, docs[2:], "20240103100000")
    xdm_media.register(store, OTHER_PATIENT, [xdm_media.document(b"not this patient's")], "20240104100000")
    with store.session() as session:
        result = export_patient(session, PATIENT, now=datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc))
    assert (result.documents, result.subsets) == (3, 2)
    return result.data, docs


def _fresh(tmp_path: Path, name: str, *patients: str) -> Store:
    other = Store(f"sqlite:///{tmp_path / name}")
    other.upgrade()
    xdm_media.seed(other, *patients)
    return other


@pytest.mark.parametrize(
    "change, codes",
    [
        ("same-length", {c.XDSNonIdenticalHash}),
        ("truncated", {c.XDSNonIdenticalHash, c.XDSNonIdenticalSize}),
        ("size-slot", {c.XDSNonIdenticalSize}),
    ],
)
def test_a_document_that_differs_from_its_entry_is_refused_and_nothing_is_stored(
    exported: tuple[bytes, list[DocumentSpec]], tmp_path: Path, change: str, codes: set[str]
) -> None:
    data, docs = exported
    if change == "size-slot":
        request = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("IHE_XDM/SUBSET02/METADATA.XML"))
        (value,) = [s.find(f"{xdm_media.R}ValueList/{xdm_media.R}Value") for s in request.iter(f"{xdm_media.R}Slot") if s.get("name") == "size"]
        value.text = str(len(docs[2].content) + 1)
        tampered = xdm_media.rewrite(data, {"SUBSET02/METADATA.XML": xdm_media.xml(request)})
    else:
        content = docs[2].content
        body = content.replace(b"3 janvier", b"4 janvier") if change == "same-length" else content[:-1]
        assert body != content
        tampered = xdm_media.rewrite(data, {"SUBSET02/DOC00001.XML": body})
    target = _fresh(tmp_path, "target.sqlite", PATIENT)
    result = import_medium(target, tampered, settings(patient=None))
    assert result.subsets[0].imported
    assert {e.code for e in result.subsets[1].errors} == codes
    assert set(stored_documents(target)) == {d.unique_id for d in docs[:2]}
    target.close()


def test_an_attacking_medium_leaves_nothing_behind(exported: tuple[bytes, list[DocumentSpec]], tmp_path: Path) -> None:
    target = _fresh(tmp_path, "target.sqlite", PATIENT)
    attacked = xdm_media.rewrite(exported[0], add=[("../../etc/cron.d/evil", b"* * * * * root true")])
    with pytest.raises(medium.MediumError, match="outside the medium"):
        import_medium(target, attacked, settings())
    assert counts(target) == (0, 0, 0, 0)
    target.close()


def test_a_zip_bomb_is_refused_before_anything_is_stored(known: Store) -> None:
    docs = [xdm_media.document(b"\0" * (50 * 1024 * 1024), "application/octet-stream")]
    data = xdm_media.compose([xdm_media.subset(MEDIUM_PATIENT, docs, uris=["BOMB.BIN"])])
    assert len(data) < 200_000
    with pytest.raises(medium.MediumError, match="compression ratio"):
        import_medium(known, data, settings())
    assert counts(known) == (0, 0, 0, 0)


def test_the_operators_limits_apply(known: Store) -> None:
    data = _several_subsets(xdm_media.three_documents())
    with pytest.raises(medium.MediumError, match="more than 4 entries"):
        import_medium(known, data, settings(limits=medium.Limits(max_entries=4)))
    assert counts(known) == (0, 0, 0, 0)


# -- export, and export -> import ---------------------------------------------------------------

def _canonical(xml: str) -> tuple[object, ...]:
    """An entry's metadata as a comparable value: prefixes, formatting and the medium's
    own URI slot set aside."""

    def walk(element: etree._Element) -> tuple[object, ...]:
        children = [
            walk(child)
            for child in element
            if isinstance(child.tag, str) and not (etree.QName(child).localname == "Slot" and child.get("name") == "URI")
        ]
        return (etree.QName(element).localname, tuple(sorted(element.attrib.items())), (element.text or "").strip(), tuple(sorted(children, key=repr)))

    return walk(etree.fromstring(xml.encode()))


def _registered(store: Store) -> dict[str, object]:
    """uniqueId -> everything an importer must reproduce: the metadata, the entry's
    columns (patient, hash, size, codes), its coded values and the document's bytes."""
    with store.session() as session:
        out: dict[str, object] = {}
        for e in session.scalars(select(XdsDocumentEntry)):
            document = session.get(XdsDocument, e.unique_id)
            assert document is not None
            codes = sorted((k, v) for k, v in session.execute(select(XdsCode.kind, XdsCode.code).where(XdsCode.object_uuid == e.uuid)))
            out[e.unique_id] = (
                _canonical(e.xml), e.patient_id, e.hash, e.size, e.mime_type, e.class_code, e.type_code, e.format_code,
                e.healthcare_facility_type_code, e.practice_setting_code, e.creation_time, codes, bytes(document.content),
            )
        for s in session.scalars(select(XdsSubmissionSet)):
            out[s.unique_id] = (_canonical(s.xml), s.patient_id, s.source_id, s.content_type_code)
        return out


def test_the_exported_medium_follows_the_profile(exported: tuple[bytes, list[DocumentSpec]]) -> None:
    data, docs = exported
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    # One folder per submission set, in submission order; files named by number and type.
    first = sorted(n for n in names if n.startswith("IHE_XDM/SUBSET01/DOC"))
    assert [n[:-4] for n in first] == ["IHE_XDM/SUBSET01/DOC00001", "IHE_XDM/SUBSET01/DOC00002"]
    assert {n[-3:] for n in first} == {"TXT", "PDF"}
    assert sorted(set(names) - set(first)) == [
        "IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET02/DOC00001.XML", "IHE_XDM/SUBSET02/METADATA.XML", "INDEX.HTM", "README.TXT",
    ]
    with medium.read(data) as read:
        assert read.index_htm is not None and read.readme_txt is not None
        for path in names:
            if path.startswith("IHE_XDM/") and not path.endswith("METADATA.XML"):
                assert f'href="{path}"'.encode() in read.index_htm, path
        assert b"2024-06-01 09:00:00 UTC" in read.readme_txt and b"Documents: 3" in read.readme_txt
        by_unique_id = {d.unique_id: d for d in docs}
        for subset in read.subsets:
            request = etree.fromstring(subset.metadata)
            assert etree.QName(request).text == f"{{{c.LCM}}}SubmitObjectsRequest"
            packages = request.findall(f".//{{{c.RIM}}}RegistryPackage")
            assert len(packages) == 1
            entries = request.findall(f".//{{{c.RIM}}}ExtrinsicObject")
            members = {a.get("targetObject") for a in request.iter(f"{{{c.RIM}}}Association")
                       if a.get("associationType") == c.HAS_MEMBER and a.get("sourceObject") == packages[0].get("id")}
            assert members == {e.get("id") for e in entries}
            for entry in entries:
                unique_id = next(i.get("value") for i in entry.iter(f"{{{c.RIM}}}ExternalIdentifier")
                                 if i.get("identificationScheme") == c.XDSDocumentEntry_uniqueId)
                spec = by_unique_id.pop(unique_id)
                (uri,) = xdm_media.entry_slot(etree.tostring(entry), "URI")
                assert subset.document(uri) == spec.content
                assert xdm_media.entry_slot(etree.tostring(entry), "hash") == [spec.sha1]
                assert xdm_media.entry_slot(etree.tostring(entry), "size") == [str(len(spec.content))]
        assert by_unique_id == {}


def test_export_then_import_into_a_fresh_store_reproduces_the_documents(
    store: Store, exported: tuple[bytes, list[DocumentSpec]], tmp_path: Path
) -> None:
    data, docs = exported
    with store.session() as session:
        patient_ids = {e.unique_id for e in session.scalars(select(XdsDocumentEntry).where(XdsDocumentEntry.patient_id == PATIENT))}
    # Everything of PATIENT (entries and submission sets), not the other patient's.
    before = {k: v for k, v in _registered(store).items() if v[1] == PATIENT}  # type: ignore[index]
    assert len(before) == 3 + 2
    other = _fresh(tmp_path, "other.sqlite", PATIENT)
    result = import_medium(other, data, settings(patient=None))
    assert result.imported, errors_of(result)
    after = _registered(other)
    other.close()
    assert after == before
    assert set(patient_ids) == {d.unique_id for d in docs}
    # What was registered is what the source sent: bytes, hash, size, uniqueId, patient.
    for spec in docs:
        entry = after[spec.unique_id]
        assert entry[1:4] == (PATIENT, spec.sha1, len(spec.content))  # type: ignore[index]
        assert entry[-1] == spec.content  # type: ignore[index]


def test_importing_the_same_medium_twice_is_refused_as_duplicate(exported: tuple[bytes, list[DocumentSpec]], tmp_path: Path) -> None:
    other = _fresh(tmp_path, "other.sqlite", PATIENT)
    assert import_medium(other, exported[0], settings(patient=None)).imported
    again = import_medium(other, exported[0], settings(patient=None))
    assert not any(s.imported for s in again.subsets)
    assert {e.code for s in again.subsets for e in s.errors} >= {c.XDSDuplicateUniqueIdInRegistry}
    assert counts(other)[0] == 3
    other.close()


def test_a_medium_exported_by_another_repository_is_imported_into_this_one(
    exported: tuple[bytes, list[DocumentSpec]], tmp_path: Path
) -> None:
    # The exporter writes the entries as registered, repositoryUniqueId included; on a
    # medium that slot is the source's (optional, ITI TF-3 Table 4.3.1-3): the importing
    # hub stores the documents in its own repository and says so.
    data, docs = exported
    elsewhere = "1.2.250.1.213.1.999.77"
    other = _fresh(tmp_path, "other.sqlite", PATIENT)
    result = import_medium(other, data, settings(patient=None, repository_unique_id=elsewhere))
    assert result.imported, errors_of(result)
    with other.session() as session:
        entries = session.scalars(select(XdsDocumentEntry)).all()
        assert {e.unique_id for e in entries} == {d.unique_id for d in docs}
        assert {e.repository_unique_id for e in entries} == {elsewhere}
    other.close()


def test_export_of_a_patient_without_documents_says_so(known: Store) -> None:
    with known.session() as session, pytest.raises(NothingToExport):
        export_patient(session, PATIENT)


# -- the command line ----------------------------------------------------------------------------

@pytest.fixture
def cli(tsnhub_executable: list[str], tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    data_dir = tmp_path / "data"
    config = tmp_path / "hub.toml"
    config.write_text(f'[identity]\naffinity_domain = "{AFFINITY}"\n\n[xds]\nrepository_unique_id = "{REPOSITORY}"\n', encoding="utf-8")
    store = Store(f"sqlite:///{data_dir / 'tsnhub.sqlite'}")
    store.upgrade()
    xdm_media.seed(store, PATIENT)
    store.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = tsnhub_executable + list(args) + ["--data-dir", str(data_dir), "--config", str(config)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    yield run


def _cli_round(run: Callable[..., subprocess.CompletedProcess[str]], path: Path, tmp_path: Path, documents: int) -> None:
    refused = run("xdm", "import", str(path))
    assert refused.returncode == 1 and "XDSUnknownPatientId" in refused.stdout, refused.stdout + refused.stderr
    done = run("xdm", "import", str(path), "--patient", PATIENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUBSET01: {documents} document(s) imported" in done.stdout
    again = run("xdm", "import", str(path), "--patient", PATIENT)
    assert again.returncode == 1 and "XDSDuplicateUniqueIdInRegistry" in again.stdout
    out = tmp_path / "out.zip"
    exported = run("xdm", "export", "--patient", PATIENT, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert f"{documents} document(s) in 1 submission set(s)" in exported.stdout
    with medium.read(out.read_bytes()) as read:
        assert len(read.subsets) == 1 and len(read.subsets[0].files) == documents
    missing = run("xdm", "import", str(tmp_path / "absent.zip"))
    assert missing.returncode == 2
    attacked = tmp_path / "attacked.zip"
    attacked.write_bytes(xdm_media.rewrite(path.read_bytes(), add=[("IHE_XDM/../../evil.sh", b"rm -rf /")]))
    refused_medium = run("xdm", "import", str(attacked), "--patient", PATIENT)
    assert refused_medium.returncode == 1 and "medium refused" in refused_medium.stderr


def test_cli_import_and_export(cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    path = tmp_path / "medium.zip"
    path.write_bytes(_nested_lower_case(xdm_media.three_documents()))
    _cli_round(cli, path, tmp_path, 3)
    nothing = cli("xdm", "export", "--patient", OTHER_PATIENT, "--out", str(tmp_path / "none.zip"))
    assert nothing.returncode == 1 and not (tmp_path / "none.zip").exists()


# -- the interoperability layer: the real media of the corpus ------------------------------------

CORPUS_MEDIA = ["nhind-samplexdm.zip", "nist-lynn-xdm.zip", "nist-xdm_minimal.zip"]


@pytest.mark.parametrize("name", CORPUS_MEDIA)
def test_every_corpus_medium_imports(known: Store, corpus: Path, name: str) -> None:
    data = (corpus / "xdm" / name).read_bytes()
    result = import_medium(known, data, settings(completion=COMPLETION))
    assert result.imported, [e for s in result.subsets for e in s.errors]
    with known.session() as session:
        entries = session.scalars(select(XdsDocumentEntry)).all()
        assert [e.patient_id for e in entries] == [PATIENT]
        stored = session.get(XdsDocument, entries[0].unique_id)
        assert stored is not None and stored.size == entries[0].size


def test_corpus_medium_patient_is_kept_as_source_patient_id(known: Store, corpus: Path) -> None:
    import_medium(known, (corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), settings())
    with known.session() as session:
        xml = session.scalars(select(XdsDocumentEntry.xml)).one()
    assert xdm_media.entry_slot(xml, "sourcePatientId") == ["lh1203321^^^&1.3.6.1.4.1.21367.2007.4&ISO"]


def test_corpus_limited_metadata_without_completion_is_refused(known: Store, corpus: Path) -> None:
    result = import_medium(known, (corpus / "xdm" / "nist-xdm_minimal.zip").read_bytes(), settings())
    assert not result.imported
    assert {e.code for e in result.subsets[0].errors} == {c.XDSRegistryMetadataError}
    assert any("classCode" in e.context for e in result.subsets[0].errors)
    assert counts(known) == (0, 0, 0, 0)


def test_corpus_unknown_patient_is_refused_without_reconciliation(store: Store, corpus: Path) -> None:
    result = import_medium(store, (corpus / "xdm" / "nhind-samplexdm.zip").read_bytes(), settings(patient=None))
    assert [e.code for e in result.subsets[0].errors] == [c.XDSUnknownPatientId]
    assert counts(store) == (0, 0, 0, 0)


def test_corpus_document_whose_hash_differs_is_refused(known: Store, corpus: Path) -> None:
    data = xdm_media.rewrite((corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), {"DOC0001.XML": b"<ClinicalDocument/>"})
    result = import_medium(known, data, settings())
    assert {e.code for e in result.subsets[0].errors} >= {c.XDSNonIdenticalHash}
    assert counts(known) == (0, 0, 0, 0)


def test_corpus_attacking_medium_leaves_nothing_behind(known: Store, corpus: Path) -> None:
    data = xdm_media.rewrite((corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), add=[("../../etc/cron.d/evil", b"* * * * * root true")])
    with pytest.raises(medium.MediumError):
        import_medium(known, data, settings())
    assert counts(known) == (0, 0, 0, 0)


def test_corpus_media_export_then_import_reproduces_metadata_and_bytes(known: Store, corpus: Path, tmp_path: Path) -> None:
    for name in CORPUS_MEDIA:
        assert import_medium(known, (corpus / "xdm" / name).read_bytes(), settings(completion=COMPLETION)).imported
    with known.session() as session:
        exported = export_patient(session, PATIENT)
    assert exported.documents == 3
    before = _registered(known)
    with medium.read(exported.data) as read:
        assert read.index_htm is not None and b"DOC00001" in read.index_htm
        assert read.readme_txt is not None
    other = _fresh(tmp_path, "other.sqlite", PATIENT)
    result = import_medium(other, exported.data, settings(patient=None))
    assert result.imported, [e for s in result.subsets for e in s.errors]
    after = _registered(other)
    other.close()
    assert after == before


def test_corpus_cli_import_and_export(cli: Callable[..., subprocess.CompletedProcess[str]], corpus: Path, tmp_path: Path) -> None:
    _cli_round(cli, corpus / "xdm" / "nhind-samplexdm.zip", tmp_path, 1)
