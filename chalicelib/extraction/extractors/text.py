"""Plain text and Markdown: encoding, line/word/character counts, Markdown title.

The encoding is `encoding.sniff_encoding`'s, the one guess detection and the
markup, JSON and CSV extractors share.

Counting streams the file through an incremental decoder, at most
`COUNT_CAP` bytes; past that the counts cover only the first part and
`details.counts_partial` says so.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from chalicelib.extraction.encoding import SAMPLE_BYTES, Encoding, sniff_encoding
from chalicelib.extraction.extractors.base import Extraction, Source, compact

COUNT_CAP = 16 * 1024 * 1024
"""Bytes of text decoded and counted at most."""


CHUNK = 256 * 1024
TITLE_SCAN_CHARS = 64 * 1024
_LONG_WORD = 1024 * 1024


@dataclass
class Counts:
    lines: int = 0
    words: int = 0
    characters: int = 0
    bytes_read: int = 0
    partial: bool = False
    replaced: int = 0


def count_text(source: Source, encoding: Encoding, cap: int | None = None) -> tuple[Counts, str]:
    """Stream the file and count; return the counts and the first characters (for titles)."""
    cap = COUNT_CAP if cap is None else cap
    counts = Counts()
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    source.reader.seek(0)
    prefix: list[str] = []
    prefix_len = 0
    carry = ""
    while counts.bytes_read < cap:
        block = source.reader.read(min(CHUNK, cap - counts.bytes_read))
        if not block:
            break
        counts.bytes_read += len(block)
        text = decoder.decode(block, final=False)
        if prefix_len < TITLE_SCAN_CHARS:
            prefix.append(text[: TITLE_SCAN_CHARS - prefix_len])
            prefix_len += len(prefix[-1])
        carry = _count_chunk(counts, carry + text)
    counts.partial = counts.bytes_read < source.size
    tail = carry + ("" if counts.partial else decoder.decode(b"", final=True))
    _count_tail(counts, tail)
    return counts, "".join(prefix)


def _count_chunk(counts: Counts, text: str) -> str:
    """Count the complete part of `text`; return what must wait for the next chunk."""
    cut = len(text)
    while cut > 0 and not text[cut - 1].isspace():
        cut -= 1
    if cut == 0 and len(text) > _LONG_WORD:
        counts.characters += len(text) - 1
        counts.replaced += text.count("\ufffd", 0, -1)
        return text[-1:]
    if cut > 0 and text[cut - 1] == "\r":
        cut -= 1
    done, rest = text[:cut], text[cut:]
    _tally(counts, done)
    return rest


def _count_tail(counts: Counts, text: str) -> None:
    _tally(counts, text)
    if text and not text.endswith(("\n", "\r")):
        counts.lines += 1


def _tally(counts: Counts, text: str) -> None:
    counts.characters += len(text)
    counts.words += len(text.split())
    counts.replaced += text.count("\ufffd")
    crlf = text.count("\r\n")
    counts.lines += text.count("\n") + text.count("\r") - crlf


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FM_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
_SETEXT = re.compile(r"^ {0,3}(\S[^\n]*?)[ \t]*\r?\n {0,3}(=+|-+)[ \t]*$", re.M)


def markdown_title(text: str) -> str | None:
    """Front-matter `title:`, else the first heading (ATX `# x` or setext underline)."""
    text = text.lstrip("\ufeff")
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FM_TITLE.search(front.group(1))
        if found:
            return found.group(1).strip().strip("\"'") or None
        text = text[front.end() :]
    candidates = []
    atx = _ATX.search(text)
    if atx:
        candidates.append((atx.start(), atx.group(2)))
    setext = _SETEXT.search(text)
    if setext and not setext.group(1).startswith(("#", "-", "=", "*", "|", ">")):
        candidates.append((setext.start(), setext.group(1)))
    if not candidates:
        return None
    return min(candidates)[1].strip() or None


def is_markdown(source: Source) -> bool:
    name = source.filename.lower()
    return source.mime_type in {"text/markdown", "text/x-markdown"} or name.endswith(
        (".md", ".markdown", ".mdown", ".mkd")
    )


def extract(source: Source) -> Extraction:
    source.reader.seek(0)
    sample = source.reader.read(SAMPLE_BYTES)
    encoding = sniff_encoding(sample, complete=len(sample) >= source.size)
    counts, prefix = count_text(source, encoding)
    warnings: list[str] = []
    if counts.partial:
        warnings.append(f"text: counted the first {counts.bytes_read} bytes only")
    if counts.replaced:
        warnings.append(f"text: {counts.replaced} characters could not be decoded as {encoding.name}")
    fields: dict[str, Any] = {
        "encoding": encoding.name if source.size else None,
        "word_count": counts.words,
    }
    details: dict[str, Any] = {
        "line_count": counts.lines,
        "character_count": counts.characters,
        "bom": encoding.bom,
        "encoding_confident": encoding.confident,
        "counts_partial": counts.partial,
        "newline": _newline(prefix),
    }
    if is_markdown(source):
        fields["title"] = markdown_title(prefix)
        details["markdown"] = True
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _newline(text: str) -> str | None:
    if "\r\n" in text:
        return "crlf"
    if "\n" in text:
        return "lf"
    if "\r" in text:
        return "cr"
    return None
