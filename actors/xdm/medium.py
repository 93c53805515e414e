"""Reading an XDM medium (ITI-32, ZIP over e-mail or removable media) safely.

A medium is untrusted: it is never extracted to a path of its choosing, and it is refused
whole when any entry is suspicious — an absolute or parent-relative path (zip slip), a
symbolic link, an encrypted entry, two entries with the same name, entries that overlap,
more entries than allowed, or a decompressed size or compression ratio beyond the limits
(zip bombs).

Entries are unpacked streamed and bounded: each is read in chunks, and the limits are
enforced on the bytes actually produced, not on the sizes the ZIP headers declare. A
header that lies cannot make the reader go further than the limits: reading stops at the
declared size plus one byte, and the compression ratio is measured against the room the
entry really takes in the archive (up to the next entry), not its declared compressed
size. Small files are kept in memory; larger ones are spooled to an unnamed temporary
file and mapped when read, so that the medium is never in memory as a whole. A `Medium`
is closed (its spooled files released) when its `with` block ends.

Real media vary: the IHE_XDM folder may sit under a top folder, names may be in lower
case, and metadata may name `DOC.TXT` for a file stored as `doc.txt`; all are accepted.
"""
from __future__ import annotations

import io
import mmap
import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import BinaryIO

# A medium: its bytes, a path to the ZIP file, or a binary file open on it.
Source = bytes | str | os.PathLike[str] | BinaryIO

CHUNK = 64 * 1024
# Files up to this size stay in memory; larger ones are spooled to a temporary file.
IN_MEMORY = 1024 * 1024
# The compression ratio is only judged above this size (small files compress well).
RATIO_FLOOR = 1024 * 1024


class MediumError(ValueError):
    """The medium is refused; the message says which entry and why."""


@dataclass(frozen=True)
class Limits:
    max_entries: int = 10_000
    max_total_bytes: int = 1024 * 1024 * 1024
    max_entry_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200  # uncompressed / compressed, for entries above 1 MiB


class File:
    """One file of the medium: its bytes when small, an unnamed temporary file otherwise
    (mapped read-only when its content is asked for)."""

    def __init__(self, data: bytes | None = None, spool: BinaryIO | None = None) -> None:
        self._data = data
        self._spool = spool
        self._map: mmap.mmap | None = None

    def content(self) -> bytes | memoryview:
        """The file's bytes; a spooled file is given as a view of its mapping, which the
        store's driver reads without a copy on the Python side."""
        if self._data is not None:
            return self._data
        if self._map is None:
            assert self._spool is not None, "the medium is closed"
            self._map = mmap.mmap(self._spool.fileno(), 0, access=mmap.ACCESS_READ)
        return memoryview(self._map)

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # a view is still held (e.g. by an exception's frame): unmapped when collected
            self._map = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None


@dataclass
class Subset:
    """One IHE_XDM/SUBSETnn folder: its METADATA.XML and the files beside it."""

    name: str
    metadata_file: File | None = None
    files: dict[str, File] = field(default_factory=dict)  # upper-cased relative path -> file

    @property
    def metadata(self) -> bytes:
        """METADATA.XML, read when asked (a medium holds many subsets)."""
        return bytes(self.metadata_file.content()) if self.metadata_file is not None else b""

    def document(self, uri: str) -> bytes | memoryview | None:
        """The file a DocumentEntry's URI slot names, relative to the subset folder."""
        key = str(PurePosixPath(uri.replace("\\", "/"))).upper()
        found = self.files.get(key)
        return found.content() if found is not None else None

    def document_named(self, entry_id: str) -> bytes | memoryview | None:
        """The only file whose name, less its extension, is the entry's id: media whose
        DocumentEntries lack the URI slot (required by ITI-32) name files that way."""
        stem = entry_id.upper()
        matches = [found for name, found in self.files.items() if PurePosixPath(name).stem == stem]
        return matches[0].content() if len(matches) == 1 else None


@dataclass
class Medium:
    subsets: list[Subset]
    index_file: File | None = None
    readme_file: File | None = None
    spooled: list[File] = field(default_factory=list)  # every file read, to release on close

    @property
    def index_htm(self) -> bytes | None:
        return bytes(self.index_file.content()) if self.index_file is not None else None

    @property
    def readme_txt(self) -> bytes | None:
        return bytes(self.readme_file.content()) if self.readme_file is not None else None

    def close(self) -> None:
        for file in self.spooled:
            file.close()

    def __enter__(self) -> Medium:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


# What the standard library decompresses (XDM media use stored or deflated entries).
_COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})


def _check_name(info: zipfile.ZipInfo) -> PurePosixPath:
    raw = info.filename.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise MediumError(f"entry {info.filename!r} has an absolute path")
    path = PurePosixPath(raw)
    if any(part == ".." for part in path.parts):
        raise MediumError(f"entry {info.filename!r} points outside the medium")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise MediumError(f"entry {info.filename!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise MediumError(f"entry {info.filename!r} is encrypted")
    return path


def _room(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> dict[int, int]:
    """Bytes each entry really occupies in the archive, by header offset: from its local
    header to the next entry's (or to the central directory). Its compressed data cannot
    be longer, whatever its header says. Two entries at one offset share their data (an
    overlapping-entries bomb): refused."""
    offsets = sorted(info.header_offset for info in infos)
    if len(set(offsets)) != len(offsets):
        raise MediumError("two entries share their data")
    ends = offsets[1:] + [max(archive.start_dir, offsets[-1] if offsets else 0)]
    return {offset: max(end - offset, 0) for offset, end in zip(offsets, ends)}


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, room: int, limits: Limits, budget: int) -> File:
    """Read one entry in chunks, within the limits measured on the bytes produced."""
    declared = info.file_size
    if declared > limits.max_entry_bytes:
        raise MediumError(f"entry {info.filename!r} is larger than {limits.max_entry_bytes} bytes")
    if declared > budget:
        raise MediumError(f"the medium expands beyond {limits.max_total_bytes} bytes")
    if declared > RATIO_FLOOR and declared > limits.max_ratio * max(min(info.compress_size, room), 1):
        raise MediumError(f"entry {info.filename!r} has a suspicious compression ratio")
    if info.compress_type not in _COMPRESSIONS:
        raise MediumError(f"entry {info.filename!r} uses an unsupported compression method")
    most = limits.max_ratio * max(room, 1)
    chunks: list[bytes] = []
    spool: BinaryIO | None = None
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(min(CHUNK, declared + 1 - size)):
                size += len(chunk)
                if size > declared:
                    raise MediumError(f"entry {info.filename!r} does not match its declared size")
                if size > RATIO_FLOOR and size > most:
                    raise MediumError(f"entry {info.filename!r} has a suspicious compression ratio")
                if spool is None and size > IN_MEMORY:
                    spool = tempfile.TemporaryFile()  # unnamed: nothing is left behind
                    spool.writelines(chunks)
                    chunks = []
                if spool is not None:
                    spool.write(chunk)
                else:
                    chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        if spool is not None:
            spool.close()
        raise MediumError(f"entry {info.filename!r} cannot be read: {exc}") from None
    except MediumError:
        if spool is not None:
            spool.close()
        raise
    if size != declared:
        if spool is not None:
            spool.close()
        raise MediumError(f"entry {info.filename!r} does not match its declared size")
    if spool is None:
        return File(data=b"".join(chunks))
    spool.flush()
    return File(spool=spool)


def _open(source: Source) -> zipfile.ZipFile:
    target: str | os.PathLike[str] | BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return zipfile.ZipFile(target)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MediumError(f"not a ZIP archive: {exc}") from None


def read(source: Source, limits: Limits = Limits()) -> Medium:
    """Open and check a medium; every refused case raises `MediumError`. The caller
    closes the medium (`with read(...) as medium:`) to release its spooled files."""
    archive = _open(source)
    medium = Medium(subsets=[])
    try:
        with archive:
            _read_into(medium, archive, limits)
    except BaseException:
        medium.close()
        raise
    return medium


def _read_into(medium: Medium, archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise MediumError(f"more than {limits.max_entries} entries")
    room = _room(archive, infos)
    seen: set[str] = set()
    paths: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    for info in infos:
        path = _check_name(info)
        key = str(path).upper()
        if key in seen:
            raise MediumError(f"entry {info.filename!r} appears twice")
        seen.add(key)
        if not info.is_dir() and "__MACOSX" not in path.parts:
            paths.append((info, path))
    root = _xdm_root(paths)
    budget = limits.max_total_bytes
    subsets: dict[str, Subset] = {}
    for info, path in paths:
        if path.parts[: len(root.parts)] != root.parts:
            continue  # beside the XDM folder: not part of the interchange
        parts = PurePosixPath(*path.parts[len(root.parts) :]).parts
        parts = tuple(part.upper() for part in parts)
        file = _extract(archive, info, room[info.header_offset], limits, budget)
        medium.spooled.append(file)
        budget -= info.file_size
        if parts == ("INDEX.HTM",):
            medium.index_file = file
        elif parts == ("README.TXT",):
            medium.readme_file = file
        elif len(parts) >= 3 and parts[0] == "IHE_XDM":
            subset = subsets.setdefault(parts[1], Subset(name=parts[1]))
            inner = "/".join(parts[2:])
            if inner == "METADATA.XML":
                if info.file_size:  # an empty METADATA.XML describes nothing
                    subset.metadata_file = file
            else:
                subset.files[inner] = file
    found = [s for s in subsets.values() if s.metadata_file is not None]
    if not found:
        raise MediumError("no IHE_XDM/<subset>/METADATA.XML on the medium")
    medium.subsets = sorted(found, key=lambda s: s.name)


def _xdm_root(paths: list[tuple[zipfile.ZipInfo, PurePosixPath]]) -> PurePosixPath:
    """The folder holding IHE_XDM: the medium's root, or one top folder above it."""
    for _, path in paths:
        upper = [p.upper() for p in path.parts]
        if "IHE_XDM" in upper:
            return PurePosixPath(*path.parts[: upper.index("IHE_XDM")])
    raise MediumError("no IHE_XDM folder on the medium")
