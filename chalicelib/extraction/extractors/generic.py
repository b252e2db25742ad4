"""The fallback: a file we do not understand still gets size, type and hash."""

from __future__ import annotations

from chalicelib.extraction.extractors.base import Extraction, Source


def extract(source: Source) -> Extraction:
    return Extraction()
