"""Reading XDM media: the layouts real media use are found (on media composed by
`xdm_media`, and on the corpus's real media in the interoperability layer), and media are
untrusted archives: the attacks of ITI-32 media are refused whole."""
from __future__ import annotations

import io
import random
import stat
import zipfile
from pathlib import Path

import pytest
import xdm_media
from lxml import etree

import interop
from actors.xdm import medium

METADATA = b"<SubmitObjectsRequest/>"


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


# -- the layouts real media use, on media composed here --------------------------------------

def test_a_medium_as_the_profile_lays_it_out_is_read() -> None:
    documents = xdm_media.three_documents()
    data = xdm_media.compose([xdm_media.subset(xdm_media.MEDIUM_PATIENT, documents)])
    with medium.read(data) as read:
        assert [s.name for s in read.subsets] == ["SUBSET01"]
        subset = read.subsets[0]
        assert etree.QName(etree.fromstring(subset.metadata)).localname == "SubmitObjectsRequest"
        assert sorted(subset.files) == ["DOC0001.TXT", "DOC0002.PDF", "DOC0003.XML"]
        for number, spec in enumerate(documents, 1):
            assert subset.document(xdm_media.default_name(number, spec)) == spec.content
        assert read.index_htm is not None and b"SUBSET01/DOC0001.TXT" in read.index_htm
        assert read.readme_txt is not None


def test_nested_root_folder_and_lower_case_names_are_found() -> None:
    documents = xdm_media.three_documents()
    data = xdm_media.compose(
        [xdm_media.subset(xdm_media.MEDIUM_PATIENT, documents, uris=["Document01.xml", "doc2.pdf", "doc3.xml"])],
        root="XDM-Export-2024/",
        lower=True,
    )
    assert "XDM-Export-2024/ihe_xdm/subset01/metadata.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    with medium.read(data) as read:
        subset = read.subsets[0]
        assert subset.name == "SUBSET01"
        assert subset.metadata.lstrip().startswith(b"<?xml")
        assert subset.document("Document01.xml") == documents[0].content
        assert read.index_htm is not None and read.readme_txt is not None


def test_uri_is_matched_without_regard_to_case() -> None:
    spec = xdm_media.document(b"texte libre\n")
    data = xdm_media.compose([xdm_media.SubsetSpec("SUBSET", xdm_media.xml(xdm_media.metadata(xdm_media.MEDIUM_PATIENT, [spec], ["DOC.TXT"])), {"doc.txt": spec.content})])
    with medium.read(data) as read:
        subset = read.subsets[0]
        assert subset.document("DOC.TXT") == spec.content  # stored as doc.txt
        assert subset.document("doc.TXT") == spec.content
        assert subset.document("./DOC.TXT") == spec.content
        assert subset.document("DOC.TXT.BAK") is None


def test_a_uri_resolves_only_inside_its_own_subset() -> None:
    first = xdm_media.subset(xdm_media.MEDIUM_PATIENT, [xdm_media.document(b"one")], name="SUBSET01")
    second = xdm_media.subset(xdm_media.MEDIUM_PATIENT, [xdm_media.document(b"two")], name="SUBSET02", uris=["SUB/TWO.TXT"])
    with medium.read(xdm_media.compose([first, second])) as read:
        one, two = read.subsets
        assert two.document("SUB/TWO.TXT") == b"two" and two.document("sub\\two.txt") == b"two"
        for uri in ("../SUBSET02/SUB/TWO.TXT", "/IHE_XDM/SUBSET02/SUB/TWO.TXT", "SUB/../../SUBSET02/SUB/TWO.TXT", "../../README.TXT"):
            assert one.document(uri) is None, uri
        assert one.document("TWO.TXT") is None


def test_several_subsets_are_read_in_order_and_empty_metadata_describes_nothing() -> None:
    subsets = [
        xdm_media.subset(xdm_media.MEDIUM_PATIENT, [xdm_media.document(f"doc {n}".encode())], name=name)
        for n, name in enumerate(["SUBSET10", "SUBSET02", "SUBSET01"])
    ]
    empty = xdm_media.SubsetSpec("SUBSET03", b"", {"DOC0001.TXT": b"orphan"})
    without = xdm_media.SubsetSpec("SUBSET04", None, {"DOC0001.TXT": b"orphan"})
    with medium.read(xdm_media.compose([*subsets, empty, without])) as read:
        assert [s.name for s in read.subsets] == ["SUBSET01", "SUBSET02", "SUBSET10"]
        assert [s.document("DOC0001.TXT") for s in read.subsets] == [b"doc 2", b"doc 1", b"doc 0"]


def test_optional_files_may_be_missing_and_strays_are_ignored() -> None:
    data = xdm_media.compose(
        [xdm_media.subset(xdm_media.MEDIUM_PATIENT, [xdm_media.document(b"x")])],
        root="MEDIA/",
        index=False,
        readme=False,
        extra=[("AUTORUN.INF", b"[autorun]"), ("__MACOSX/MEDIA/IHE_XDM/SUBSET01/._METADATA.XML", b"\0\5\x16\x07"), ("MEDIA/IHE_XDM/SUBSET01/", b"")],
    )
    with medium.read(data) as read:
        assert read.index_htm is None and read.readme_txt is None
        assert [s.name for s in read.subsets] == ["SUBSET01"]
        assert sorted(read.subsets[0].files) == ["DOC0001.TXT"]


def test_a_file_named_by_its_entry_id_is_found_when_the_uri_slot_is_missing() -> None:
    spec = xdm_media.document(b"sans URI")
    request = xdm_media.metadata(xdm_media.MEDIUM_PATIENT, [spec], [None])
    data = xdm_media.compose([xdm_media.SubsetSpec("SUBSET01", xdm_media.xml(request), {f"{spec.symbolic_id}.txt": spec.content, "OTHER.TXT": b"o"})])
    with medium.read(data) as read:
        assert read.subsets[0].document_named(spec.symbolic_id) == spec.content
        assert read.subsets[0].document_named("Document99") is None


def test_a_large_document_is_spooled_and_released_on_close() -> None:
    big = random.Random(32).randbytes(2 * medium.IN_MEMORY)  # incompressible, above the in-memory size
    spec = xdm_media.document(big, "application/octet-stream")
    data = xdm_media.compose([xdm_media.subset(xdm_media.MEDIUM_PATIENT, [spec], uris=["BIG.BIN"])])
    with medium.read(data) as read:
        content = read.subsets[0].document("BIG.BIN")
        assert isinstance(content, memoryview) and bytes(content) == big
        del content
    assert all(f._spool is None for f in read.spooled)


# -- the interoperability layer: real media --------------------------------------------------

@pytest.mark.parametrize("name", interop.corpus_files("xdm", "*.zip") or ["(corpus absent)"])
def test_every_corpus_medium_is_read(corpus: Path, name: str) -> None:
    path = corpus / "xdm" / name
    with medium.read(path.read_bytes()) as read:
        assert read.subsets, path.name
        for subset in read.subsets:
            assert subset.metadata.lstrip().startswith(b"<"), path.name


def test_nhind_medium_nested_root_folder_and_lower_case_names_are_found(corpus: Path) -> None:
    read = medium.read((corpus / "xdm" / "nhind-samplexdm.zip").read_bytes())
    subset = read.subsets[0]
    assert subset.name == "SUBSET01"
    assert subset.document("Document01.xml") is not None
    assert read.index_htm is not None and read.readme_txt is not None


def test_nist_minimal_medium_uri_is_matched_without_regard_to_case(corpus: Path) -> None:
    read = medium.read((corpus / "xdm" / "nist-xdm_minimal.zip").read_bytes())
    assert read.subsets[0].document("DOC.TXT") is not None  # stored as doc.txt


# -- refused media -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "IHE_XDM/SUBSET01/../../evil.txt", "/etc/passwd", "C:\\windows\\evil.txt", "IHE_XDM\\..\\..\\evil"],
)
def test_zip_slip_and_absolute_paths_are_refused(name: str) -> None:
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), (name, b"x")])
    with pytest.raises(medium.MediumError, match="absolute path|outside the medium"):
        medium.read(data)


def test_symbolic_links_are_refused() -> None:
    link = zipfile.ZipInfo("IHE_XDM/SUBSET01/DOC0001.XML")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), (link, b"/etc/passwd")])
    with pytest.raises(medium.MediumError, match="symbolic link"):
        medium.read(data)


def test_duplicate_entries_are_refused() -> None:
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), ("IHE_XDM/SUBSET01/DOC.XML", b"1")])
    data_dup = _zip(
        [("IHE_XDM/SUBSET01/METADATA.XML", METADATA), ("IHE_XDM/SUBSET01/DOC.XML", b"1"), ("ihe_xdm/subset01/doc.xml", b"2")]
    )
    medium.read(data)
    with pytest.raises(medium.MediumError, match="appears twice"):
        medium.read(data_dup)


def test_zip_bomb_ratio_is_refused_before_expansion() -> None:
    data = _zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), ("IHE_XDM/SUBSET01/DOC.XML", b"\0" * (50 * 1024 * 1024))])
    assert len(data) < 200_000
    with pytest.raises(medium.MediumError, match="compression ratio"):
        medium.read(data)


def test_total_expanded_size_is_bounded() -> None:
    entries = [("IHE_XDM/SUBSET01/METADATA.XML", METADATA)] + [
        (f"IHE_XDM/SUBSET01/DOC{i}.XML", bytes(range(256)) * 400) for i in range(10)
    ]
    with pytest.raises(medium.MediumError, match="expands beyond"):
        medium.read(_zip(entries), medium.Limits(max_total_bytes=500_000))


def test_entry_count_is_bounded() -> None:
    entries = [("IHE_XDM/SUBSET01/METADATA.XML", METADATA)] + [(f"IHE_XDM/SUBSET01/D{i}", b"x") for i in range(20)]
    with pytest.raises(medium.MediumError, match="more than 10 entries"):
        medium.read(_zip(entries), medium.Limits(max_entries=10))


def test_lying_size_header_is_refused() -> None:
    data = bytearray(_zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), ("IHE_XDM/SUBSET01/DOC.XML", b"A" * 1000)], zipfile.ZIP_STORED))
    # Shrink the declared size of DOC.XML in the central directory.
    central = data.rfind(b"PK\x01\x02")
    size_offset = central + 24
    data[size_offset : size_offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(medium.MediumError):
        medium.read(bytes(data))


def test_a_medium_without_metadata_is_refused() -> None:
    with pytest.raises(medium.MediumError, match="IHE_XDM"):
        medium.read(_zip([("README.TXT", b"hello")]))


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(medium.MediumError, match="not a ZIP"):
        medium.read(b"%PDF-1.4 not a zip")


def test_an_unsupported_compression_method_is_refused() -> None:
    data = bytearray(_zip([("IHE_XDM/SUBSET01/METADATA.XML", METADATA), ("IHE_XDM/SUBSET01/DOC.XML", b"A" * 100)], zipfile.ZIP_STORED))
    # Method 99 (AE-x encryption wrapper) in the central directory entry of DOC.XML.
    central = data.rfind(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    with pytest.raises(medium.MediumError, match="unsupported compression"):
        medium.read(bytes(data))
