"""Legacy Office (doc/xls/ppt) and Outlook MSG: OLE2 compound files read with olefile.

olefile reads the header, the sector tables and the directory; the property
sets (SummaryInformation, DocumentSummaryInformation) and the MSG property
streams are small. The big streams (WordDocument, Workbook) are never loaded
whole: only their first sectors are walked, to find the Word FIB's encryption
bit, and Excel's FILEPASS and BOUNDSHEET records (sheet names). An encrypted
document is reported as encrypted=true with whatever its unencrypted property
sets still tell, never as a failure.
"""

from __future__ import annotations

import codecs
import re
import struct
from datetime import UTC, datetime, timedelta
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import olefile  # type: ignore[import-untyped]

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_STREAM_HEAD = 1024 * 1024
MAX_PROPERTY_STREAM = 256 * 1024
MAX_SHEETS = 200
MAX_ATTACHMENTS = 50
MAX_RECIPIENTS = 200
MAX_TEXT = 1024

_XLS_BOF, _XLS_EOF, _XLS_FILEPASS, _XLS_BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
_PPT_ENCRYPTED_TOKEN = 0xF3D1C4DF


def extract(source: Source) -> Extraction:
    if not source.head.startswith(OLE_MAGIC):
        if source.mime_type == "application/encrypted":
            raise ExtractionFailed("ole: an encrypted file of unknown kind", code="encrypted")
        raise ExtractionFailed("ole: not an OLE compound file", code="corrupt")
    ole = open_ole(source, "ole")
    try:
        if ole.exists("__properties_version1.0") or ole.exists("__substg1.0_0037001F"):
            return _msg(ole)
        return _office(ole)
    finally:
        ole.close()


def open_ole(source: Source, family: str) -> Any:
    """An olefile view of the seekable reader, or a `corrupt` failure."""
    try:
        return olefile.OleFileIO(source.file)
    except Exception as exc:  # olefile raises OSError, struct.error, IndexError ... on damaged files
        raise ExtractionFailed(f"{family}: not a readable OLE compound file ({exc})", code="corrupt") from exc


def encryption_scheme(ole: Any) -> str | None:
    """'agile', 'standard' or 'extensible' from the EncryptionInfo version (MS-OFFCRYPTO 2.3.4)."""
    try:
        head = ole.openstream("EncryptionInfo").read(4)
    except Exception:
        return None
    if len(head) < 4:
        return None
    major, minor = int.from_bytes(head[:2], "little"), int.from_bytes(head[2:4], "little")
    if (major, minor) == (4, 4):
        return "agile"
    if minor == 2 and major in (2, 3, 4):
        return "standard"
    if minor == 3 and major in (3, 4):
        return "extensible"
    return f"version {major}.{minor}"


# --- Bounded stream access ------------------------------------------------------------


def stream_head(ole: Any, name: str, limit: int = MAX_STREAM_HEAD) -> bytes | None:
    """The first `limit` bytes of a stream, without loading a big stream whole."""
    if not ole.exists(name):
        return None
    size = ole.get_size(name)
    if size < ole.minisectorcutoff or size <= limit:
        data: bytes = ole.openstream(name).read(limit)
        return data
    entry = ole.direntries[ole._find(name)]
    return _walk_fat(ole, entry.isectStart, min(size, limit))


def _walk_fat(ole: Any, sector: int, wanted: int) -> bytes:
    chunks: list[bytes] = []
    got, seen = 0, set()
    size = ole.sectorsize
    while got < wanted and 0 <= sector < len(ole.fat) and sector not in seen:
        seen.add(sector)
        ole.fp.seek(size * (sector + 1))
        chunk = ole.fp.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        sector = ole.fat[sector]
    return b"".join(chunks)[:wanted]


# --- Office documents -----------------------------------------------------------------


def _office(ole: Any) -> Extraction:
    warnings: list[str] = []
    if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
        details = {"document_kind": "ooxml", "encryption": encryption_scheme(ole)}
        warnings.append("ole: an encrypted Office Open XML package; its metadata cannot be read without the password")
        return Extraction(fields={"encrypted": True}, details=compact(details), warnings=warnings)
    fields, details = _property_sets(ole, warnings)
    kind, encrypted = _document_kind(ole, details)
    details["document_kind"] = kind
    fields["encrypted"] = encrypted
    if encrypted:
        warnings.append("ole: the document is encrypted; only its unencrypted properties could be read")
    if kind == "document" and not fields.get("page_count") and not encrypted:
        fields["page_count"] = word_dop_pages(ole)
    if kind == "spreadsheet" and details.get("sheet_count"):
        fields["page_count"] = details["sheet_count"]
    elif kind == "presentation" and details.get("slide_count") is not None:
        fields["page_count"] = details["slide_count"]
    details["macros"] = ole.exists("Macros") or ole.exists("_VBA_PROJECT_CUR")
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


_FIB_FLAGS, _FIB_NFIB, _FIB_FC_DOP, _DOP_CPG = 0x0A, 0x02, 0x0192, 46
_WORD97_NFIB = 0x00C1
MAX_DOP_OFFSET = 192 * 1024  # the table stream is read up to the DOP: keep within the metadata read bound


def word_dop_pages(ole: Any) -> int | None:
    """Word's own page count (DOP `cPg`), for a .doc whose SummaryInformation has none.

    The FIB (Word 97 and later) names the DOP in the table stream (fcDop/lcbDop,
    the 32nd FibRgFcLcb97 pair); `cPg` is the 16-bit field at offset 46 of
    DopBase ([MS-DOC] 2.5.1, 2.7.2). Only the DOP is read, never the text.
    """
    fib = stream_head(ole, "WordDocument", 1024) or b""
    if len(fib) < _FIB_FC_DOP + 8 or fib[:2] != b"\xec\xa5":
        return None
    (nfib,) = struct.unpack_from("<H", fib, _FIB_NFIB)
    (flags,) = struct.unpack_from("<H", fib, _FIB_FLAGS)
    offset, length = struct.unpack_from("<II", fib, _FIB_FC_DOP)
    if nfib < _WORD97_NFIB or not _DOP_CPG + 2 <= length <= 4096 or offset > MAX_DOP_OFFSET:
        return None
    table = stream_head(ole, "1Table" if flags & 0x0200 else "0Table", offset + _DOP_CPG + 2) or b""
    if len(table) < offset + _DOP_CPG + 2:
        return None
    (pages,) = struct.unpack_from("<H", table, offset + _DOP_CPG)
    return pages or None


def _document_kind(ole: Any, details: dict[str, Any]) -> tuple[str | None, bool]:
    fallback_sheets = details.pop("first_part_titles", None) or []
    if ole.exists("WordDocument"):
        return "document", _word_encrypted(stream_head(ole, "WordDocument", 64) or b"")
    for name in ("Workbook", "Book"):
        if ole.exists(name):
            encrypted, sheets = _xls_globals(stream_head(ole, name) or b"", details.get("codepage"))
            sheets = sheets or fallback_sheets
            if sheets:
                details["sheet_names"] = sheets[:MAX_SHEETS]
                details["sheet_count"] = len(sheets)
            return "spreadsheet", encrypted
    if ole.exists("PowerPoint Document"):
        return "presentation", _ppt_encrypted(ole)
    return None, False


def _word_encrypted(fib: bytes) -> bool:
    """The FIB's fEncrypted bit (MS-DOC 2.5.2: FibBase flags at offset 0x0A, bit 0x0100)."""
    if len(fib) < 12 or fib[:2] != b"\xec\xa5":
        return False
    (flags,) = struct.unpack_from("<H", fib, 0x0A)
    return bool(flags & 0x0100)


def _xls_globals(data: bytes, codepage: int | None) -> tuple[bool, list[str]]:
    """Walk the workbook globals: FILEPASS means encrypted; BOUNDSHEET names the sheets."""
    encrypted, names, pos, biff8 = False, [], 0, True
    while pos + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, pos)
        body = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind == _XLS_BOF and len(body) >= 2:
            biff8 = struct.unpack_from("<H", body)[0] >= 0x0600
        elif kind == _XLS_FILEPASS:
            encrypted = True
        elif kind == _XLS_BOUNDSHEET and not encrypted:
            name = _sheet_name(body, biff8, codepage)
            if name:
                names.append(name)
        elif kind == _XLS_EOF:
            break
    return encrypted, names


def _sheet_name(body: bytes, biff8: bool, codepage: int | None) -> str | None:
    if len(body) < 8:
        return None
    count = body[6]
    if not biff8:
        return _decode(body[7 : 7 + count], codepage)
    if body[7] & 0x01:
        return body[8 : 8 + 2 * count].decode("utf-16-le", "replace")
    return body[8 : 8 + count].decode("latin-1")


def _ppt_encrypted(ole: Any) -> bool:
    """PowerPoint marks encryption in the Current User stream's header token (MS-PPT 2.3.2)."""
    if ole.exists("EncryptedSummary"):
        return True
    head = stream_head(ole, "Current User", 64) or b""
    if len(head) < 16:
        return False
    (token,) = struct.unpack_from("<I", head, 12)
    return token == _PPT_ENCRYPTED_TOKEN


def _property_sets(ole: Any, warnings: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        meta = ole.get_metadata()
    except Exception as exc:
        warnings.append(f"ole: property sets unreadable ({type(exc).__name__})")
        return {}, {}
    codepage = meta.codepage or meta.codepage_doc
    if isinstance(codepage, int):
        codepage &= 0xFFFF  # stored as a signed 16-bit value: 65001 (UTF-8) reads as -535

    def text(value: Any) -> str | None:
        return _decode(value, codepage) if isinstance(value, bytes) else None

    tool = text(meta.creating_application)
    fields = {
        "title": text(meta.title),
        "subject": text(meta.subject),
        "author": text(meta.author),
        "keywords": text(meta.keywords),
        "created": _ole_time(meta.create_time),
        "modified": _ole_time(meta.last_saved_time),
        "creator_tool": tool,
        "page_count": _count(meta.num_pages),
        "word_count": _count(meta.num_words),
    }
    details = {
        "codepage": codepage,
        "encoding": _codec(codepage),
        "comments": text(meta.comments),
        "template": text(meta.template),
        "last_modified_by": text(meta.last_saved_by),
        "revision": _to_int(text(meta.revision_number)),
        "last_printed": _ole_time(meta.last_printed),
        "character_count": _count(meta.num_chars),
        "company": text(meta.company),
        "manager": text(meta.manager),
        "category": text(meta.category),
        "line_count": _count(meta.lines),
        "paragraph_count": _count(meta.paragraphs),
        "slide_count": _count(meta.slides),
        "titles_of_parts": [t for t in (text(v) for v in (meta.titles_of_parts or [])[:MAX_SHEETS]) if t],
    }
    details["first_part_titles"] = _first_part_titles(meta.heading_pairs, details["titles_of_parts"])
    return fields, details


def _first_part_titles(pairs: Any, titles: list[str]) -> list[str]:
    """The titles under the first heading (Excel lists its worksheets first, under a localized name)."""
    if not isinstance(pairs, list) or len(pairs) < 2 or not isinstance(pairs[1], int):
        return []
    return titles[: max(0, pairs[1])]


def _ole_time(value: Any) -> str | None:
    if not isinstance(value, datetime) or value.year < 1980:
        return None
    return iso(value)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _to_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _codec(codepage: int | None) -> str | None:
    if codepage is None:
        return None
    name = {1200: "utf-16-le", 65001: "utf-8", 10000: "mac_roman"}.get(codepage, f"cp{codepage}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _decode(raw: bytes, codepage: int | None) -> str | None:
    codec = _codec(codepage) or "cp1252"
    text = raw.decode(codec, "replace").replace("\x00", "").strip()
    return text[:MAX_TEXT] or None


# --- Outlook MSG (MS-OXMSG) -----------------------------------------------------------

_PT_UNICODE, _PT_STRING8 = "001F", "001E"
_MSG_SUBJECT, _MSG_SENDER_NAME, _MSG_SENDER_EMAIL, _MSG_SENDER_SMTP = "0037", "0C1A", "0C1F", "5D01"
_MSG_DISPLAY_TO, _MSG_DISPLAY_CC, _MSG_MESSAGE_ID, _MSG_HEADERS = "0E04", "0E03", "1035", "007D"
_MSG_CLASS = "001A"
_ATTACH_LONG_NAME, _ATTACH_NAME, _ATTACH_DISPLAY = "3707", "3704", "3001"
_RECIP_NAME, _RECIP_EMAIL, _RECIP_SMTP = "3001", "3003", "39FE"
_TAG_CLIENT_SUBMIT, _TAG_DELIVERY, _TAG_RECIP_TYPE = 0x00390040, 0x0E060040, 0x0C150003
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _msg(ole: Any) -> Extraction:
    warnings: list[str] = []
    get = _msg_strings(ole, "")
    headers = HeaderParser().parsestr(get(_MSG_HEADERS) or "", headersonly=True)
    sender = _sender(get, headers)
    to, cc = _recipients(ole, get, headers)
    attachments = _attachments(ole)
    sent_at = _header_date(headers.get("Date")) or _msg_time(ole, "", (_TAG_CLIENT_SUBMIT, _TAG_DELIVERY))
    fields = {
        "subject": get(_MSG_SUBJECT),
        "from": sender,
        "to": to,
        "cc": cc,
        "sent_at": sent_at,
        "attachment_count": len(attachments),
        "encrypted": False,
    }
    details = {
        "message_id": get(_MSG_MESSAGE_ID) or _clip(headers.get("Message-ID")),
        "message_class": get(_MSG_CLASS),
        "attachment_names": [name for name in attachments if name][:MAX_ATTACHMENTS],
        "document_kind": "message",
    }
    if (details["message_class"] or "").startswith("IPM.Note.SMIME"):
        fields["encrypted"] = True
        warnings.append("ole: an S/MIME message; its body and attachments are not readable")
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _msg_strings(ole: Any, prefix: str) -> Any:
    def get(prop: str) -> str | None:
        for kind, codec in ((_PT_UNICODE, "utf-16-le"), (_PT_STRING8, "cp1252")):
            name = f"{prefix}__substg1.0_{prop}{kind}"
            if ole.exists(name):
                data = stream_head(ole, name, 64 * 1024) or b""
                text = data.decode(codec, "replace").replace("\x00", "").strip()
                return text or None
        return None

    return get


def _clip(value: Any) -> str | None:
    return str(value).strip()[:MAX_TEXT] or None if value else None


def _sender(get: Any, headers: Any) -> str | None:
    name, email = get(_MSG_SENDER_NAME), get(_MSG_SENDER_SMTP) or get(_MSG_SENDER_EMAIL)
    if email and "@" in email:
        return f"{name} <{email}>" if name and name != email else email
    return _clip(headers.get("From")) or name


def _recipients(ole: Any, get: Any, headers: Any) -> tuple[list[str], list[str]]:
    to: list[str] = []
    cc: list[str] = []
    for storage in _storages(ole, "__recip_version1.0_#")[:MAX_RECIPIENTS]:
        rget = _msg_strings(ole, storage + "/")
        name, email = rget(_RECIP_NAME), rget(_RECIP_SMTP) or rget(_RECIP_EMAIL)
        label = f"{name} <{email}>" if name and email and "@" in email and name != email else (email or name)
        kind = _recipient_type(ole, storage)
        if label and kind == 1:
            to.append(label)
        elif label and kind == 2:
            cc.append(label)
    if not to:
        to = _address_list(headers.get_all("To")) or _split_display(get(_MSG_DISPLAY_TO))
    if not cc:
        cc = _address_list(headers.get_all("Cc")) or _split_display(get(_MSG_DISPLAY_CC))
    return to, cc


def _address_list(values: Any) -> list[str]:
    out = []
    for name, addr in getaddresses([str(v) for v in values or []]):
        if addr or name:
            out.append(f"{name} <{addr}>" if name and addr else addr or name)
    return out[:MAX_RECIPIENTS]


def _split_display(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()][:MAX_RECIPIENTS]


def _storages(ole: Any, prefix: str) -> list[str]:
    found = {entry[0] for entry in ole.listdir(streams=False, storages=True) if entry and entry[0].startswith(prefix)}
    return sorted(found)


def _attachments(ole: Any) -> list[str]:
    names: list[str] = []
    for storage in _storages(ole, "__attach_version1.0_#"):
        aget = _msg_strings(ole, storage + "/")
        names.append(aget(_ATTACH_LONG_NAME) or aget(_ATTACH_NAME) or aget(_ATTACH_DISPLAY) or "")
    return names


def _properties(ole: Any, storage: str) -> dict[int, bytes]:
    """Fixed-size properties: tag -> 8-byte value, from a __properties_version1.0 stream."""
    name = f"{storage}/__properties_version1.0" if storage else "__properties_version1.0"
    data = stream_head(ole, name, MAX_PROPERTY_STREAM) or b""
    header = 32 if not storage else (8 if storage.startswith(("__recip", "__attach")) else 24)
    out: dict[int, bytes] = {}
    for pos in range(header, len(data) - 15, 16):
        (tag,) = struct.unpack_from("<I", data, pos)
        out[tag] = data[pos + 8 : pos + 16]
    return out


def _recipient_type(ole: Any, storage: str) -> int | None:
    value = _properties(ole, storage).get(_TAG_RECIP_TYPE)
    return struct.unpack_from("<I", value)[0] if value else None


def _msg_time(ole: Any, storage: str, tags: tuple[int, ...]) -> str | None:
    props = _properties(ole, storage)
    for tag in tags:
        value = props.get(tag)
        if value:
            (ticks,) = struct.unpack_from("<Q", value)
            if ticks:
                try:
                    return (_FILETIME_EPOCH + timedelta(microseconds=ticks // 10)).isoformat()
                except OverflowError:
                    return None
    return None


_SPACES = re.compile(r"\s+")


def _header_date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return iso(parsedate_to_datetime(_SPACES.sub(" ", str(value))))
    except (TypeError, ValueError, IndexError):
        return None
