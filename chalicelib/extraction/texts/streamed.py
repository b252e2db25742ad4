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


def _refuse_doctype(*_: Any) -> None:
    raise HasDoctype
