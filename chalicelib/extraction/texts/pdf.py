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

Before that repair, which rebuilds the cross-reference table by parsing every
object of the file (0.17 s of CPU for a damaged 2.8 MB file), the file's bytes
are asked whether there is a page tree to find: when every catalog's /Pages
names an object that no "N G obj" of the file holds, and no object stream
could hold it instead, the repair could only end in "Invalid object in
/Pages", so the text is left out at once with that reason.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from pypdf import PdfReader

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.pdf import REPAIRED
from chalicelib.extraction.reader import WHOLE_BUFFER_BYTES, RangedReader
from chalicelib.extraction.text import Sink

_EVERYWHERE = (-1e9, -1e9, 1e9, 1e9)
"""Bounds (left, bottom, right, top) around any page: text outside the crop box is text of the file too."""
_LINE_END_HYPHEN = "\x02"
"""What PDFium puts for a hyphen that ends a line (the line break dropped): written back as the page shows it."""
_PAGE_TREE_REFERENCE = re.compile(rb"/Pages\s*(\d{1,10})\s+(\d{1,5})\s+R")
"""A catalog's indirect /Pages entry (page nodes name their tree with /Parent, not /Pages)."""
_OBJECT_STREAM = re.compile(rb"/Type\s*/(?:ObjStm|XRef)\b")
"""Compressed objects (PDF 1.5+), which no "N G obj" header announces."""


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
    pdf = reader.parsed.get(REPAIRED) or PdfReader(_for_repair(reader), strict=False)
    if pdf.is_encrypted and not _opens(pdf):
        return  # a user password is needed: no text
    pages = pdf.pages
    _add_pages(sink, len(pages), lambda number: _pypdf_page_text(pages[number]))


def _for_repair(reader: RangedReader) -> BinaryIO:
    """The file for pypdf's repair, which reads it whole: up to one buffer's size read once, into that buffer,
    and refused at once when its bytes show that no repair can find its page tree (`_refuse_without_page_tree`).
    """
    if reader.size > WHOLE_BUFFER_BYTES:
        return reader.buffered()
    reader.seek(0)
    data = reader.read()
    _refuse_without_page_tree(data)
    return io.BytesIO(data)


def _refuse_without_page_tree(data: bytes) -> None:
    """Raise when the file's bytes show that no repair can find its page tree (see the module docstring).

    Inconclusive, so silent, for a file with object streams and one whose
    catalogs name no page tree by reference.
    """
    references = set(_PAGE_TREE_REFERENCE.findall(data))
    if not references or _OBJECT_STREAM.search(data):
        return
    if any(_holds(data, number, generation) for number, generation in references):
        return
    named = ", ".join(sorted(f"{int(n)} {int(g)}" for n, g in references))
    raise ExtractionFailed(
        f"pdf: no page tree: the catalog's /Pages names object {named}, which the file does not hold", code="corrupt"
    )


def _holds(data: bytes, number: bytes, generation: bytes) -> bool:
    """Whether an "N G obj" header of the file opens object `number` `generation`.

    The pattern starts with the literal number, which the regular expression
    engine finds by a fast scan; a look-behind for "no digit before it" would
    try a match at every byte instead (2.8 MB: 3 -> 59 ms).
    """
    header = re.compile(rb"%s\s+%s\s+obj\b" % (number, generation))
    return any(not data[match.start() - 1 : match.start()].isdigit() for match in header.finditer(data))


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
