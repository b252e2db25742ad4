"""Archives and compressed files: what is inside, from headers only.

Nothing is ever extracted to disk and no member is decompressed to be read:
- ZIP: the end-of-central-directory record gives the entry count first (a
  directory claiming more than `MAX_ENTRIES` is not listed); then `zipfile`
  reads the central directory only.
- TAR: `tarfile` walks the headers, seeking over member data.
- gzip / bzip2: header fields (gzip: name, mtime, ISIZE from the trailer);
  when the payload is a tar, up to `STREAM_BUDGET` decompressed bytes are
  streamed to list the first members (zip bombs and quines stop there).
- 7z: the header database at the end (`sevenzip`), LZMA-decoded by the
  standard library when the writer compressed it; entries and sizes.
- RAR 4/5: `rarfile` (pure Python) reads the headers without unrar.
- xz: the stream flags and the index (total uncompressed size); a tar.xz is
  listed by streaming, as for gzip.
- zstd: the frame header (content size when the writer recorded it).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.encoding import sniff_encoding
from chalicelib.extraction.extractors import sevenzip
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso
from chalicelib.extraction.streams import Prefixed

MAX_ENTRIES = 100_000
"""Entries read at most from a directory or a stream of headers."""

LISTED = 20
"""Names (with sizes) shown in `details.entries`."""

STREAM_BUDGET = 64 * 1024 * 1024
"""Decompressed bytes streamed at most to list a compressed tar."""

_ZIP_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


def extract(source: Source) -> Extraction:
    head = source.head
    for test, handler in _HANDLERS:
        if test(source.mime_type, head):
            return handler(source)
    raise ExtractionFailed(f"archive: no reader for {source.mime_type}", code="unsupported")


# --- ZIP ------------------------------------------------------------------


def _zip(source: Source) -> Extraction:
    claimed, zip64, comment = _zip_directory_end(source)
    if claimed > MAX_ENTRIES:
        return Extraction(
            fields={"entry_count": claimed},
            details=compact({"format": "zip", "zip64": zip64, "listed": False}),
            warnings=[f"archive: {claimed} entries exceed the listing budget of {MAX_ENTRIES}"],
        )
    source.reader.seek(0)
    try:
        with zipfile.ZipFile(source.file) as archive:
            infos = archive.infolist()
            comment = archive.comment or comment
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed(f"archive: not a readable zip ({exc})", code="corrupt") from exc
    files = [i for i in infos if not i.is_dir()]
    encrypted = any(i.flag_bits & 0x1 for i in infos)
    uncompressed = sum(i.file_size for i in files)
    compressed = sum(i.compress_size for i in files)
    details: dict[str, Any] = {
        "format": "zip",
        "file_count": len(files),
        "directory_count": len(infos) - len(files),
        "compressed_size": compressed,
        "compression_ratio": round(uncompressed / compressed, 1) if compressed else None,
        "encrypted_entries": sum(1 for i in infos if i.flag_bits & 0x1) or None,
        "zip64": zip64 or any(i.file_size >= 0xFFFFFFFF or i.header_offset >= 0xFFFFFFFF for i in infos),
        "comment": comment.decode("utf-8", "replace")[:1000] if comment else None,
        "entries": [
            {"name": name[:300], "size": i.file_size}
            for name, i in zip(_zip_names(infos[:LISTED]), infos[:LISTED], strict=True)
        ],
    }
    fields = {"entry_count": len(infos), "uncompressed_size": uncompressed, "encrypted": encrypted}
    return Extraction(fields=compact(fields), details=compact(details))


def _zip_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Names without the UTF-8 flag were decoded as cp437; re-decode them in their real code page."""
    legacy = [i for i in infos if not i.flag_bits & 0x800 and not i.filename.isascii()]
    if not legacy:
        return [i.filename for i in infos]
    try:
        raw = [i.filename.encode("cp437") for i in infos]
    except UnicodeEncodeError:
        return [i.filename for i in infos]
    encoding = sniff_encoding(b"\n".join(raw), complete=True)
    return [r.decode(encoding.codec, "replace") for r in raw]


def _zip_directory_end(source: Source) -> tuple[int, bool, bytes]:
    """Entry count, zip64 flag and comment from the end records (read from the tail only)."""
    tail_size = min(source.size, 65536 + 22)
    source.reader.seek(source.size - tail_size)
    tail = source.reader.read(tail_size)
    at = tail.rfind(_ZIP_EOCD)
    if at < 0 or len(tail) - at < 22:
        if source.head.startswith(b"PK\x07\x08"):
            raise ExtractionFailed("archive: split (multi-volume) zip; this part alone has no directory", "corrupt")
        raise ExtractionFailed("archive: zip end-of-central-directory record not found", code="corrupt")
    (_, _, _, _, total, _, _, comment_len) = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    comment = tail[at + 22 : at + 22 + comment_len]
    locator = tail[at - 20 : at] if at >= 20 else b""
    zip64 = locator.startswith(_ZIP64_LOCATOR)
    if zip64:
        total = _zip64_total(source, locator, total)
    return total, zip64, comment


def _zip64_total(source: Source, locator: bytes, fallback: int) -> int:
    (offset,) = struct.unpack("<Q", locator[8:16])
    if offset + 56 > source.size:
        return fallback
    source.reader.seek(offset)
    record = source.reader.read(56)
    if not record.startswith(b"PK\x06\x06"):
        return fallback
    (total,) = struct.unpack("<Q", record[32:40])
    return int(total)


# --- TAR ------------------------------------------------------------------


def _tar(source: Source) -> Extraction:
    source.reader.seek(0)
    try:
        with tarfile.open(fileobj=source.file, mode="r:") as archive:
            return _tar_listing(archive, "tar")
    except tarfile.TarError as exc:
        raise ExtractionFailed(f"archive: not a readable tar ({exc})", code="corrupt") from exc


def _tar_listing(archive: tarfile.TarFile, fmt: str, budget_hit: Callable[[], bool] = lambda: False) -> Extraction:
    count = files = dirs = 0
    total = 0
    entries: list[dict[str, Any]] = []
    warnings: list[str] = []
    complete = True
    while True:
        try:
            member = archive.next()
        except (EOFError, tarfile.TarError, _BudgetSpent, OSError, zlib.error, lzma.LZMAError) as exc:
            complete = False
            if not isinstance(exc, _BudgetSpent) and count == 0:
                raise ExtractionFailed(f"archive: tar headers unreadable ({exc})", code="corrupt") from exc
            warnings.append(_stop_reason(exc))
            break
        if member is None:
            break
        count += 1
        files += member.isfile()
        dirs += member.isdir()
        total += member.size if member.isfile() else 0
        if len(entries) < LISTED:
            entries.append({"name": member.name[:300], "size": member.size})
        archive.members = []  # type: ignore[attr-defined]  # keep memory flat: the list is only needed for extraction
        if count >= MAX_ENTRIES:
            complete = False
            warnings.append(f"archive: stopped listing after {MAX_ENTRIES} entries")
            break
    fields = {"entry_count": count if complete else None, "uncompressed_size": total if complete else None}
    details = {
        "format": fmt,
        "file_count": files,
        "directory_count": dirs,
        "listing_complete": complete,
        "entries_seen": count,
        "entries": entries,
    }
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _stop_reason(exc: BaseException) -> str:
    if isinstance(exc, _BudgetSpent):
        return f"archive: listed only the first {STREAM_BUDGET} decompressed bytes"
    return f"archive: listing stopped early ({type(exc).__name__})"


class _BudgetSpent(Exception):
    pass


class _Budgeted(io.RawIOBase):
    """A decompressing stream that gives up after `budget` bytes."""

    def __init__(self, inner: BinaryIO, budget: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            raise _BudgetSpent()
        data = self._inner.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _inner_tar(stream: BinaryIO, fmt: str) -> Extraction | None:
    """List a tar inside a decompressed stream, if the first block says it is one."""
    try:
        first = stream.read(512)
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return None
    if len(first) < 512 or (first[257:262] != b"ustar" and not _plain_tar_checksum(first)):
        return None
    wrapped = io.BufferedReader(_Budgeted(cast(BinaryIO, Prefixed(first, stream)), STREAM_BUDGET))
    try:
        archive = tarfile.open(fileobj=wrapped, mode="r|")  # noqa: SIM115 (closed by the caller's listing)
    except (tarfile.TarError, _BudgetSpent):
        return None
    return _tar_listing(archive, fmt)


def _plain_tar_checksum(block: bytes) -> bool:
    try:
        stored = int(block[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 256 + sum(block[156:])


# --- gzip, bzip2, xz ----------------------------------------------------------


def _gzip(source: Source) -> Extraction:
    header = _gzip_header(source)
    source.reader.seek(max(0, source.size - 4))
    (isize,) = struct.unpack("<I", source.reader.read(4).rjust(4, b"\x00"))
    fields: dict[str, Any] = {"uncompressed_size": isize}
    details: dict[str, Any] = {"format": "gzip", **header, "isize_note": "size modulo 4 GiB, of the last member"}
    source.reader.seek(0)
    inner = _inner_tar(cast(BinaryIO, gzip.GzipFile(fileobj=source.file, mode="rb")), "tar+gzip")
    return _merge(fields, details, inner)


def _merge(fields: dict[str, Any], details: dict[str, Any], inner: Extraction | None) -> Extraction:
    warnings: list[str] = []
    if inner is not None:
        fields.update({"entry_count": inner.fields.get("entry_count")})
        details.update({"tar": inner.details, "tar_uncompressed_size": inner.fields.get("uncompressed_size")})
        warnings = inner.warnings
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


_GZIP_OS = {0: "FAT", 3: "Unix", 7: "Macintosh", 11: "NTFS", 255: "unknown"}


def _gzip_header(source: Source) -> dict[str, Any]:
    source.reader.seek(0)
    head = source.reader.read(10)
    if len(head) < 10 or head[:2] != b"\x1f\x8b":
        raise ExtractionFailed("archive: not a gzip file", code="corrupt")
    method, flags, mtime, _, os_code = struct.unpack("<BBIBB", head[2:10])
    if flags & 0x04:
        (extra_len,) = struct.unpack("<H", source.reader.read(2))
        source.reader.seek(extra_len, io.SEEK_CUR)
    name = _zero_terminated(source) if flags & 0x08 else None
    comment = _zero_terminated(source) if flags & 0x10 else None
    return {
        "compression": "deflate" if method == 8 else f"method {method}",
        "original_name": name,
        "comment": comment,
        "modified": iso(datetime.fromtimestamp(mtime, UTC)) if mtime else None,
        "operating_system": _GZIP_OS.get(os_code, f"code {os_code}"),
    }


def _zero_terminated(source: Source, limit: int = 1024) -> str | None:
    data = source.reader.read(limit)
    end = data.find(b"\x00")
    if end < 0:
        return None
    source.reader.seek(end + 1 - len(data), io.SEEK_CUR)
    return data[:end].decode("latin-1")


def _bzip2(source: Source) -> Extraction:
    head = source.head
    if not head.startswith(b"BZh") or len(head) < 4 or not head[3:4].isdigit():
        raise ExtractionFailed("archive: not a bzip2 file", code="corrupt")
    details = {"format": "bzip2", "block_size_kb": int(head[3:4]) * 100}
    source.reader.seek(0)
    inner = _inner_tar(cast(BinaryIO, bz2.BZ2File(source.file, mode="rb")), "tar+bzip2")
    return _merge({}, details, inner)


def _xz(source: Source) -> Extraction:
    head = source.head
    if len(head) < 12 or head[:6] != b"\xfd7zXZ\x00":
        raise ExtractionFailed("archive: not an xz file", code="corrupt")
    check = _XZ_CHECKS.get(head[7] & 0x0F, f"check-{head[7] & 0x0F}")
    details: dict[str, Any] = {"format": "xz", "check": check}
    fields: dict[str, Any] = {"uncompressed_size": _xz_index_total(source)}
    source.reader.seek(0)
    with lzma.LZMAFile(source.file, mode="rb") as stream:
        inner = _inner_tar(cast(BinaryIO, stream), "tar+xz")
    return _merge(fields, details, inner)


_XZ_CHECKS = {0: "none", 1: "crc32", 4: "crc64", 10: "sha256"}


def _xz_index_total(source: Source) -> int | None:
    """The uncompressed size from the index of the last stream (its footer says where the index starts).

    Layout: "The .xz File Format" 1.0.4, sections 2.1.2 (stream footer) and 4 (index).
    """
    if source.size < 24:
        return None
    source.reader.seek(source.size - 12)
    footer = source.reader.read(12)
    if footer[10:12] != b"YZ":
        return None
    index_size = (struct.unpack_from("<I", footer, 4)[0] + 1) * 4
    if index_size > min(source.size - 24, 1024 * 1024):
        return None
    source.reader.seek(source.size - 12 - index_size)
    index = source.reader.read(index_size)
    if index[:1] != b"\x00":
        return None
    values, at = [], 1
    try:
        count, at = _xz_number(index, at)
        for _ in range(min(count, MAX_ENTRIES)):
            _, at = _xz_number(index, at)  # unpadded size
            size, at = _xz_number(index, at)
            values.append(size)
    except IndexError:
        return None
    return sum(values)


def _xz_number(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 63, 7):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
    raise IndexError("xz: number too long")


# --- 7z -------------------------------------------------------------------


def _sevenzip(source: Source) -> Extraction:
    source.reader.seek(0)
    header = source.reader.read(32)
    if len(header) < 32 or header[:6] != b"7z\xbc\xaf\x27\x1c":
        raise ExtractionFailed("archive: not a 7z file", code="corrupt")
    major, minor = header[6], header[7]
    offset, size, _ = struct.unpack("<QQI", header[12:32])
    details: dict[str, Any] = {"format": "7z", "version": f"{major}.{minor}"}
    if 32 + offset + size > source.size:
        raise ExtractionFailed("archive: 7z header points past the end of the file", code="corrupt")
    if not 0 < size <= sevenzip.MAX_HEADER_BYTES:
        return Extraction(details=details, warnings=[f"archive: 7z header database of {size} bytes not read"])
    source.reader.seek(32 + offset)
    database = source.reader.read(size)
    details["header_encoded"] = database[:1] == b"\x17"
    try:
        found = sevenzip.listing(database, lambda at, length: _read_at(source, at, length))
    except sevenzip.Unlistable as exc:
        encrypted = "encrypted" in str(exc)
        return Extraction(fields=compact({"encrypted": encrypted or None}), details=details, warnings=[str(exc)])
    except ValueError as exc:
        raise ExtractionFailed(f"archive: 7z header database unreadable ({exc})", code="corrupt") from exc
    names = [name[:300] for name in found.names[:LISTED]]
    details |= {"file_count": len(found.names) - found.directories, "directory_count": found.directories}
    details["entries"] = names or None
    fields = {
        "entry_count": len(found.names),
        "uncompressed_size": sum(found.sizes),
        "encrypted": found.encrypted or None,
    }
    return Extraction(fields=compact(fields), details=compact(details))


def _read_at(source: Source, offset: int, length: int) -> bytes:
    if offset + length > source.size or length > sevenzip.MAX_HEADER_BYTES:
        raise ValueError("7z: packed header lies past the end of the file")
    source.reader.seek(offset)
    return source.reader.read(length)


# --- RAR ------------------------------------------------------------------


def _rar(source: Source) -> Extraction:
    import rarfile  # type: ignore[import-untyped]

    source.reader.seek(0)
    try:
        archive = rarfile.RarFile(source.file)
    except rarfile.PasswordRequired as exc:
        return Extraction(
            fields={"encrypted": True}, details={"format": "rar", "headers_encrypted": True}, warnings=[str(exc)]
        )
    except (rarfile.Error, EOFError, struct.error) as exc:
        raise ExtractionFailed(f"archive: not a readable rar ({exc})", code="corrupt") from exc
    infos = archive.infolist()
    if not infos:
        raise ExtractionFailed("archive: no readable rar headers", code="corrupt")
    files = [i for i in infos if not i.is_dir()]
    details = {
        "format": "rar",
        "version": 5 if archive._file_parser and type(archive._file_parser).__name__ == "RAR5Parser" else 4,
        "file_count": len(files),
        "directory_count": len(infos) - len(files),
        "comment": archive.comment,
        "solid": bool(archive._file_parser and archive._file_parser.is_solid()),
        "volume": bool(archive.volumelist() and len(archive.volumelist()) > 1) or None,
        "entries": [{"name": i.filename[:300], "size": i.file_size} for i in infos[:LISTED]],
    }
    fields = {
        "entry_count": len(infos),
        "uncompressed_size": sum(i.file_size or 0 for i in files),
        "encrypted": archive.needs_password(),
    }
    return Extraction(fields=compact(fields), details=compact(details))


# --- zstd -----------------------------------------------------------------


def _zstd(source: Source) -> Extraction:
    head = source.head
    if len(head) < 6 or head[:4] != b"\x28\xb5\x2f\xfd":
        raise ExtractionFailed("archive: not a zstd frame", code="corrupt")
    descriptor = head[4]
    fcs_flag, single, checksum, dict_flag = (
        descriptor >> 6,
        (descriptor >> 5) & 1,
        (descriptor >> 2) & 1,
        descriptor & 3,
    )
    if descriptor & 0x08:
        raise ExtractionFailed("archive: zstd frame header has the reserved bit set", code="corrupt")
    pos = 5
    window = None
    if not single:
        exponent, mantissa = head[pos] >> 3, head[pos] & 7
        base = 1 << (10 + exponent)
        window = base + (base // 8) * mantissa
        pos += 1
    dict_len = (0, 1, 2, 4)[dict_flag]
    dictionary = int.from_bytes(head[pos : pos + dict_len], "little") if dict_len else None
    pos += dict_len
    fcs_len = (1 if single else 0, 2, 4, 8)[fcs_flag]
    content = int.from_bytes(head[pos : pos + fcs_len], "little") if fcs_len else None
    if content is not None and fcs_len == 2:
        content += 256
    details = {
        "format": "zstd",
        "window_size": window,
        "dictionary_id": dictionary or None,
        "checksum": bool(checksum),
        "content_size_known": content is not None,
    }
    return Extraction(fields=compact({"uncompressed_size": content}), details=compact(details))


def _is(*types: str) -> Callable[[str, bytes], bool]:
    return lambda mime, _: mime in types


def _magic(*signatures: bytes) -> Callable[[str, bytes], bool]:
    return lambda _, head: head.startswith(signatures)


_HANDLERS: tuple[tuple[Callable[[str, bytes], bool], Callable[[Source], Extraction]], ...] = (
    (_is("application/zip", "application/x-zip-compressed"), _zip),
    (_is("application/x-tar"), _tar),
    (_is("application/x-gzip", "application/gzip"), _gzip),
    (_is("application/bzip2", "application/x-bzip2"), _bzip2),
    (_is("application/x-7z-compressed"), _sevenzip),
    (_is("application/x-rar-compressed", "application/vnd.rar", "application/x-rar"), _rar),
    (_is("application/zstd", "application/x-zstd"), _zstd),
    (_is("application/x-xz"), _xz),
    (_magic(b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"), _zip),
    (_magic(b"\x1f\x8b"), _gzip),
    (_magic(b"BZh"), _bzip2),
    (_magic(b"7z\xbc\xaf\x27\x1c"), _sevenzip),
    (_magic(b"Rar!\x1a\x07"), _rar),
    (_magic(b"\x28\xb5\x2f\xfd"), _zstd),
    (_magic(b"\xfd7zXZ\x00"), _xz),
)
