"""XDM import (Portable Media Importer into XDS) and export (Portable Media Creator)."""
from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from actors.xdm import medium
from actors.xdm.exporter import NothingToExport, export_patient
from actors.xdm.importer import ImportSettings, import_medium
from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from hub.store import Store
from hub.store.models.xds import XdsAssociation, XdsDocument, XdsDocumentEntry, XdsSubmissionSet

AFFINITY = "1.2.250.1.213.1.4.8"
PATIENT = f"287043523811712^^^&{AFFINITY}&ISO"
REPOSITORY = "1.2.250.1.213.1.999.1"
SOURCE = "1.2.250.1.213.1.999.2"
# What an operator completes limited XDM metadata with (French affinity-domain codes).
COMPLETION = {
    "classCode": "11488-4|2.16.840.1.113883.6.1|Note de consultation",
    "typeCode": "11488-4|2.16.840.1.113883.6.1|Note de consultation",
    "formatCode": "urn:ihe:iti:xds:2017:mimeTypeSufficient|1.3.6.1.4.1.19376.1.2.3|mimeType Sufficient",
    "confidentialityCode": "N|2.16.840.1.113883.5.25|Normal",
    "healthcareFacilityTypeCode": "SA01|1.2.250.1.71.4.2.4|Etablissement public de sante",
    "practiceSettingCode": "ETABLISSEMENT|1.2.250.1.213.1.1.4.9|Etablissement de sante",
    "contentTypeCode": "04|1.2.250.1.213.1.1.4.12|Hospitalisation",
    "languageCode": "fr-FR",
    "creationTime": "20110726183900",
}


def settings(**changes: object) -> ImportSettings:
    values: dict[str, object] = dict(
        repository_unique_id=REPOSITORY, affinity_domain=AFFINITY, source_id=SOURCE, patient=PATIENT
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


@pytest.mark.parametrize("name", ["nhind-samplexdm.zip", "nist-lynn-xdm.zip", "nist-xdm_minimal.zip"])
def test_every_corpus_medium_imports(known: Store, corpus: Path, name: str) -> None:
    data = (corpus / "xdm" / name).read_bytes()
    result = import_medium(known, data, settings(completion=COMPLETION))
    assert result.imported, [e for s in result.subsets for e in s.errors]
    with known.session() as session:
        entries = session.scalars(select(XdsDocumentEntry)).all()
        assert [e.patient_id for e in entries] == [PATIENT]
        stored = session.get(XdsDocument, entries[0].unique_id)
        assert stored is not None and stored.size == entries[0].size


def test_the_medium_patient_is_kept_as_source_patient_id(known: Store, corpus: Path) -> None:
    import_medium(known, (corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), settings())
    with known.session() as session:
        xml = session.scalars(select(XdsDocumentEntry.xml)).one()
    entry = etree.fromstring(xml.encode())
    values = [
        v.text
        for slot in entry.iter(f"{{{c.RIM}}}Slot")
        if slot.get("name") == "sourcePatientId"
        for v in slot.iter(f"{{{c.RIM}}}Value")
    ]
    assert values == ["lh1203321^^^&1.3.6.1.4.1.21367.2007.4&ISO"]


def test_limited_metadata_without_completion_is_refused_with_its_xds_errors(known: Store, corpus: Path) -> None:
    result = import_medium(known, (corpus / "xdm" / "nist-xdm_minimal.zip").read_bytes(), settings())
    assert not result.imported
    codes = {e.code for e in result.subsets[0].errors}
    assert codes == {c.XDSRegistryMetadataError}
    assert any("classCode" in e.context for e in result.subsets[0].errors)
    assert counts(known) == (0, 0, 0, 0)


def test_an_unknown_patient_is_refused_without_reconciliation(store: Store, corpus: Path) -> None:
    result = import_medium(store, (corpus / "xdm" / "nhind-samplexdm.zip").read_bytes(), settings(patient=None))
    assert [e.code for e in result.subsets[0].errors] == [c.XDSUnknownPatientId]
    assert counts(store) == (0, 0, 0, 0)


def _tamper(data: bytes, name_suffix: str, content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = content if info.filename.upper().endswith(name_suffix) else source.read(info)
            target.writestr(info.filename, body)
    return out.getvalue()


def test_a_document_whose_hash_differs_is_refused_and_nothing_is_stored(known: Store, corpus: Path) -> None:
    data = _tamper((corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes(), "DOC0001.XML", b"<ClinicalDocument/>")
    result = import_medium(known, data, settings())
    assert {e.code for e in result.subsets[0].errors} >= {c.XDSNonIdenticalHash}
    assert counts(known) == (0, 0, 0, 0)


def test_an_attacking_medium_leaves_nothing_behind(known: Store, corpus: Path) -> None:
    data = (corpus / "xdm" / "nist-lynn-xdm.zip").read_bytes()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        target.writestr("../../etc/cron.d/evil", b"* * * * * root true")
    with pytest.raises(medium.MediumError):
        import_medium(known, out.getvalue(), settings())
    assert counts(known) == (0, 0, 0, 0)


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


def test_export_then_import_reproduces_metadata_and_bytes(known: Store, corpus: Path, tmp_path: Path) -> None:
    for name in ("nhind-samplexdm.zip", "nist-lynn-xdm.zip", "nist-xdm_minimal.zip"):
        assert import_medium(known, (corpus / "xdm" / name).read_bytes(), settings(completion=COMPLETION)).imported
    with known.session() as session:
        exported = export_patient(session, PATIENT)
        before = {e.unique_id: (_canonical(e.xml), session.get(XdsDocument, e.unique_id).content) for e in session.scalars(select(XdsDocumentEntry))}
    assert exported.documents == 3
    read = medium.read(exported.data)
    assert read.index_htm is not None and b"DOC00001" in read.index_htm
    assert read.readme_txt is not None

    other = Store(f"sqlite:///{tmp_path / 'other.sqlite'}")
    other.upgrade()
    with other.transaction() as session:
        add_known_patient(session, PATIENT)
    result = import_medium(other, exported.data, settings(patient=None))
    assert result.imported, [e for s in result.subsets for e in s.errors]
    with other.session() as session:
        after = {e.unique_id: (_canonical(e.xml), session.get(XdsDocument, e.unique_id).content) for e in session.scalars(select(XdsDocumentEntry))}
    other.close()
    assert after == before


def test_export_of_a_patient_without_documents_says_so(known: Store) -> None:
    with known.session() as session, pytest.raises(NothingToExport):
        export_patient(session, PATIENT)


def test_cli_import_and_export(tsnhub_executable: list[str], corpus: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = Store(f"sqlite:///{data_dir / 'tsnhub.sqlite'}")
    store.upgrade()
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    store.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(tsnhub_executable + list(args), capture_output=True, text=True, timeout=120)

    refused = run("xdm", "import", str(corpus / "xdm" / "nhind-samplexdm.zip"), "--data-dir", str(data_dir))
    assert refused.returncode == 1 and "XDSUnknownPatientId" in refused.stdout
    done = run("xdm", "import", str(corpus / "xdm" / "nhind-samplexdm.zip"), "--data-dir", str(data_dir), "--patient", PATIENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUBSET01: 1 document(s) imported" in done.stdout
    again = run("xdm", "import", str(corpus / "xdm" / "nhind-samplexdm.zip"), "--data-dir", str(data_dir), "--patient", PATIENT)
    assert again.returncode == 1 and "XDSDuplicateUniqueIdInRegistry" in again.stdout
    out = tmp_path / "out.zip"
    exported = run("xdm", "export", "--patient", PATIENT, "--out", str(out), "--data-dir", str(data_dir))
    assert exported.returncode == 0, exported.stderr
    assert medium.read(out.read_bytes()).subsets[0].metadata
    missing = run("xdm", "import", str(tmp_path / "absent.zip"), "--data-dir", str(data_dir))
    assert missing.returncode == 2
