"""Issue 18, finding 12 (third point): an XDM medium (ITI-32) is unpacked streamed and
bounded. The importer used to hold every file of a medium in memory at once (up to the
1 GiB `max_total_bytes`), and it judged a zip bomb by the sizes the ZIP headers declare.

- A lying header: an entry of 64 MiB of zeros (a real ratio near 1000) whose central
  directory claims a compressed size 64 times smaller than its declared size (a ratio of
  64, under the limit of 200). It must be refused for its ratio, and the reader must
  stop once the real ratio limit is passed: what it decompresses stays within
  `max_ratio` times the room the entry really takes in the archive (plus one read chunk).
- A medium holding a 50 MB document is imported with a Python heap peak far below the
  document's size: entries are read in chunks, a large one is spooled to a temporary
  file and handed to the store as a view of it.
"""
from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from actors.xdm import medium
from actors.xdm.importer import ImportSettings, import_medium
from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from hub.store import Store
from hub.store.models.xds import XdsDocument

AFFINITY = "1.2.250.1.213.1.4.8"
PATIENT = f"287043523811712^^^&{AFFINITY}&ISO"
MiB = 1024 * 1024


def _lying_bomb() -> tuple[bytes, int]:
    """A medium whose DOC.XML declares 64 MiB and, in its central directory entry, a
    compressed size of 1 MiB (ratio 64); its deflate stream is ~64 KiB. Returns the
    medium and the room DOC.XML really occupies (local header to central directory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", b"<SubmitObjectsRequest/>")
        archive.writestr("IHE_XDM/SUBSET01/DOC.XML", b"\0" * (64 * MiB))
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")  # DOC.XML's central directory entry (written last)
    assert data[central + 46 : central + 46 + 24] == b"IHE_XDM/SUBSET01/DOC.XML"
    data[central + 20 : central + 24] = MiB.to_bytes(4, "little")  # compressed size
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("IHE_XDM/SUBSET01/DOC.XML")
    assert (info.file_size, info.compress_size) == (64 * MiB, MiB)
    room = data.find(b"PK\x01\x02") - info.header_offset
    return bytes(data), room


def test_a_lying_compressed_size_cannot_make_the_reader_expand_past_the_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    data, room = _lying_bomb()
    produced = 0
    original = zipfile.ZipExtFile.read

    def counting(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        nonlocal produced
        chunk = original(self, n)
        produced += len(chunk)
        return chunk

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    tracemalloc.start()
    try:
        with pytest.raises(medium.MediumError, match="DOC.XML.*compression ratio"):
            medium.read(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limits = medium.Limits()
    assert produced <= limits.max_ratio * room + medium.CHUNK  # far below the 64 MiB declared
    assert peak < 4 * MiB  # and what was read was never held in memory


def _medium_with(document: DocumentSpec, path: Path) -> None:
    """A one-document XDM medium, written to `path` (stored: the content is random)."""
    request = submit_objects_request(PATIENT, documents=[document])
    entry = request.find(f".//{{{c.RIM}}}ExtrinsicObject")
    assert entry is not None
    slot = etree.Element(f"{{{c.RIM}}}Slot", name="URI")
    etree.SubElement(etree.SubElement(slot, f"{{{c.RIM}}}ValueList"), f"{{{c.RIM}}}Value").text = "DOC0001.BIN"
    entry.insert(0, slot)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", etree.tostring(request))
        archive.writestr("IHE_XDM/SUBSET01/DOC0001.BIN", document.content)


def test_a_50_mb_document_is_imported_without_the_medium_in_memory(store: Store, tmp_path: Path) -> None:
    size = 50 * 1000 * 1000
    document = DocumentSpec(content=os.urandom(size), mime_type="application/octet-stream", with_hash_and_size=True)
    path = tmp_path / "medium.zip"
    _medium_with(document, path)
    digest = hashlib.sha1(document.content).hexdigest()
    unique_id = document.unique_id
    del document  # the test's own copy is not the importer's
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    settings = ImportSettings(repository_unique_id="1.2.250.1.213.1.999.1", affinity_domain=AFFINITY, source_id="1.2.250.1.213.1.999.2")
    tracemalloc.start()
    try:
        result = import_medium(store, path, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.imported, [e for s in result.subsets for e in s.errors]
    assert peak < 8 * MiB, f"the import held {peak} bytes of Python heap for a {path.stat().st_size}-byte medium"
    with store.session() as session:
        stored = session.execute(select(XdsDocument.size, XdsDocument.hash).where(XdsDocument.unique_id == unique_id)).one()
    assert tuple(stored) == (size, digest)
