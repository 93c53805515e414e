"""Reading an XDM medium (ITI-32, ZIP over e-mail or removable media) safely.

A medium is untrusted: it is read in memory, never extracted, and refused whole when
any entry is suspicious — an absolute or parent-relative path (zip slip), a symbolic
link, an encrypted entry, two entries with the same name, more entries than allowed, or
a decompressed size or compression ratio beyond the limits (zip bombs). Sizes declared in
the ZIP headers are not trusted: reading stops at the declared size plus one byte.

Real media vary: the IHE_XDM folder may sit under a top folder, names may be in lower
case, and metadata may name `DOC.TXT` for a file stored as `doc.txt`; all are accepted.
"""
from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath


class MediumError(ValueError):
    """The medium is refused; the message says which entry and why."""


@dataclass(frozen=True)
class Limits:
    max_entries: int = 10_000
    max_total_bytes: int = 1024 * 1024 * 1024
    max_entry_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200  # uncompressed / compressed, for entries above 1 MiB


@dataclass
class Subset:
    """One IHE_XDM/SUBSETnn folder: its METADATA.XML and the files beside it."""

    name: str
    metadata: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # upper-cased relative path -> bytes

    def document(self, uri: str) -> bytes | None:
        """The file a DocumentEntry's URI slot names, relative to the subset folder."""
        key = str(PurePosixPath(uri.replace("\\", "/"))).upper()
        return self.files.get(key)

    def document_named(self, entry_id: str) -> bytes | None:
        """The only file whose name, less its extension, is the entry's id: media whose
        DocumentEntries lack the URI slot (required by ITI-32) name files that way."""
        stem = entry_id.upper()
        matches = [content for name, content in self.files.items() if PurePosixPath(name).stem == stem]
        return matches[0] if len(matches) == 1 else None


@dataclass
class Medium:
    subsets: list[Subset]
    index_htm: bytes | None
    readme_txt: bytes | None


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


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: int) -> bytes:
    declared = info.file_size
    if declared > limits.max_entry_bytes:
        raise MediumError(f"entry {info.filename!r} is larger than {limits.max_entry_bytes} bytes")
    if declared > budget:
        raise MediumError(f"the medium expands beyond {limits.max_total_bytes} bytes")
    if declared > 1024 * 1024 and declared > limits.max_ratio * max(info.compress_size, 1):
        raise MediumError(f"entry {info.filename!r} has a suspicious compression ratio")
    if info.compress_type not in _COMPRESSIONS:
        raise MediumError(f"entry {info.filename!r} uses an unsupported compression method")
    try:
        with archive.open(info) as handle:
            data = handle.read(declared + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise MediumError(f"entry {info.filename!r} cannot be read: {exc}") from None
    if len(data) != declared:
        raise MediumError(f"entry {info.filename!r} does not match its declared size")
    return data


def read(data: bytes, limits: Limits = Limits()) -> Medium:
    """Open and check a medium; every refused case raises `MediumError`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise MediumError(f"not a ZIP archive: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise MediumError(f"more than {limits.max_entries} entries")
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
        index_htm = readme_txt = None
        contents: dict[str, bytes] = {}
        for info, path in paths:
            if path.parts[: len(root.parts)] != root.parts:
                continue  # beside the XDM folder: not part of the interchange
            relative = PurePosixPath(*path.parts[len(root.parts) :])
            content = _read(archive, info, limits, budget)
            budget -= len(content)
            contents[str(relative).upper()] = content
        for key, content in contents.items():
            parts = PurePosixPath(key).parts
            if len(parts) == 1 and parts[0] == "INDEX.HTM":
                index_htm = content
            elif len(parts) == 1 and parts[0] == "README.TXT":
                readme_txt = content
            elif len(parts) >= 3 and parts[0] == "IHE_XDM":
                subset = subsets.setdefault(parts[1], Subset(name=parts[1], metadata=b""))
                inner = "/".join(parts[2:])
                if inner == "METADATA.XML":
                    subset.metadata = content
                else:
                    subset.files[inner] = content
        found = [s for s in subsets.values() if s.metadata]
        if not found:
            raise MediumError("no IHE_XDM/<subset>/METADATA.XML on the medium")
        return Medium(subsets=sorted(found, key=lambda s: s.name), index_htm=index_htm, readme_txt=readme_txt)


def _xdm_root(paths: list[tuple[zipfile.ZipInfo, PurePosixPath]]) -> PurePosixPath:
    """The folder holding IHE_XDM: the medium's root, or one top folder above it."""
    for _, path in paths:
        upper = [p.upper() for p in path.parts]
        if "IHE_XDM" in upper:
            return PurePosixPath(*path.parts[: upper.index("IHE_XDM")])
    raise MediumError("no IHE_XDM folder on the medium")
