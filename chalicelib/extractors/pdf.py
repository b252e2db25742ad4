"""PDF: document info, XMP, page count, encryption, forms, linearization.

pypdf reads through the seekable reader: the trailer, xref and catalog, not
the page contents. Encrypted files still report what can be read (page count
when the empty user password opens them, the encryption itself otherwise).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extractors.base import Extraction, Source, compact

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
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        return PdfReader(source.file, strict=True), []
    except PdfReadError:
        source.reader.seek(0)
        try:
            return PdfReader(source.file, strict=False), ["pdf: repaired a damaged file structure"]
        except PdfReadError as exc:
            raise ExtractionFailed(f"pdf: {exc}", code="corrupt") from exc


def extract(source: Source) -> Extraction:
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    reader, warnings = _open(source)
    details: dict[str, Any] = {"version": _version(source.head)}
    encrypted = bool(reader.is_encrypted)
    readable = True
    if encrypted:
        try:
            readable = bool(reader.decrypt(""))
        except Exception:
            readable = False
        if not readable:
            warnings.append("pdf: encrypted with a user password; only the structure could be read")
    fields: dict[str, Any] = {"encrypted": encrypted}
    if readable:
        try:
            fields["page_count"] = len(reader.pages)
        except (PdfReadError, FileNotDecryptedError, KeyError, ValueError, TypeError) as exc:
            warnings.append(f"pdf: page tree unreadable ({type(exc).__name__})")
        fields.update(_info(reader, warnings))
        details.update(_catalog(reader, warnings))
    details["linearized"] = b"/Linearized" in source.head[:2048]
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _version(head: bytes) -> str | None:
    match = re.match(rb"%PDF-(\d\.\d)", head.lstrip()[:16])
    return match.group(1).decode() if match else None


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


def _catalog(reader: Any, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        root = reader.trailer["/Root"]
        out["xmp"] = "/Metadata" in root
        acro = root.get("/AcroForm")
        if acro is not None:
            fields = acro.get_object().get("/Fields") or []
            out["form_fields"] = len(fields)
        if out["xmp"]:
            out["pdfa"] = _pdfa(reader)
    except Exception as exc:
        warnings.append(f"pdf: catalog unreadable ({type(exc).__name__})")
    return out


def _pdfa(reader: Any) -> str | None:
    """PDF/A conformance from XMP (pdfaid:part + pdfaid:conformance), e.g. '2B'."""
    try:
        xmp = reader.xmp_metadata
    except Exception:
        return None
    if xmp is None:
        return None
    raw = getattr(xmp, "rdf_root", None)
    text = raw.toxml() if raw is not None else ""
    part = re.search(r"pdfaid:part(?:>|=\")\s*(\d)", text)
    level = re.search(r"pdfaid:conformance(?:>|=\")\s*([A-Za-z])", text)
    if not part:
        return None
    return part.group(1) + (level.group(1).upper() if level else "")
