"""PDF: the text of the first pages, through pypdf.

Only the first `Budget.pages` pages are asked for their text, and the text is
cut at `Budget.excerpt_chars`. A damaged file is opened leniently; a file
that needs a password shows no text. A page without extractable text (a
scan) says so rather than showing nothing.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from pypdf import PdfReader

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content, Excerpt, cut


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    reader.seek(0)
    pdf = PdfReader(cast(BinaryIO, reader), strict=False)
    if pdf.is_encrypted and not _opens_without_password(pdf):
        return Content([Excerpt("Text", "", "The file is encrypted with a password: no text is shown.")])
    warnings: list[str] = []
    total = len(pdf.pages)
    parts: list[str] = []
    size = 0
    for number in range(min(total, budget.pages)):
        try:
            text = pdf.pages[number].extract_text() or ""
        except Exception as exc:  # one damaged page must not hide the others
            warnings.append(f"rendition: text of page {number + 1} unreadable ({type(exc).__name__})")
            continue
        parts.append(f"— page {number + 1} —\n{text.strip()}")
        size += len(text)
        if size >= budget.excerpt_chars:
            break
    text, cut_off = cut("\n\n".join(parts), budget.excerpt_chars)
    shown = len(parts)
    note = f"Text of the first {shown} of {total} pages." if shown < total else None
    if cut_off:
        note = f"The first {len(text):,} characters of text."
    if not "".join(p.split("\n", 1)[-1] for p in parts).strip():
        text, note = "", "No extractable text on the first pages (a scan, or text drawn as shapes)."
    return Content([Excerpt("Text", text, note)], warnings)


def _opens_without_password(pdf: Any) -> bool:
    try:
        return bool(pdf.decrypt(""))
    except Exception:
        return False
