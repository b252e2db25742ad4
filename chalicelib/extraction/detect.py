"""What a file really is, from its bytes rather than its name.

libmagic on the first kilobytes is vague or wrong where it matters most: every
OOXML/ODF/EPUB file is `application/zip`, every legacy Office file
`application/x-ole-storage`, CSV and JSON `text/plain`. So detection runs in
three steps, each returning ExifTool's MIMEType spelling:

1. signatures on the head, refined by looking inside containers through the
   seekable reader: the ZIP central directory (`mimetype`, `[Content_Types].xml`),
   the OLE2 directory (olefile), ISOBMFF brands and track handlers, RIFF/FORM
   forms, EBML doc types, Ogg codecs, PNG chunks (APNG), TIFF IFD0 (DNG, BigTIFF);
2. text: decode (BOMs, UTF-16/32 without BOM, UTF-8, 8-bit), then markup
   (HTML, SVG, XMP, XML), JSON/NDJSON, e-mail, CSV/TSV with consistency checks;
3. libmagic for everything else, its spellings mapped to ExifTool's.

The file name never decides the type; it only breaks ties that bytes cannot
(a `.csv` of one column, the format inside an encrypted OOXML package) and
decides `extension_mismatch`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mimetypes
import re
import struct
import threading
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.extraction.reader import RangedReader

_local = threading.local()

# libmagic spellings -> ExifTool's MIMEType
_ALIASES = {
    "image/x-ms-bmp": "image/bmp",
    "image/vnd.microsoft.icon": "image/x-icon",
    "application/x-pdf": "application/pdf",
    "application/gzip": "application/x-gzip",
    "application/x-bzip2": "application/bzip2",
    "application/x-rar": "application/x-rar-compressed",
    "image/vnd.adobe.photoshop": "application/vnd.adobe.photoshop",
    "audio/x-m4a": "audio/mp4",
    "text/xml": "application/xml",
    "application/x-ndjson": "application/json",
    "application/x-ole-storage": "application/x-ole-storage",
}

OOXML = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "dotx": "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "dotm": "application/vnd.ms-word.template.macroEnabled.12",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    "xltx": "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    "xltm": "application/vnd.ms-excel.template.macroEnabled.12",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    "ppsm": "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
    "potx": "application/vnd.openxmlformats-officedocument.presentationml.template",
    "potm": "application/vnd.ms-powerpoint.template.macroEnabled.12",
}

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

# extensions that are right for a type although `mimetypes` does not list them
_EXTRA_EXTENSIONS: dict[str, set[str]] = {
    "image/jpeg": {"jpg", "jpeg", "jpe", "jfif", "mpo", "thm"},
    "image/tiff": {"tif", "tiff"},
    "image/x-tiff-big": {"btf", "tf8", "tif", "tiff"},
    "image/x-adobe-dng": {"dng"},
    "image/png": {"png"},
    "image/apng": {"apng", "png"},
    "image/heic": {"heic", "heif", "hif"},
    "image/heif": {"heif", "heic", "hif"},
    "image/avif": {"avif"},
    "image/x-icon": {"ico", "cur"},
    "image/svg+xml": {"svg"},
    "text/html": {"html", "htm", "xhtml", "shtml"},
    "text/plain": {"txt", "text", "log", "md", "markdown", "rst", "ini", "cfg", "conf", "srt", "asc"},
    "text/csv": {"csv", "txt"},
    "text/tab-separated-values": {"tsv", "tab", "txt"},
    "text/rtf": {"rtf"},
    "application/json": {"json", "ndjson", "jsonl", "geojson", "webmanifest"},
    "application/xml": {"xml", "xsd", "xsl", "xslt", "rss", "atom", "fodt", "fods", "fodp", "kml", "gpx", "plist"},
    "application/rdf+xml": {"rdf", "xmp", "xml", "rss"},
    "audio/mp4": {"m4a", "m4b", "m4p", "mp4", "aac"},
    "video/mp4": {"mp4", "m4v", "m4a"},
    "video/quicktime": {"mov", "qt"},
    "audio/x-wav": {"wav", "wave"},
    "audio/x-aiff": {"aif", "aiff", "aifc"},
    "audio/ogg": {"ogg", "oga", "opus", "spx"},
    "audio/flac": {"flac"},
    "audio/x-ms-wma": {"wma", "asf"},
    "video/x-ms-wmv": {"wmv", "asf"},
    "video/x-matroska": {"mkv", "mka", "mk3d"},
    "video/webm": {"webm"},
    "video/x-flv": {"flv"},
    "video/x-msvideo": {"avi"},
    "application/x-gzip": {"gz", "tgz", "svgz", "gzip"},
    "application/bzip2": {"bz2", "tbz2", "tbz"},
    "application/x-tar": {"tar"},
    "application/x-rar-compressed": {"rar"},
    "application/x-7z-compressed": {"7z"},
    "application/zstd": {"zst"},
    "application/zip": {"zip", "jar", "apk", "kmz", "xpi", "whl"},
    "application/epub+zip": {"epub"},
    "application/vnd.ms-outlook": {"msg"},
    "application/vnd.ms-excel": {"xls", "xlt"},
    "application/msword": {"doc", "dot"},
    "application/vnd.ms-powerpoint": {"ppt", "pps", "pot"},
    "application/vnd.adobe.photoshop": {"psd", "psb"},
    "message/rfc822": {"eml", "mht", "mhtml", "msg", "txt"},
    "application/mbox": {"mbox", "mbx"},
}
for _ext, _mime in OOXML.items():
    _EXTRA_EXTENSIONS.setdefault(_mime, set()).add(_ext)
_ODF = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odg": "application/vnd.oasis.opendocument.graphics",
    "odf": "application/vnd.oasis.opendocument.formula",
    "ott": "application/vnd.oasis.opendocument.text-template",
}
for _ext, _mime in _ODF.items():
    _EXTRA_EXTENSIONS.setdefault(_mime, set()).add(_ext)


@dataclass(frozen=True)
class Detection:
    mime_type: str
    description: str | None = None
    encoding: str | None = None
    encrypted: bool = False


def preload() -> None:
    """Import what detection uses, so forked children inherit it warm."""
    _magic()
    _mimetypes()
    import olefile  # type: ignore[import-untyped]  # noqa: F401


def detect(head: bytes, reader: RangedReader | None = None, filename: str = "") -> Detection:
    """Detect the type from the head; `reader` lets refinements look further in."""
    if not head:
        return Detection("application/x-empty", "empty")
    reader = reader if reader is not None else _memory_reader(head)
    ext = extension_of(filename)
    description = _describe(head)
    found = _signature(head, reader, ext)
    if found is not None:
        return Detection(found.mime_type, description, found.encoding, found.encrypted)
    text = _text(head, reader, ext)
    if text is not None:
        return Detection(text.mime_type, description, text.encoding)
    return Detection(libmagic(head).mime_type, description)


# --- libmagic -----------------------------------------------------------------------------------


def _magic() -> tuple[Any, Any]:
    pair = getattr(_local, "magic", None)
    if pair is None:
        import magic

        pair = (magic.Magic(mime=True), magic.Magic())
        _local.magic = pair
    return pair


def libmagic(head: bytes) -> Detection:
    """libmagic's MIME type (in ExifTool's spelling) and description of a buffer (thread-safe)."""
    mime, _ = _magic()
    mime_type = str(mime.from_buffer(head)) if head else "application/x-empty"
    return Detection(_ALIASES.get(mime_type, mime_type), _describe(head))


def _describe(head: bytes) -> str | None:
    try:
        return str(_magic()[1].from_buffer(head)) if head else "empty"
    except Exception:
        return None


def _memory_reader(data: bytes) -> RangedReader:
    from chalicelib.extraction.reader import bytes_reader

    return bytes_reader(data)


# --- binary signatures --------------------------------------------------------------------------

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
    (257, b"ustar", "application/x-tar"),
)


def _signature(head: bytes, reader: RangedReader, ext: str | None) -> Detection | None:
    for offset, magic, mime in _SIMPLE:
        if head.startswith(magic, offset):
            return Detection(mime)
    for check in _CHECKS:
        found = check(head, reader, ext)
        if found is not None:
            return found if isinstance(found, Detection) else Detection(found)
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


_CONTAINERS = {b"moov", b"trak", b"mdia"}


def _handlers(reader: RangedReader, limit: int = 4096) -> set[bytes]:
    """Handler types (`vide`, `soun`...) of the tracks in `moov`, walking box headers only."""
    found: set[bytes] = set()
    stack = [(0, reader.size)]
    steps = 0
    while stack and steps < limit:
        pos, end = stack.pop()
        while pos + 8 <= end and steps < limit:
            steps += 1
            reader.seek(pos)
            header = reader.read(16)
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header[:8])
            skip = 8
            if size == 1 and len(header) == 16:
                size, skip = struct.unpack(">Q", header[8:16])[0], 16
            elif size == 0:
                size = end - pos
            if size < skip:
                break
            if kind in _CONTAINERS:
                stack.append((pos + skip, min(end, pos + size)))
            elif kind == b"hdlr":
                reader.seek(pos + skip + 8)
                found.add(reader.read(4))
            pos += size
    return found


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _ole(head: bytes, reader: RangedReader, ext: str | None) -> Detection | str | None:
    if not head.startswith(_OLE):
        return None
    import olefile

    try:
        reader.seek(0)
        with olefile.OleFileIO(reader) as ole:
            root = {entry[0] for entry in ole.listdir(streams=True, storages=True) if entry}
            clsid = (ole.root.clsid or "").upper() if ole.root is not None else ""
    except Exception:
        return "application/x-ole-storage"
    return _ole_kind(root, clsid, ext)


def _ole_kind(root: set[str], clsid: str, ext: str | None) -> Detection | str:
    if {"EncryptionInfo", "EncryptedPackage"} <= root:
        # the package's own type is inside the encrypted stream: only the name can tell it
        return Detection(OOXML.get(ext or "", "application/x-ole-storage"), encrypted=True)
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


_CHECKS: tuple[Callable[[bytes, RangedReader, str | None], Detection | str | None], ...] = (
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
    _mpeg_audio,
)


# --- text -----------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13, 27, 8}) + b"\x7f"
_TEXT_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    complete: bool


def decode_text(data: bytes, complete: bool) -> Decoded | None:
    """Decode a buffer as text, or None when it looks binary. `complete`: data is the whole file."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _decode(data[len(bom) :], encoding, complete)
            return Decoded(text, encoding + "-bom" if encoding == "utf-8" else encoding, complete) if text else None
    wide = _wide_encoding(data)
    if wide:
        text = _decode(data, wide, complete)
        return Decoded(text, wide, complete) if text else None
    if b"\x00" in data or _control_ratio(data) > 0.05:
        return None
    text = _decode(data, "utf-8", complete)
    if text is not None:
        return Decoded(text, "ascii" if data.isascii() else "utf-8", complete)
    return Decoded(data.decode("cp1252", "replace"), "cp1252", complete)


def _decode(data: bytes, encoding: str, complete: bool) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        text = decoder.decode(data, final=complete)
    except UnicodeDecodeError:
        return None
    if any(ch in text for ch in "\x00\x01\x02\x03\x04\x05\x06"):
        return None
    return text


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, from where the zero bytes fall."""
    sample = data[:4096]
    n = len(sample) - len(sample) % 4
    if n < 8:
        return None
    zeros = [sum(1 for i in range(k, n, 4) if sample[i] == 0) for k in range(4)]
    quarter = n // 4
    if zeros[1] > 0.9 * quarter and zeros[2] > 0.9 * quarter and zeros[3] > 0.9 * quarter:
        return "utf-32-le"
    if zeros[0] > 0.9 * quarter and zeros[1] > 0.9 * quarter and zeros[2] > 0.9 * quarter:
        return "utf-32-be"
    odd, even = zeros[1] + zeros[3], zeros[0] + zeros[2]
    if odd > 0.6 * 2 * quarter and even < 0.1 * 2 * quarter:
        return "utf-16-le"
    if even > 0.6 * 2 * quarter and odd < 0.1 * 2 * quarter:
        return "utf-16-be"
    return None


def _control_ratio(data: bytes) -> float:
    sample = data[:4096]
    return sum(sample.count(bytes([c])) for c in _CONTROL) / max(1, len(sample))


def _text(head: bytes, reader: RangedReader, ext: str | None) -> Detection | None:
    complete = len(head) >= reader.size
    sample = head
    if not complete and len(head) < _TEXT_SNIFF_BYTES:
        reader.seek(0)
        sample = reader.read(_TEXT_SNIFF_BYTES)
        complete = len(sample) >= reader.size
    decoded = decode_text(sample, complete)
    if decoded is None:
        return None
    return Detection(classify_text(decoded.text, complete, ext), encoding=decoded.encoding)


def classify_text(text: str, complete: bool, ext: str | None = None) -> str:
    """The type of a decoded text: markup, JSON, e-mail, CSV/TSV or plain."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("<"):
        markup = _markup(body)
        if markup:
            return markup
    if body.startswith(("{", "[")) and _is_json(body, complete):
        return "application/json"
    mail = _mail(body, ext)
    if mail:
        return mail
    delimited = _delimited(text, complete, ext)
    return delimited or "text/plain"


_HTML_TAGS = {
    "html", "head", "body", "script", "style", "div", "p", "table", "meta", "title", "link", "a", "span",
    "br", "h1", "h2", "h3", "h4", "h5", "h6", "iframe", "form", "img", "ul", "ol", "li", "center", "font",
    "b", "i", "pre", "frameset", "base", "noscript", "section", "header", "nav", "main", "article",
}  # fmt: skip
_ELEMENT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")


def _markup(body: str) -> str | None:
    rest, xml_decl = body, False
    for _ in range(64):
        rest = rest.lstrip()
        if rest.startswith("<?"):
            xml_decl = xml_decl or rest[2:5].lower() == "xml"
            end = rest.find("?>")
            rest = rest[end + 2 :] if end >= 0 else ""
        elif rest.startswith("<!--"):
            end = rest.find("-->")
            rest = rest[end + 3 :] if end >= 0 else ""
        elif rest[:9].upper() == "<!DOCTYPE":
            if rest[9:].lstrip()[:4].lower() == "html":
                return "text/html"
            rest = _skip_doctype(rest)
        else:
            break
    match = _ELEMENT.match(rest)
    if not match:
        return "application/xml" if xml_decl else None
    name = match.group(1)
    local = name.rsplit(":", 1)[-1].lower()
    if local == "html":
        return "text/html"
    if local == "svg":
        return "image/svg+xml"
    if name in ("x:xmpmeta", "x:xapmeta") or name == "rdf:RDF":
        return "application/rdf+xml"
    if not xml_decl and name.lower() in _HTML_TAGS:
        return "text/html"
    return "application/xml"


def _skip_doctype(rest: str) -> str:
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ">" and depth <= 0:
            return rest[i + 1 :]
    return ""


def _is_json(body: str, complete: bool) -> bool:
    try:
        json.loads(body)
        return True
    except RecursionError:
        return True
    except ValueError as exc:
        error = exc
    if complete and _lenient_json(body):
        return True
    lines = [line for line in body.splitlines()[:5] if line.strip()]
    if len(lines) >= 2 and all(_json_line(line) for line in lines[: -1 if not complete else None]):
        return True  # NDJSON / JSON Lines
    if complete:
        return False
    pos = getattr(error, "pos", 0)
    return bool(pos >= len(body) - 2048 and body[1:].lstrip()[:1] in set('"{[]}-0123456789tfn'))


def _lenient_json(body: str) -> bool:
    """JSON that only trailing commas keep from parsing (as many writers produce)."""
    fixed = re.sub(r",(\s*[}\]])", r"\1", body)
    if fixed == body:
        return False
    try:
        json.loads(fixed)
    except (ValueError, RecursionError):
        return False
    return True


def _json_line(line: str) -> bool:
    line = line.strip()
    if not line.startswith(("{", "[")):
        return False
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40}):[ \t]?(.*)$")
_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "mime-version",
    "content-type", "reply-to", "delivered-to", "x-mailer", "sender", "in-reply-to", "references",
    "dkim-signature", "authentication-results", "x-originating-ip", "thread-topic", "user-agent",
}  # fmt: skip


def _mail(body: str, ext: str | None) -> str | None:
    first, _, rest = body.partition("\n")
    if re.match(r"From \S+.*\d{4}", first):
        if ext not in ("eml", "msg"):
            return "application/mbox"
        body = rest
    names: set[str] = set()
    for line in body.splitlines()[:40]:
        if not line.strip():
            break
        if line[:1] in " \t":
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            return None
        names.add(match.group(1).lower())
    known = names & _MAIL_HEADERS
    if len(known) >= 2 and (known & {"from", "received", "message-id", "return-path", "to", "date"}):
        return "message/rfc822"
    return None


_DELIMITERS = (",", "\t", ";", "|")


def _delimited(text: str, complete: bool, ext: str | None) -> str | None:
    lines = text.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:200]
    best: tuple[float, str] | None = None
    for delimiter in _DELIMITERS:
        score = _consistency(lines, delimiter)
        if score and (best is None or score > best[0]):
            best = (score, delimiter)
    if best is not None:
        return "text/tab-separated-values" if best[1] == "\t" and ext != "csv" else "text/csv"
    if ext in ("csv", "tsv") and text.strip():
        return "text/csv" if ext == "csv" else "text/tab-separated-values"
    return None


def _consistency(lines: list[str], delimiter: str) -> float:
    """A score > 0 when most records split into the same number (≥ 2) of fields."""
    try:
        rows = [row for row in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter) if row]
    except csv.Error:
        return 0.0
    if len(rows) < 2:
        return 0.0
    widths = Counter(len(row) for row in rows)
    width, count = widths.most_common(1)[0]
    share = count / len(rows)
    if width < 2 or share < 0.9 or (len(rows) < 3 and share < 1):
        return 0.0
    cells = [cell for row in rows for cell in row]
    if sum(len(cell) for cell in cells) / max(1, len(cells)) > 60:
        return 0.0  # prose with commas, not fields
    return share * min(width, 20)


# --- names ----------------------------------------------------------------------------------------


def extension_of(filename: str) -> str | None:
    """The lower-case extension of a name, or None (no dot, hidden file, odd characters)."""
    base = filename.rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return None
    ext = base.rsplit(".", 1)[-1].lower()
    return ext if 0 < len(ext) <= 10 and ext.isalnum() else None


def _mimetypes() -> mimetypes.MimeTypes:
    """Python's built-in table only: the same answers on every machine, no /etc/mime.types read."""
    table = getattr(_mimetypes, "table", None)
    if table is None:
        table = mimetypes.MimeTypes(filenames=())
        _mimetypes.table = table  # type: ignore[attr-defined]
    return table


def _types_for(extension: str) -> set[str]:
    types = {mime for mime, exts in _EXTRA_EXTENSIONS.items() if extension in exts}
    claimed, _ = _mimetypes().guess_type(f"x.{extension}", strict=False)
    if claimed:
        types.add(_ALIASES.get(claimed, claimed))
    return types


def extension_mismatch(mime_type: str, extension: str | None) -> bool | None:
    """True when the name claims a type the content is not; None when unknowable.

    An extension no table knows (".testfile", ".bin", ".dat") claims nothing: None.
    """
    if extension is None:
        return None
    claimed = _types_for(extension)
    if not claimed or extension in ("bin", "dat", "tmp", "data"):
        return None
    if mime_type in claimed:
        return False
    valid = set(_EXTRA_EXTENSIONS.get(mime_type, set()))
    valid.update(e.lstrip(".") for e in _mimetypes().guess_all_extensions(mime_type, strict=False))
    if extension in valid:
        return False
    # a .txt holding CSV, e-mail or HTML is still text
    return not (mime_type.startswith("text/") and extension in _EXTRA_EXTENSIONS["text/plain"])
