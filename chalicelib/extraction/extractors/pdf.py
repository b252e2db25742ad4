"""PDF: document info, XMP, page count, encryption, forms, linearization.

pypdf reads through the seekable reader: the trailer, xref and catalog, not
the page contents. Strict mode is tried first (it reads only what the xref
points at); a damaged file is reopened leniently, with a warning. The page
count comes from the page tree root's /Count, so the tree is not walked.

Encryption: a file that opens with the empty user password (common for
"owner-password only" and AES-256 files) reports everything plus
encrypted=true. A file that needs a user password is still PROCESSED, with
encrypted=true, the scheme from the trailer's /Encrypt dictionary, and a
warning: its strings and streams cannot be read, but the file is a valid PDF
and that is metadata worth recording (FAILED/encrypted would hide it).
Document info wins over XMP; XMP fills what the info dictionary lacks.

Bytes read: strict mode reads what the xref points at (a sound file's
trailer, catalog and info: kilobytes, unless the file holds huge metadata
objects). Once a damaged PDF larger than `METADATA_READ_BYTES` needs the
lenient parser, the rest of its metadata reads at most that much in all (the
reader's `fetch_budget`): a file whose cross-reference table must be rebuilt
by scanning it whole keeps its version and a warning instead of page count
and document info; the text stage, which may read more under its own cap,
repairs it for its text.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso
from chalicelib.extraction.reader import ReadBudgetExceeded

MAX_PAGES = 10_000_000
METADATA_READ_BYTES = 256 * 1024
"""What metadata may read of a large PDF (the trailer, xref and catalog of a sound file take far less)."""
REPAIRED = "pdf.repaired"
"""Name of pypdf's lenient parse of a damaged file in `RangedReader.parsed`."""

_PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(?:([Zz+\-])\s*(\d{2})?'?\s*(\d{2})?'?)?"
)


def parse_pdf_date(raw: Any) -> str | None:
    """PDF date strings (D:YYYYMMDDHHmmSSOHH'mm') to ISO 8601 with offset."""
    if not isinstance(raw, str):
        return None
    match = _PDF_DATE.match(raw.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(0)
        if sign in ("+", "-"):
            offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
            if sign == "-":
                offset = -offset
        value = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    return value.isoformat()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(value)
    except Exception:
        return None


def _open(source: Source) -> Any:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # repairs become one docpipe warning, not log noise

    try:
        return PdfReader(source.buffered(), strict=True), []
    except Exception:  # strict mode refuses any damage: retry leniently
        source.reader.seek(0)
    if source.size > METADATA_READ_BYTES:  # a repair may scan the whole file: not for metadata
        source.reader.fetch_budget = METADATA_READ_BYTES
    try:
        repaired = PdfReader(source.buffered(), strict=False)
    except Exception as exc:  # pypdf raises PdfReadError, ValueError, UnicodeDecodeError ... on hostile bytes
        raise ExtractionFailed(f"pdf: {type(exc).__name__}: {str(exc)[:200]}", code="corrupt") from exc
    source.reader.parsed[REPAIRED] = repaired  # the text, if PDFium refuses the file too, starts from this repair
    return repaired, ["pdf: repaired a damaged file structure"]


def extract(source: Source) -> Extraction:
    try:
        return _describe(source)
    except ReadBudgetExceeded:
        return _beyond_budget(source)
    finally:
        source.reader.fetch_budget = None


def _beyond_budget(source: Source) -> Extraction:
    """What a large PDF gives when its structure cannot be read within `METADATA_READ_BYTES`."""
    source.reader.parsed.pop(REPAIRED, None)  # a repair cut short is no parse for the text to reuse
    warning = (
        f"pdf: the file's structure cannot be read within the first {METADATA_READ_BYTES // 1024} KB that metadata"
        f" reads of a {source.size / 1_048_576:.1f} MB file (a damaged cross-reference table is rebuilt by"
        " scanning the whole file); page count and document info are left out"
    )
    return Extraction(fields={}, details=compact(_header_details(source.head)), warnings=[warning])


def _describe(source: Source) -> Extraction:
    reader, warnings = _open(source)
    details = _header_details(source.head)
    encrypted = bool(reader.is_encrypted)
    readable = True
    fields: dict[str, Any] = {"encrypted": encrypted}
    if encrypted:
        details["encryption"] = _encryption(reader)
        try:
            readable = bool(reader.decrypt(""))
        except Exception:
            readable = False
        if not readable:
            warnings.append("pdf: encrypted with a user password; only the structure could be read")
    if readable:
        fields["page_count"] = _page_count(reader, warnings)
        fields.update(_info(reader, warnings))
        details.update(_catalog(reader, fields, warnings))
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _header_details(head: bytes) -> dict[str, Any]:
    """What the file's first bytes say whatever its structure: its PDF version and whether it is linearized."""
    return {"version": _version(head), "linearized": b"/Linearized" in head[:2048]}


def _version(head: bytes) -> str | None:
    match = re.search(rb"%PDF-(\d\.\d)", head[:1024])
    return match.group(1).decode() if match else None


def _encryption(reader: Any) -> str | None:
    """'Standard V2 R3 128-bit' from the trailer's /Encrypt dictionary (readable without a password)."""
    try:
        encrypt = reader.trailer["/Encrypt"].get_object()
        parts = [str(encrypt.get("/Filter", "")).lstrip("/")]
        for key in ("/V", "/R"):
            if encrypt.get(key) is not None:
                parts.append(f"{key[1:]}{int(encrypt[key])}")
        bits = encrypt.get("/Length")
        if bits is None and encrypt.get("/V") in (5,):
            bits = 256
        if bits is None and encrypt.get("/V") in (1, None):
            bits = 40
        if bits is not None:
            parts.append(f"{int(bits)}-bit")
        return " ".join(part for part in parts if part) or None
    except Exception:
        return None


def _page_count(reader: Any, warnings: list[str]) -> int | None:
    """The page tree root's /Count; walking the tree only when /Count is missing or nonsense."""
    count = _tree_count(reader)
    if count is not None:
        return count
    try:
        return len(reader.pages)
    except (PdfReadError, FileNotDecryptedError, KeyError, ValueError, TypeError, AttributeError) as exc:
        warnings.append(f"pdf: page tree unreadable ({type(exc).__name__})")
        return None


def _tree_count(reader: Any) -> int | None:
    try:
        count = reader.trailer["/Root"].get_object()["/Pages"].get_object().get("/Count")
    except Exception:  # a damaged catalog: the caller walks the tree instead
        return None
    return int(count) if isinstance(count, int) and 0 < count < MAX_PAGES else None


def _info(reader: Any, warnings: list[str]) -> dict[str, Any]:
    try:
        info = reader.metadata or {}
    except Exception as exc:
        warnings.append(f"pdf: document info unreadable ({type(exc).__name__})")
        return {}
    return {
        "title": _text(info.get("/Title")),
        "author": _text(info.get("/Author")),
        "subject": _text(info.get("/Subject")),
        "keywords": _text(info.get("/Keywords")),
        "creator_tool": _text(info.get("/Creator")),
        "producer": _text(info.get("/Producer")),
        "created": parse_pdf_date(_text(info.get("/CreationDate"))),
        "modified": parse_pdf_date(_text(info.get("/ModDate"))),
    }


def _catalog(reader: Any, fields: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        root = reader.trailer["/Root"].get_object()
        fields["language"] = _text(root.get("/Lang"))
        out["xmp"] = "/Metadata" in root
        acro = root.get("/AcroForm")
        if acro is not None:
            acro = acro.get_object()
            out["form_fields"] = len(acro.get("/Fields") or [])
            out["xfa"] = "/XFA" in acro
        names = root.get("/Names")
        if names is not None and "/EmbeddedFiles" in names.get_object():
            out["embedded_files"] = True
        if out["xmp"]:
            out["pdfa"] = _xmp(reader, fields)
    except Exception as exc:
        warnings.append(f"pdf: catalog unreadable ({type(exc).__name__})")
    return out


def _xmp(reader: Any, fields: dict[str, Any]) -> str | None:
    """Fill fields the info dictionary lacks from XMP; return the PDF/A claim ('1B', '2U' ...)."""
    try:
        xmp = reader.xmp_metadata
    except Exception:
        return None
    if xmp is None:
        return None
    fallbacks = {
        "title": lambda: _lang_alt(xmp.dc_title),
        "author": lambda: "; ".join(str(c) for c in xmp.dc_creator or []) or None,
        "subject": lambda: _lang_alt(xmp.dc_description),
        "keywords": lambda: xmp.pdf_keywords or ", ".join(str(s) for s in xmp.dc_subject or []) or None,
        "creator_tool": lambda: xmp.xmp_creator_tool,
        "producer": lambda: xmp.pdf_producer,
        "created": lambda: iso(xmp.xmp_create_date),
        "modified": lambda: iso(xmp.xmp_modify_date),
        "language": lambda: next(iter(xmp.dc_language or []), None),
    }
    for name, read in fallbacks.items():
        if not fields.get(name):
            fields[name] = _safe(read)
    try:
        part, level = xmp.pdfaid_part, xmp.pdfaid_conformance
    except Exception:
        return None
    return f"{part}{(level or '').upper()}" if part else None


def _safe(read: Any) -> str | None:
    try:
        return _text(read())
    except Exception:  # one malformed XMP property must not hide the others
        return None


def _lang_alt(value: Any) -> str | None:
    """An XMP language alternative ({'x-default': ...}) to one string."""
    if isinstance(value, dict):
        return value.get("x-default") or next(iter(value.values()), None)
    return _text(value)
