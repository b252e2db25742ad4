"""HTML as its readable text (never its markup); XML, SVG and feeds as their character data.

An HTML page's text is usually collected by the HTML extractor while it parses
the page for its metadata (`CollectedText` in the file's reader): when the
markup decoded here is the markup it parsed, that text is used and the page is
not parsed again; otherwise (another encoding guess, a page past the
extractor's cap) it is parsed here.
"""

from __future__ import annotations

from typing import Any

from defusedxml import ElementTree as SafeET

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.markup import HTML_TYPES, page_text
from chalicelib.extraction.text import Sink
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
    for _, element in SafeET.iterparse(stream, events=("end",)):
        sink.check()
        pieces = [element.text or "", *((child.tail or "") for child in element)]
        joined = " ".join(p.strip() for p in pieces if p.strip())
        if joined:
            sink.add(joined + "\n")
        for child in list(element):  # done with the children; the element's own tail is its parent's
            element.remove(child)
