"""PDF: the text of each page in order, through pypdf (the empty user password is tried)."""

from __future__ import annotations

from typing import Any

from pypdf import PdfReader

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Sink


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    pdf = PdfReader(reader.buffered(), strict=False)
    if pdf.is_encrypted and not _opens(pdf):
        return  # a user password is needed: no text
    for number, page in enumerate(pdf.pages):
        if number >= sink.budget.max_parts:
            sink.add("\n")
            sink.truncated = True
            return
        sink.check()
        sink.add(_page_text(page).strip() + "\n\n")


def _opens(pdf: Any) -> bool:
    try:
        return bool(pdf.decrypt(""))
    except Exception:
        return False


def _page_text(page: Any) -> str:
    try:
        return str(page.extract_text() or "")
    except Exception:  # one damaged page must not hide the others
        return ""
