"""Build a Source over bytes, as the engine would."""

from __future__ import annotations

from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def source(data: bytes, mime_type: str, filename: str = "file") -> Source:
    reader = bytes_reader(data)
    return Source(reader=reader, size=len(data), filename=filename, mime_type=mime_type, head=data[:8192])
