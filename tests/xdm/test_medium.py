"""XDM media are untrusted archives: the attacks of ITI-32 media are refused whole."""
from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from actors.xdm import medium

METADATA = b"<SubmitObjectsRequest/>"


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_every_corpus_medium_is_read(corpus: Path) -> None:
    for path in sorted((corpus / "xdm").glob("*.zip")):
        read = medium.read(path.read_bytes())
        assert read.subsets, path.name
        for subset in read.subsets:
            assert subset.metadata.lstrip().startswith(b"<"), path.name


def test_nested_root_folder_and_lower_case_names_are_found(corpus: Path) -> None:
    read = medium.read((corpus / "xdm" / "nhind-samplexdm.zip").read_bytes())
    subset = read.subsets[0]
    assert subset.name == "SUBSET01"
    assert subset.document("Document01.xml") is not None
    assert read.index_htm is not None and read.readme_txt is not None


def test_uri_is_matched_without_regard_to_case(corpus: Path) -> None:
    read = medium.read((corpus / "xdm" / "nist-xdm_minimal.zip").read_bytes())
    assert read.subsets[0].document("DOC.TXT") is not None  # stored as doc.txt


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
