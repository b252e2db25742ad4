"""Plain text and Markdown: the file itself, decoded the way detection guessed its encoding."""

from __future__ import annotations

import codecs
from typing import Any

from chalicelib.extraction.encoding import sniff_encoding
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Sink

CHUNK = 256 * 1024


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    for chunk in decoded(reader):
        sink.add(chunk)


def decoded(reader: RangedReader) -> Any:
    """The file's text, chunk by chunk (BOM dropped, undecodable bytes replaced)."""
    reader.seek(0)
    first = reader.read(CHUNK)
    encoding = sniff_encoding(first, complete=len(first) >= reader.size)
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    chunk = first
    while chunk:
        yield decoder.decode(chunk).lstrip("\ufeff")
        chunk = reader.read(CHUNK)
    yield decoder.decode(b"", final=True)
