"""PDF: the text of each page in order, through PDFium, and through pypdf where PDFium cannot open the file.

PDFium (Chromium's PDF engine, BSD/Apache-2.0, through `pypdfium2`) lays
text out in C++: on the corpus's 36 PDFs it took 0.31 s of CPU where pypdf's
pure-Python content-stream interpreter took 4.3 s, and it reads pages pypdf
gives up on. Its manylinux2014 wheel ships one self-contained `libpdfium.so`
(8.8 MB unpacked, 4 MB zipped) that links only glibc (<= GLIBC_2.16),
libgcc_s and the loader, all in the Lambda python3.13 image (see
`deploy.lambda_image`); it is loaded through ctypes, like libmagic.

PDFium reads the file through the reader's C-level buffer (so the sink's
read budget counts what it reads) and tries the empty user password itself;
a file that needs a real password yields no text, as before. A file PDFium
refuses as malformed goes to pypdf's lenient parser, which repairs some of
those, so the engine change loses no text; where extraction already had to
repair the file, that parse is reused (`RangedReader.parsed`), not redone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from pypdf import PdfReader

from chalicelib.extraction.extractors.pdf import REPAIRED
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Sink

_EVERYWHERE = (-1e9, -1e9, 1e9, 1e9)
"""Bounds (left, bottom, right, top) around any page: text outside the crop box is text of the file too."""
_LINE_END_HYPHEN = "\x02"
"""What PDFium puts for a hyphen that ends a line (the line break dropped): written back as the page shows it."""


_ONE_AT_A_TIME = threading.Lock()
"""PDFium may not be called from two threads at once, not even for two documents: "Doing so would crash or corrupt
the process" (https://pypdfium2-team.github.io/pypdfium2/python_api.html, "Incompatibility with Threading").
The sandbox runs one job per worker process; this lock covers in-process extraction (DOCPIPE_SANDBOX=0) in a
threaded host such as the local stack's pumps."""


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    with _ONE_AT_A_TIME:
        try:
            pdf = pdfium.PdfDocument(reader.buffered())
        except pdfium.PdfiumError as exc:
            refused = exc.err_code != pdfium_c.FPDF_ERR_PASSWORD  # a user password is needed: no text
        else:
            try:
                _add_pages(sink, len(pdf), lambda number: _page_text(pdf, number))
            finally:
                pdf.close()
            return
    if refused:
        _text_by_pypdf(reader, sink)


def _add_pages(sink: Sink, count: int, page_text: Callable[[int], str]) -> None:
    for number in range(count):
        if number >= sink.budget.max_parts:
            sink.add("\n")
            sink.truncated = True
            return
        sink.check()
        sink.add(page_text(number).strip() + "\n\n")


def _page_text(pdf: Any, number: int) -> str:
    try:
        page = pdf[number]
    except pdfium.PdfiumError:  # one damaged page must not hide the others
        return ""
    try:
        textpage = page.get_textpage()
        try:
            left, bottom, right, top = _EVERYWHERE
            return str(textpage.get_text_bounded(left, bottom, right, top)).replace(_LINE_END_HYPHEN, "-\n")
        finally:
            textpage.close()
    except pdfium.PdfiumError:
        return ""
    finally:
        page.close()


def _text_by_pypdf(reader: RangedReader, sink: Sink) -> None:
    pdf = reader.parsed.get(REPAIRED) or PdfReader(reader.buffered(), strict=False)
    if pdf.is_encrypted and not _opens(pdf):
        return  # a user password is needed: no text
    pages = pdf.pages
    _add_pages(sink, len(pages), lambda number: _pypdf_page_text(pages[number]))


def _opens(pdf: Any) -> bool:
    try:
        return bool(pdf.decrypt(""))
    except Exception:
        return False


def _pypdf_page_text(page: Any) -> str:
    try:
        return str(page.extract_text() or "")
    except Exception:  # one damaged page must not hide the others
        return ""
