"""HTML as its readable text (never its markup); XML, SVG and feeds as their character data.

An HTML page's text is usually collected by the HTML extractor while it parses
the page for its metadata (`CollectedText` in the file's reader): when the
markup decoded here is the markup it parsed, that text is used and the page is
not parsed again; otherwise (another encoding guess, a page past the
extractor's cap) it is parsed here.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

from defusedxml import ElementTree as SafeET

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.markup import HTML_TYPES, page_text
from chalicelib.extraction.text import Sink
from chalicelib.extraction.texts import streamed
from chalicelib.extraction.texts.plain import decoded


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    if metadata.get("mime_type") in HTML_TYPES:
        markup = _read(reader, sink)
        sink.add(page_text(reader, markup, sink.budget.max_bytes))
        return
    reader.seek(0)
    xml_text(reader, sink)


def _read(reader: RangedReader, sink: Sink) -> str:
    parts: list[str] = []
    size = 0
    for chunk in decoded(reader):
        parts.append(chunk)
        size += len(chunk)
        if size > sink.budget.max_bytes * 8:  # markup around text: read a few times the text cap at most
            break
    return "".join(parts)


def xml_text(stream: Any, sink: Sink) -> None:
    """Character data of an XML document, a line per element that holds text of its own."""
    try:
        _expat_xml_text(stream, sink)
    except streamed.HasDoctype:  # defusedxml's refusals and entity handling apply: read it through defusedxml
        stream.seek(0)
        defused_xml_text(stream, sink)


def _expat_xml_text(stream: Any, sink: Sink) -> None:
    """`xml_text` from expat's callbacks (`streamed`), with no element tree, for a document without a DOCTYPE.

    What `iterparse` gives: an element's line at its end (its text and its
    children's tails), a budget check per element, the elements a read ends
    before an error kept, nothing from the final flush unless the document
    ends well, and expat's error as ElementTree's `ParseError`.
    """
    lines: list[str] = []
    collector = _OwnText(lines)
    parser = streamed.parser(collector.start, collector.end, collector.data)
    try:
        streamed.feed(parser, stream, lambda: _add_lines(lines, sink))
    except expat.ExpatError as exc:
        error = ParseError(exc)
        error.code, error.position = exc.code, (exc.lineno, exc.offset)
        raise error from None


def _add_lines(lines: list[str], sink: Sink) -> None:
    for line in lines:
        sink.check()
        if line:
            sink.add(line + "\n")
    lines.clear()


class _OwnText:
    """Expat callbacks giving each element's line as `defused_xml_text` makes it, at the element's end."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.open: list[list[str]] = []  # each open element's text and its children's tails, innermost last
        self.owner: list[str] | None = None  # whose piece the character data since the last tag is
        self.segment: list[str] = []

    def _commit(self) -> None:
        if self.segment:
            if self.owner is not None:
                self.owner.append("".join(self.segment))
            self.segment = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self._commit()
        self.owner = []
        self.open.append(self.owner)  # what follows is this element's text

    def data(self, text: str) -> None:
        self.segment.append(text)

    def end(self, tag: str) -> None:
        self._commit()
        pieces = self.open.pop()
        self.lines.append(" ".join(p.strip() for p in pieces if p.strip()))
        self.owner = self.open[-1] if self.open else None  # what follows is this element's tail


def defused_xml_text(stream: Any, sink: Sink) -> None:
    """`xml_text` through defusedxml's `iterparse` (any document)."""
    for _, element in SafeET.iterparse(stream, events=("end",)):
        sink.check()
        pieces = [element.text or "", *((child.tail or "") for child in element)]
        joined = " ".join(p.strip() for p in pieces if p.strip())
        if joined:
            sink.add(joined + "\n")
        for child in list(element):  # done with the children; the element's own tail is its parent's
            element.remove(child)
