"""Archives: a listing of the first entries (name and size), never their contents.

ZIP: `zipfile` reads the central directory, unless the end record claims more
entries than `Budget.entries` * 50 (then the extractor's own listing, kept in
the metadata, is shown). Plain TAR: `tarfile` walks the first headers, seeking
over member data. Compressed tars, 7z, RAR and zstd are not opened again: a
listing would mean decompressing, which extraction already did once under its
own budget, so its listing in `details.entries` is what the page shows.
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
from typing import Any, BinaryIO, cast

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content, Table, cut

_EOCD = b"PK\x05\x06"
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_TAR_TYPES = frozenset({"application/x-tar"})


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    metadata = document.get("metadata") or {}
    mime_type = metadata.get("mime_type")
    head = reader.head(4)
    claims = _zip_claims(reader) if mime_type in _ZIP_TYPES and head.startswith(b"PK") else None
    if claims is not None and claims <= budget.entries * 50:
        entries = _zip_entries(reader, budget)
    elif mime_type in _TAR_TYPES:
        entries = _tar_entries(reader, budget)
    else:
        entries = _recorded(metadata)
        if not entries and mime_type in _ZIP_TYPES and claims is None:
            raise ValueError("zip end-of-central-directory record not found")
    total = metadata.get("entry_count")
    rows = [[_name(name, budget), _size(size)] for name, size in entries[: budget.entries]]
    note = None
    if isinstance(total, int) and total > len(rows):
        note = f"The first {len(rows):,} of {total:,} entries."
    elif len(entries) >= budget.entries:
        note = f"The first {len(rows):,} entries."
    if not rows:
        note = "No listing is available for this archive."
    return Content([Table("Entries", rows, ["Name", "Size (bytes)"], note)])


def _zip_claims(reader: RangedReader) -> int | None:
    """Entries the end-of-central-directory record claims (read from the tail only)."""
    tail_size = min(reader.size, 65536 + 22)
    reader.seek(reader.size - tail_size)
    tail = reader.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    return int(struct.unpack("<H", tail[at + 10 : at + 12])[0])


def _zip_entries(reader: RangedReader, budget: Budget) -> list[tuple[str, int | None]]:
    reader.seek(0)
    with zipfile.ZipFile(cast(BinaryIO, reader)) as archive:
        return [(info.filename, info.file_size) for info in archive.infolist()[: budget.entries]]


def _tar_entries(reader: RangedReader, budget: Budget) -> list[tuple[str, int | None]]:
    reader.seek(0)
    entries: list[tuple[str, int | None]] = []
    with tarfile.open(fileobj=cast(BinaryIO, reader), mode="r:") as archive:
        while len(entries) < budget.entries:
            member = archive.next()
            if member is None:
                break
            entries.append((member.name, member.size if member.isfile() else None))
    return entries


def _recorded(metadata: dict[str, Any]) -> list[tuple[str, int | None]]:
    details = metadata.get("details") or {}
    listed = details.get("entries") if isinstance(details, dict) else None
    if not isinstance(listed, list):
        return []
    out: list[tuple[str, int | None]] = []
    for entry in listed:
        if isinstance(entry, dict) and "name" in entry:
            size = entry.get("size")
            out.append((str(entry["name"]), size if isinstance(size, int) else None))
    return out


def _name(name: str, budget: Budget) -> str:
    text, cut_off = cut(name, budget.cell_chars * 2)
    return text + "…" if cut_off else text


def _size(size: int | None) -> str:
    return f"{size:,}" if isinstance(size, int) else ""
