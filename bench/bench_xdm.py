"""XDM import and export rate: a medium of 1,000 documents (about 10 KB each) in ten
submission sets, imported into a fresh embedded store, then exported again.

Set TSNHUB_BENCH_POSTGRES_URL to an empty PostgreSQL database to measure it there too.
"""
from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from pathlib import Path

from lxml import etree

from actors.xdm.exporter import export_patient
from actors.xdm.importer import ImportSettings, import_medium
from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from hub.store import Store

PATIENT = "287043523811712^^^&1.2.250.1.213.1.4.8&ISO"
DOCUMENTS = 1000
SUBSETS = 10


def build_medium() -> bytes:
    buffer = io.BytesIO()
    filler = ("<component><section><text>" + "Résultat normal. " * 550 + "</text></section></component>").encode()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for subset in range(1, SUBSETS + 1):
            specs = [
                DocumentSpec(content=b"<ClinicalDocument xmlns='urn:hl7-org:v3'>" + filler + b"</ClinicalDocument>", mime_type="text/xml")
                for _ in range(DOCUMENTS // SUBSETS)
            ]
            request = submit_objects_request(PATIENT, specs)
            folder = f"IHE_XDM/SUBSET{subset:02d}"
            for number, (spec, entry) in enumerate(zip(specs, request.iter(f"{{{c.RIM}}}ExtrinsicObject")), start=1):
                name = f"DOC{number:05d}.XML"
                slot = etree.Element(f"{{{c.RIM}}}Slot", name="URI")
                etree.SubElement(etree.SubElement(slot, f"{{{c.RIM}}}ValueList"), f"{{{c.RIM}}}Value").text = name
                entry.insert(0, slot)
                archive.writestr(f"{folder}/{name}", spec.content)
            archive.writestr(f"{folder}/METADATA.XML", etree.tostring(request, xml_declaration=True, encoding="UTF-8"))
        archive.writestr("INDEX.HTM", b"<html></html>")
        archive.writestr("README.TXT", b"bench medium")
    return buffer.getvalue()


def measure(url: str, medium: bytes) -> None:
    store = Store(url)
    store.upgrade()
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    settings = ImportSettings("1.2.250.1.213.1.999.1", "1.2.250.1.213.1.4.8", "1.2.250.1.213.1.999.2")
    started = time.perf_counter()
    result = import_medium(store, medium, settings)
    elapsed = time.perf_counter() - started
    assert result.imported, [e for s in result.subsets for e in s.errors][:3]
    imported = sum(s.documents for s in result.subsets)
    started = time.perf_counter()
    with store.session() as session:
        exported = export_patient(session, PATIENT)
    export_elapsed = time.perf_counter() - started
    backend = url.split(":", 1)[0]
    print(f"xdm import ({backend:<18}) {imported / elapsed:8.0f} documents/s   ({imported} documents in {elapsed:.2f} s)")
    print(f"xdm export ({backend:<18}) {exported.documents / export_elapsed:8.0f} documents/s   ({len(exported.data) / 1e6:.1f} MB medium)")
    store.close()


def main() -> None:
    medium = build_medium()
    print(f"medium: {DOCUMENTS} documents, {len(medium) / 1e6:.1f} MB zipped")
    with tempfile.TemporaryDirectory() as scratch:
        measure(f"sqlite:///{Path(scratch) / 'bench.sqlite'}", medium)
    if os.environ.get("TSNHUB_BENCH_POSTGRES_URL"):
        measure(os.environ["TSNHUB_BENCH_POSTGRES_URL"], medium)


if __name__ == "__main__":
    main()
