"""An expat parser for text producers that read XML from callbacks, without ElementTree's Python glue.

defusedxml's `iterparse` runs ElementTree's pure-Python parser around expat:
several Python calls per element, most of the CPU of a large OOXML or XML
member's text. A document without a document type declaration can declare no
entity and refer to no external one, so none of defusedxml's refusals can
apply to it: the parser made here raises `HasDoctype` at a declaration
(which precedes the root element, so before any text), and the producer
then reads the document through defusedxml as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.parsers import expat

CHUNK = 16 * 1024
"""What `iterparse` reads at a time; the callback readers read the same, so errors fall in the same reads."""


class HasDoctype(Exception):
    """The document declares a document type: read it through defusedxml."""


def parser(
    start: Callable[[str, dict[str, str]], None], end: Callable[[str], None], data: Callable[[str], None]
) -> Any:
    """An expat parser as ElementTree makes it (namespaces as `uri}local`, text buffered), refusing a DOCTYPE."""
    made = expat.ParserCreate(None, "}")
    made.buffer_text = True
    made.StartDoctypeDeclHandler = _refuse_doctype
    made.StartElementHandler = start
    made.EndElementHandler = end
    made.CharacterDataHandler = data
    return made


def feed(parser: Any, stream: Any, flush: Callable[[], None]) -> None:
    """Parse `stream` in `CHUNK`s, calling `flush` after each chunk and after the final parse; expat's error raised.

    As `iterparse` yields them: what a chunk ended before an error in it
    counts (the flush runs even when the chunk raised), and what only the
    final parse ends counts only if the document ends well.
    """
    while data := stream.read(CHUNK):
        try:
            parser.Parse(data, False)
        finally:
            flush()
    parser.Parse(b"", True)
    flush()


def _refuse_doctype(*_: Any) -> None:
    raise HasDoctype
