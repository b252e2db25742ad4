"""Plain text, Markdown, JSON and XML: the beginning of the file as escaped text.

At most `Budget.read_bytes` are read; the encoding is guessed the way the
extractors guess it (`extractors.text.sniff_encoding`). Markdown and XML are
shown as their source, not rendered: nothing in them becomes markup. A JSON
document read whole is re-indented when it parses, which costs little at
this size and reads much better than a one-line dump.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.extraction.encoding import decode_sample, sniff_encoding
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content, Excerpt, cut

JSON_TYPES = frozenset({"application/json"})


def read_text(reader: RangedReader, budget: Budget) -> tuple[str, bool]:
    """The file's first `read_bytes`, decoded; the flag says whether the file goes on."""
    reader.seek(0)
    sample = reader.read(budget.read_bytes)
    complete = len(sample) >= reader.size
    encoding = sniff_encoding(sample, complete=complete)
    text = sample.decode(encoding.codec, errors="replace") if complete else decode_sample(sample, encoding)
    return text.lstrip("\ufeff"), not complete


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    text, more = read_text(reader, budget)
    mime_type = (document.get("metadata") or {}).get("mime_type")
    if mime_type in JSON_TYPES and not more:
        text = _indented(text)
    excerpt, cut_off = cut(text, budget.excerpt_chars)
    note = f"The first {len(excerpt):,} characters." if more or cut_off else None
    if not text.strip():
        note = "The file holds no text."
    return Content([Excerpt("Text", excerpt, note)])


def _indented(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text
