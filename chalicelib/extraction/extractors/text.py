"""Plain text and Markdown: encoding, line/word/character counts, Markdown title.

Also the home of `sniff_encoding`, the one encoding guess that the markup,
JSON and CSV extractors share: a byte-order mark decides first (UTF-32 before
UTF-16, since the UTF-32-LE mark starts like the UTF-16-LE one), then UTF-8
validity, then a UTF-16 without a mark (every other byte NUL), then
charset-normalizer on a bounded sample (pure Python, already a dependency of
the AWS SDK stack, and maintained, unlike chardet's successors), with
Latin-1 as the last resort because it decodes any byte.

Counting streams the file through an incremental decoder, at most
`COUNT_CAP` bytes; past that the counts cover only the first part and
`details.counts_partial` says so.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from chalicelib.extraction.extractors.base import Extraction, Source, compact

COUNT_CAP = 16 * 1024 * 1024
"""Bytes of text decoded and counted at most."""

SAMPLE_BYTES = 64 * 1024
"""Bytes handed to the encoding detector at most."""

CHUNK = 256 * 1024
_WESTERN = "cp1252"
_CHAOS_TOLERANCE = 0.03
"""Detectors cannot tell the single-byte Latin code pages apart on short text; when
Windows-1252 decodes as cleanly as the best guess (or no language is evident),
it wins, being by far the most common of them."""
TITLE_SCAN_CHARS = 64 * 1024
_LONG_WORD = 1024 * 1024

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16be", "utf-16"),
)


@dataclass(frozen=True)
class Encoding:
    """A guessed text encoding.

    `name` is what is reported (lower-case IANA-style, e.g. utf-8, utf-16le,
    us-ascii, cp1252); `codec` is what Python decodes with (for a BOM, the
    codec that strips it); `bom` says whether the file starts with a mark.
    """

    name: str
    codec: str
    bom: bool = False
    confident: bool = True


def sniff_encoding(sample: bytes, complete: bool = False) -> Encoding:
    """Guess the encoding of `sample` (the file's first bytes; `complete` if it is the whole file)."""
    for mark, name, codec in _BOMS:
        if sample.startswith(mark):
            return Encoding(name, codec, bom=True)
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return Encoding(utf16, utf16)
    if _is_utf8(sample, complete):
        return Encoding("us-ascii" if sample.isascii() else "utf-8", "utf-8")
    return _detected(sample)


def _is_utf8(sample: bytes, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text of mostly Latin script has a NUL in every other byte."""
    probe = sample[:4096]
    if len(probe) < 4:
        return None
    even, odd = probe[0::2], probe[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16be"
    return None


def _detected(sample: bytes) -> Encoding:
    from charset_normalizer import from_bytes

    sample = sample[:SAMPLE_BYTES]
    matches = list(from_bytes(sample))
    if not matches:
        return Encoding("iso-8859-1", "latin-1", confident=False)
    best = matches[0]
    close = [m for m in matches if m.chaos <= best.chaos + _CHAOS_TOLERANCE]
    if any(_WESTERN in m.could_be_from_charset for m in close):
        return Encoding(_WESTERN, _WESTERN)
    if best.coherence == 0 and _decodes(sample, _WESTERN):
        return Encoding(_WESTERN, _WESTERN, confident=False)
    codec = codecs.lookup(best.encoding).name
    return Encoding(codec.replace("_", "-"), codec)


def _decodes(sample: bytes, codec: str) -> bool:
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def decode_sample(sample: bytes, encoding: Encoding) -> str:
    """Decode a prefix of a file, tolerating a character cut at the end."""
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    return str(decoder.decode(sample, final=False))


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
