"""Office Open XML (docx, pptx, xlsx) and ODF: the text of the document's own XML, paragraph by paragraph.

Only the members that hold the text are read: word/document.xml, the slides
in order, the spreadsheet's shared strings, ODF's content.xml. Each is
streamed out of the ZIP (never inflated whole) with an uncompressed-size cap
and parsed incrementally: an OOXML member straight from expat's callbacks
unless it declares a document type (then, and for ODF's mixed content,
through defusedxml's `iterparse`). A member cut by the cap, or broken, gives
the text found up to that point.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from defusedxml import ElementTree as SafeET

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Full, Sink
from chalicelib.extraction.texts import streamed


@dataclass(frozen=True)
class Dialect:
    """Which elements make paragraphs, hold text, and stand for a tab, a line break or spaces."""

    paragraphs: frozenset[str]
    texts: frozenset[str] | None  # None: all character data counts (mixed content, as in ODF)
    tabs: frozenset[str] = frozenset({"tab"})
    breaks: frozenset[str] = frozenset({"br", "cr", "line-break"})
    spaces: frozenset[str] = frozenset()


WORD = Dialect(paragraphs=frozenset({"p"}), texts=frozenset({"t"}))
SLIDES = Dialect(paragraphs=frozenset({"p"}), texts=frozenset({"t"}))
SHARED_STRINGS = Dialect(paragraphs=frozenset({"si"}), texts=frozenset({"t"}))
ODF = Dialect(paragraphs=frozenset({"p", "h"}), texts=None, spaces=frozenset({"s"}))
_SLIDE = re.compile(r"^ppt/slides/slide(\d+)\.xml$")


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    with zipfile.ZipFile(reader) as package:
        names = {info.filename for info in package.infolist()}
        for member, dialect in _members(names):
            sink.check()
            member_text(package, member, dialect, sink)
            sink.add("\n")


def _members(names: set[str]) -> list[tuple[str, Dialect]]:
    if "content.xml" in names:
        return [("content.xml", ODF)]
    if "word/document.xml" in names:
        return [("word/document.xml", WORD)]
    slides = sorted((int(m.group(1)), name) for name in names if (m := _SLIDE.match(name)))
    if slides:
        return [(name, SLIDES) for _, name in slides]
    if "xl/sharedStrings.xml" in names:
        return [("xl/sharedStrings.xml", SHARED_STRINGS)]
    return []


def member_text(package: zipfile.ZipFile, name: str, dialect: Dialect, sink: Sink) -> None:
    """The paragraphs of one XML member, streamed; a cut or broken member keeps what came before."""
    if dialect.texts is not None:
        try:
            _expat_member_text(package, name, dialect, sink)
            return
        except streamed.HasDoctype:  # defusedxml's refusals and entity handling apply: read it through defusedxml
            pass
    defused_member_text(package, name, dialect, sink)


def defused_member_text(package: zipfile.ZipFile, name: str, dialect: Dialect, sink: Sink) -> None:
    """`member_text` through defusedxml's `iterparse` (any dialect, any member)."""
    local = _LocalNames()
    with package.open(name) as raw:
        stream = Capped(raw, sink.budget.max_member_bytes)
        try:
            for _, element in SafeET.iterparse(stream, events=("end",)):
                if local[element.tag] in dialect.paragraphs:
                    sink.add(paragraph(element, dialect, local) + "\n")
                    element.clear()
        except ParseError:
            if stream.cut:
                sink.truncated = True
                raise Full from None


def _expat_member_text(package: zipfile.ZipFile, name: str, dialect: Dialect, sink: Sink) -> None:
    """`member_text` for text-element dialects (OOXML) straight from expat's callbacks, with no element tree.

    `iterparse` through defusedxml runs ElementTree's pure-Python parser glue
    (several Python calls per element: most of an xlsx's text CPU). A member
    without a document type declaration is read this way (`streamed`); one
    with one is read through defusedxml instead. The callbacks
    give what `paragraph` gives for each paragraph, as `iterparse` yields it:
    a paragraph's text at its end, what a nested paragraph holds only in that
    one, nothing from a paragraph the member breaks off in, and nothing from
    the final flush unless the member ends well.
    """
    found: list[str] = []
    collector = _Paragraphs(dialect, found)
    parser = streamed.parser(collector.start, collector.end, collector.data)
    with package.open(name) as raw:
        stream = Capped(raw, sink.budget.max_member_bytes)
        try:
            streamed.feed(parser, stream, lambda: _flush(found, sink))
        except expat.ExpatError:
            if stream.cut:
                sink.truncated = True
                raise Full from None


def _flush(found: list[str], sink: Sink) -> None:
    for text in found:
        sink.add(text + "\n")
    found.clear()


class _Paragraphs:
    """Expat callbacks that collect each paragraph's text as `paragraph` walks it (text-element dialects).

    A tab, break or spaces element adds its character where it starts; a
    text element adds its own text (the data before its first child); what a
    paragraph nested in another holds goes to the innermost one only, as
    `member_text` clears a paragraph once it has its text.
    """

    def __init__(self, dialect: Dialect, found: list[str]) -> None:
        self.dialect = dialect
        self.found = found
        self.local = _LocalNames()
        self.open: list[list[str]] = []  # the parts of each paragraph begun and not ended, innermost last
        self.capture: list[str] | None = None  # the parts a text element's own text goes to, until the next tag

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.capture = None
        name = self.local[tag]
        dialect = self.dialect
        if name in dialect.paragraphs:
            self.open.append([])
        if not self.open:
            return
        parts = self.open[-1]
        mark = _mark(name, dialect, attrs)
        if mark is not None:
            parts.append(mark)
        elif dialect.texts is not None and name in dialect.texts:
            self.capture = parts

    def data(self, text: str) -> None:
        if self.capture is not None:
            self.capture.append(text)

    def end(self, tag: str) -> None:
        self.capture = None
        if self.local[tag] in self.dialect.paragraphs and self.open:
            self.found.append("".join(self.open.pop()).strip())


def paragraph(element: Element, dialect: Dialect, local: _LocalNames | None = None) -> str:
    parts: list[str] = []
    local = local if local is not None else _LocalNames()
    if dialect.texts is None:
        _walk_mixed(element, dialect, parts, local)
    else:
        for node in element.iter():  # document order, as a walk of the tree visits it
            _add(node, local[node.tag], dialect, parts, dialect.texts)
    return "".join(parts).strip()


def _walk_mixed(element: Element, dialect: Dialect, parts: list[str], local: _LocalNames) -> None:
    """Mixed content (ODF): all character data counts, each child's tail after its own text."""
    _add(element, local[element.tag], dialect, parts, None)
    for child in element:
        _walk_mixed(child, dialect, parts, local)
        if child.tail:
            parts.append(child.tail)


def _add(element: Element, name: str, dialect: Dialect, parts: list[str], texts: frozenset[str] | None) -> None:
    """What one element stands for: a tab, a line break, spaces, or its text (`texts` None: any element's)."""
    mark = _mark(name, dialect, element.attrib)
    if mark is not None:
        parts.append(mark)
    elif element.text and (texts is None or name in texts):
        parts.append(element.text)


def _mark(name: str, dialect: Dialect, attributes: dict[str, str]) -> str | None:
    """What a tab, line break or spaces element stands for; None for any other element."""
    if name in dialect.tabs:
        return "\t"
    if name in dialect.breaks:
        return "\n"
    if name in dialect.spaces:
        return " " * _count_of(attributes)
    return None


def _count_of(attributes: dict[str, str]) -> int:
    for key, value in attributes.items():
        if _local(key) == "c" and value.isdigit():
            return min(int(value), 100)
    return 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _LocalNames(dict[str, str]):
    """Tag -> local name, worked out once per distinct tag of a member (a member has thousands of elements)."""

    def __missing__(self, tag: str) -> str:
        name = self[tag] = _local(tag)
        return name


class Capped:
    """A member's stream that ends after `limit` bytes (the XML parser then reports the cut)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._left = limit
        self.cut = False

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            self.cut = True
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._raw.read(want)
        self._left -= len(data)
        return data
