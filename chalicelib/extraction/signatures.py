"""A file's type from binary signatures, refined by looking inside containers.

The head names most formats; where it names only a container, the seekable
reader looks inside, reading little: the ZIP central directory (`mimetype`,
`[Content_Types].xml`), the OLE2 directory (olefile), ISOBMFF brands and track
handlers, RIFF/FORM forms, EBML doc types, Ogg codecs, PNG chunks (APNG),
TIFF IFD0 (DNG, BigTIFF). Each check answers in ExifTool's MIMEType spelling,
or None when the bytes are not its format.
"""

from __future__ import annotations

import contextlib
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, cast

import olefile  # type: ignore[import-untyped]

from chalicelib.extraction import isobmff
from chalicelib.extraction.extensions import OOXML
from chalicelib.extraction.reader import RangedReader


@dataclass(frozen=True)
class Match:
    """What a signature found; `encrypted` when the content is sealed (then the name told the format)."""

    mime_type: str
    encrypted: bool = False


# main part content type in [Content_Types].xml -> OOXML key
_OOXML_MAIN = {
    "wordprocessingml.document.main": "docx",
    "ms-word.document.macroenabled.main": "docm",
    "wordprocessingml.template.main": "dotx",
    "ms-word.template.macroenabledtemplate.main": "dotm",
    "spreadsheetml.sheet.main": "xlsx",
    "ms-excel.sheet.macroenabled.main": "xlsm",
    "ms-excel.sheet.binary.macroenabled.main": "xlsb",
    "spreadsheetml.template.main": "xltx",
    "ms-excel.template.macroenabled.main": "xltm",
    "presentationml.presentation.main": "pptx",
    "ms-powerpoint.presentation.macroenabled.main": "pptm",
    "presentationml.slideshow.main": "ppsx",
    "ms-powerpoint.slideshow.macroenabled.main": "ppsm",
    "presentationml.template.main": "potx",
    "ms-powerpoint.template.macroenabled.main": "potm",
}

_SIMPLE: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"8BPS", "application/vnd.adobe.photoshop"),
    (0, b"fLaC", "audio/flac"),
    (0, b"FLV\x01", "video/x-flv"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/x-rar-compressed"),
    (0, b"\x1f\x8b", "application/x-gzip"),
    (0, b"BZh", "application/bzip2"),
    (0, b"\x28\xb5\x2f\xfd", "application/zstd"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"{\\rtf", "text/rtf"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
    (0, b"%!PS", "application/postscript"),
    (0, b"wOFF", "font/woff"),
    (0, b"wOF2", "font/woff2"),
    (0, b".snd", "audio/basic"),
    (257, b"ustar", "application/x-tar"),
)


def signature(head: bytes, reader: RangedReader, ext: str | None) -> Match | None:
    for offset, magic, mime in _SIMPLE:
        if head.startswith(magic, offset):
            return Match(mime)
    for check in _CHECKS:
        found = check(head, reader, ext)
        if found is not None:
            return found if isinstance(found, Match) else Match(found)
    return None


def _pdf(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    return "application/pdf" if b"%PDF-" in head[:1024] else None


def _jpeg(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    # MPO (multi-picture JPEG) is image/jpeg for ExifTool too
    return "image/jpeg" if head.startswith(b"\xff\xd8\xff") else None


def _png(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    for _ in range(64):  # chunks before the first IDAT: IHDR, acTL, colour info, text...
        reader.seek(pos)
        header = reader.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind == b"acTL":
            return "image/apng"
        if kind == b"IDAT":
            break
        pos += 12 + length
    return "image/png"


def _tiff(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    order = head[:2]
    if order not in (b"II", b"MM") or len(head) < 8:
        return None
    fmt = "<" if order == b"II" else ">"
    version = struct.unpack(fmt + "H", head[2:4])[0]
    if version == 43:
        return "image/x-tiff-big"
    if version != 42:
        return None
    if head[8:10] == b"CR":
        return "image/x-canon-cr2"
    return (
        "image/x-adobe-dng" if _ifd0_has(reader, fmt, struct.unpack(fmt + "I", head[4:8])[0], 0xC612) else "image/tiff"
    )


def _ifd0_has(reader: RangedReader, fmt: str, offset: int, tag: int) -> bool:
    reader.seek(offset)
    raw = reader.read(2)
    if len(raw) < 2:
        return False
    count = min(struct.unpack(fmt + "H", raw)[0], 1024)
    entries = reader.read(12 * count)
    return any(struct.unpack_from(fmt + "H", entries, i)[0] == tag for i in range(0, len(entries) - 11, 12))


def _bmp_ico(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if head.startswith(b"BM") and len(head) >= 18:
        dib = struct.unpack("<I", head[14:18])[0]
        if dib in (12, 16, 40, 52, 56, 64, 108, 124):
            return "image/bmp"
    if head.startswith((b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")) and len(head) >= 22:
        count = struct.unpack("<H", head[4:6])[0]
        if 0 < count < 256 and head[9] == 0:
            return "image/x-icon"
    return None


def _riff(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if head.startswith(b"RIFF") or head.startswith(b"RIFX"):
        return {b"WAVE": "audio/x-wav", b"AVI ": "video/x-msvideo", b"WEBP": "image/webp"}.get(head[8:12])
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/x-aiff"
    return None


def _ogg(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if not head.startswith(b"OggS") or len(head) < 28:
        return None
    payload = head[27 + head[26] : 27 + head[26] + 8]
    return "video/ogg" if payload.startswith(b"\x80theora") else "audio/ogg"


def _ebml(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    at = head.find(b"\x42\x82", 4, 64)
    if at >= 0 and head[at + 2 : at + 3]:
        length = head[at + 2] & 0x7F
        if head[at + 3 : at + 3 + length] == b"webm":
            return "video/webm"
    return "video/x-matroska"


_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_VIDEO = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
_ASF_AUDIO = bytes.fromhex("409e69f84d5bcf11a8fd00805f5c442b")


def _asf(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if not head.startswith(_ASF):
        return None
    if _ASF_VIDEO in head:
        return "video/x-ms-wmv"
    return "audio/x-ms-wma" if _ASF_AUDIO in head else "video/x-ms-asf"


def _mpeg_audio(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if head.startswith(b"ID3") and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        reader.seek(10 + size)
        return "audio/flac" if reader.read(4) == b"fLaC" else "audio/mpeg"
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] != 0xFE:  # FF FE: a UTF-16 BOM
        if head[1] & 0xF6 == 0xF0:
            return "audio/aac"
        layer, bitrate, rate = (head[1] >> 1) & 3, head[2] >> 4, (head[2] >> 2) & 3
        if layer and bitrate not in (0, 15) and rate != 3:
            return "audio/mpeg"
    return None


def _isobmff(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    kind = head[4:8]
    if kind != b"ftyp":
        return "video/quicktime" if kind in (b"moov", b"mdat", b"wide", b"pnot") else None
    size = struct.unpack(">I", head[:4])[0]
    brands = [head[i : i + 4] for i in range(16, min(size, len(head), 256), 4)]
    return _brand(head[8:12], brands, reader)


_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif-sequence",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"F4A ": "audio/mp4",
    b"M4V ": "video/x-m4v",
    b"M4VH": "video/x-m4v",
    b"M4VP": "video/x-m4v",
    b"crx ": "image/x-canon-cr3",
    b"jp2 ": "image/jp2",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}


def _brand(major: bytes, compatible: list[bytes], reader: RangedReader) -> str:
    known = _BRANDS.get(major)
    if known is not None:
        return known
    for brand in compatible:
        if brand in (b"heic", b"avif", b"mif1") and _BRANDS[brand].startswith("image/"):
            return _BRANDS[brand]
    handlers = _handlers(reader)
    return "audio/mp4" if b"soun" in handlers and b"vide" not in handlers else "video/mp4"


_TRACK_PATH = ("moov", "trak", "mdia")


def _handlers(reader: RangedReader, limit: int = 4096) -> set[bytes]:
    """Handler types (`vide`, `soun`...) of the tracks in `moov`, walking box headers only (at most `limit`)."""
    found: set[bytes] = set()
    seen = 0

    def walk(start: int, end: int, depth: int) -> None:
        nonlocal seen
        for box in isobmff.boxes(cast(BinaryIO, reader), start, end):
            seen += 1
            if seen > limit:
                return
            if depth < len(_TRACK_PATH) and box.kind == _TRACK_PATH[depth]:
                walk(box.payload_start, box.end, depth + 1)
            elif depth == len(_TRACK_PATH) and box.kind == "hdlr":
                reader.seek(box.payload_start + 8)
                found.add(reader.read(4))

    with contextlib.suppress(isobmff.BoxError):  # a broken box ends the walk; what was found still counts
        walk(0, reader.size, 0)
    return found


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _ole(head: bytes, reader: RangedReader, ext: str | None) -> Match | str | None:
    if not head.startswith(_OLE):
        return None

    try:
        reader.seek(0)
        with olefile.OleFileIO(reader) as ole:
            root = {entry[0] for entry in ole.listdir(streams=True, storages=True) if entry}
            clsid = (ole.root.clsid or "").upper() if ole.root is not None else ""
    except Exception:
        return "application/x-ole-storage"
    return _ole_kind(root, clsid, ext)


def _ole_kind(root: set[str], clsid: str, ext: str | None) -> Match | str:
    if {"EncryptionInfo", "EncryptedPackage"} <= root:
        # the package's own type is inside the encrypted stream: only the name can tell it
        return Match(OOXML.get(ext or "", "application/x-ole-storage"), encrypted=True)
    if "WordDocument" in root:
        return "application/msword"
    if "Workbook" in root or "Book" in root:
        return "application/vnd.ms-excel"
    if "PowerPoint Document" in root:
        return "application/vnd.ms-powerpoint"
    if any(name.startswith("__substg1.0_") for name in root):
        return "application/vnd.ms-outlook"
    if "VisioDocument" in root:
        return "application/vnd.visio"
    if "Quill" in root:
        return "application/x-mspublisher"
    if clsid.startswith("56616700-C154-11CE-8553-00AA00A1F95B"[:8]):
        return "image/vnd.fpx"
    return "application/x-ole-storage"


_ZIP_CD_CAP = 16 * 1024 * 1024


def _zip(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"PK00PK\x03\x04")):
        return None
    quick = _first_member_mimetype(head)
    if quick:
        return quick
    names = _zip_names(reader)
    if names is None:
        return "application/zip"
    return _zip_kind(reader, names) or "application/zip"


def _first_member_mimetype(head: bytes) -> str | None:
    """ODF/EPUB put a stored `mimetype` member first: read it straight from the head."""
    if not head.startswith(b"PK\x03\x04") or len(head) < 30:
        return None
    method, _, _, _, size, _, name_len, extra_len = struct.unpack("<HHHIIIHH", head[8:30])
    if method != 0 or head[30 : 30 + name_len] != b"mimetype" or not 0 < size < 200:
        return None
    start = 30 + name_len + extra_len
    value = head[start : start + size].decode("ascii", "replace").strip()
    return value if value.startswith("application/") else None


def _zip_names(reader: RangedReader) -> dict[str, zipfile.ZipInfo] | None:
    """The central directory's entries, or None when it is missing, broken or too big."""
    if not _central_directory_fits(reader):
        return None
    try:
        reader.seek(0)
        archive = zipfile.ZipFile(reader)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None
    return {info.filename: info for info in archive.infolist()}


def _central_directory_fits(reader: RangedReader) -> bool:
    tail_len = min(reader.size, 65536 + 22)
    reader.seek(reader.size - tail_len)
    tail = reader.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return False
    cd_size = struct.unpack("<I", tail[at + 12 : at + 16])[0]
    return cd_size == 0xFFFFFFFF or cd_size <= _ZIP_CD_CAP


def _zip_kind(reader: RangedReader, names: dict[str, zipfile.ZipInfo]) -> str | None:
    if "mimetype" in names:
        value = _member(reader, names["mimetype"], 200).decode("ascii", "replace").strip()
        if value.startswith("application/") and len(value) < 100:
            return value
    if "[Content_Types].xml" in names:
        types = _member(reader, names["[Content_Types].xml"], 256 * 1024).decode("utf-8", "replace")
        for match in re.finditer(r'ContentType="application/vnd\.(?:openxmlformats-officedocument\.)?([^"]+)"', types):
            key = match.group(1).lower().removesuffix("+xml")
            if key in _OOXML_MAIN:
                return OOXML[_OOXML_MAIN[key]]
    return _ooxml_by_names(names)


def _ooxml_by_names(names: dict[str, zipfile.ZipInfo]) -> str | None:
    if "word/document.xml" in names:
        return OOXML["docx"]
    if "xl/workbook.xml" in names:
        return OOXML["xlsx"]
    if "xl/workbook.bin" in names:
        return OOXML["xlsb"]
    if "ppt/presentation.xml" in names:
        return OOXML["pptx"]
    if "META-INF/container.xml" in names and any(n.endswith(".opf") for n in names):
        return "application/epub+zip"
    return None


def _member(reader: RangedReader, info: zipfile.ZipInfo, cap: int) -> bytes:
    """At most `cap` bytes of a member, decompressed (a bomb stops at the cap)."""
    try:
        reader.seek(0)
        with zipfile.ZipFile(reader) as archive, archive.open(info) as member:
            return member.read(cap)
    except Exception:
        return b""


def transport_packets(head: bytes) -> tuple[int, int]:
    """(packet size, sync byte offset) when the head is a run of MPEG-TS packets, else (0, 0).

    A sync byte 0x47 every 188 bytes; every 192 in M2TS (after a 4-byte
    timestamp), every 204 with Reed-Solomon parity. At least four in a row.
    """
    for step, offset in ((188, 0), (192, 4), (204, 0)):
        count = min(len(head) // step, 16)
        if count >= 4 and all(head[offset + step * index] == 0x47 for index in range(count)):
            return step, offset
    return 0, 0


def _transport_stream(head: bytes, reader: RangedReader, ext: str | None) -> str | None:
    return "video/mp2t" if transport_packets(head)[0] else None


_CHECKS: tuple[Callable[[bytes, RangedReader, str | None], Match | str | None], ...] = (
    _pdf,
    _jpeg,
    _png,
    _zip,
    _ole,
    _isobmff,
    _riff,
    _tiff,
    _ebml,
    _ogg,
    _asf,
    _bmp_ico,
    _transport_stream,
    _mpeg_audio,
)
