"""Office Open XML (docx, pptx, xlsx) and ODF: the text of the document's own XML, paragraph by paragraph.

Only the members that hold the text are read: word/document.xml, the slides
in order, the spreadsheet's shared strings, ODF's content.xml. Each is
streamed out of the ZIP (never inflated whole) with an uncompressed-size cap
and parsed incrementally with defusedxml. A member cut by the cap, or broken,
gives the text found up to that point.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Full, Sink


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
    if name in dialect.tabs:
        parts.append("\t")
    elif name in dialect.breaks:
        parts.append("\n")
    elif name in dialect.spaces:
        parts.append(" " * _count(element))
    elif element.text and (texts is None or name in texts):
        parts.append(element.text)


def _count(element: Element) -> int:
    for key, value in element.attrib.items():
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
