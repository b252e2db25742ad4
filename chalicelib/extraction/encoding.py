"""Which text encoding bytes are in: one answer for detection and for every text extractor.

Detection (`decode_text`) and the text, CSV, JSON and markup extractors
(`sniff_encoding`) look at the same first `SAMPLE_BYTES` of a file and decide
in the same order, with the same tables, so they cannot disagree about it:

1. a byte-order mark (UTF-32 before UTF-16: the UTF-32-LE mark starts like
   the UTF-16-LE one);
2. UTF-32 or UTF-16 without a mark, from where the zero bytes fall;
3. UTF-8 validity (US-ASCII when every byte is below 0x80);
4. charset-normalizer on the sample (pure Python, already a dependency of the
   AWS SDK stack, and maintained, unlike chardet's successors), with
   Windows-1252 preferred where it decodes as cleanly, and Latin-1 as the
   last resort because it decodes any byte.

Names are reported in one spelling (lower-case IANA style: utf-8, utf-16le,
utf-32be, us-ascii, cp1252). Detection alone may also answer "not text":
NUL bytes or many control characters mean binary.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

SAMPLE_BYTES = 64 * 1024
"""Bytes a text sniff looks at: the same first bytes for detection and extraction."""

_WESTERN = "cp1252"
_CHAOS_TOLERANCE = 0.03
"""Detectors cannot tell the single-byte Latin code pages apart on short text; when
Windows-1252 decodes as cleanly as the best guess (or no language is evident),
it wins, being by far the most common of them."""
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13, 27, 8}) + b"\x7f"

BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16be", "utf-16"),
)
"""(mark, reported name, the codec that decodes the bytes and strips the mark)."""


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
    marked = bom_encoding(sample)
    if marked:
        return marked
    wide = wide_encoding(sample)
    if wide:
        return Encoding(wide, wide)
    if _is_utf8(sample, complete):
        return Encoding("us-ascii" if sample.isascii() else "utf-8", "utf-8")
    return _detected(sample)


def bom_encoding(sample: bytes) -> Encoding | None:
    for mark, name, codec in BOMS:
        if sample.startswith(mark):
            return Encoding(name, codec, bom=True)
    return None


def wide_encoding(sample: bytes) -> str | None:
    """UTF-32 or UTF-16 without a byte-order mark: text of mostly Latin script has NULs in fixed places."""
    probe = sample[:4096]
    aligned = len(probe) - len(probe) % 4
    if aligned >= 8:
        quarter = aligned // 4
        zeros = [probe[k:aligned:4].count(0) for k in range(4)]
        if min(zeros[1], zeros[2], zeros[3]) > 0.9 * quarter:
            return "utf-32le"
        if min(zeros[0], zeros[1], zeros[2]) > 0.9 * quarter:
            return "utf-32be"
    if len(probe) < 4:
        return None
    even, odd = probe[0::2], probe[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16be"
    return None


def _is_utf8(sample: bytes, complete: bool) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


GUESSES = "encoding_guesses"
"""Name, in a file's `RangedReader.parsed`, of the guesses made from its bytes' statistics (`remembered`)."""

_guesses: ContextVar[dict[bytes, Encoding] | None] = ContextVar("docpipe_encoding_guesses", default=None)


@contextlib.contextmanager
def remembered(parsed: dict[str, Any]) -> Iterator[None]:
    """Within the block, a guess from statistics is made once per sample of the file whose reader's `parsed` this is.

    Detection, the extractor and the text producer each ask for the encoding
    of the same first bytes of an 8-bit text file, and charset_normalizer is
    the one costly step (2 ms a sample): its answer depends only on the sample,
    so it is kept with the file's reader (this file only) and asked once.
    """
    token = _guesses.set(parsed.setdefault(GUESSES, {}))
    try:
        yield
    finally:
        _guesses.reset(token)


def _detected(sample: bytes) -> Encoding:
    sample = sample[:SAMPLE_BYTES]
    guesses = _guesses.get()
    found = guesses.get(sample) if guesses is not None else None
    if found is None:
        found = _statistics(sample)
        if guesses is not None:
            guesses[sample] = found
    return found


def _statistics(sample: bytes) -> Encoding:
    from charset_normalizer import from_bytes

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


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: Encoding
    complete: bool


def decode_text(data: bytes, complete: bool) -> Decoded | None:
    """Decode a buffer as text, or None when it looks binary. `complete`: data is the whole file."""
    fixed = bom_encoding(data)
    if fixed is None and (wide := wide_encoding(data)):
        fixed = Encoding(wide, wide)
    if fixed is not None:
        text = _strict(data, fixed, complete)
        return Decoded(text, fixed, complete) if text else None
    if b"\x00" in data or _control_ratio(data) > 0.05:
        return None
    encoding = sniff_encoding(data, complete)
    return Decoded(decode_sample(data, encoding), encoding, complete)


def _strict(data: bytes, encoding: Encoding, complete: bool) -> str | None:
    """The text, or None when the bytes do not decode or decode to control characters (binary after all)."""
    decoder = codecs.getincrementaldecoder(encoding.codec)("strict")
    try:
        text = decoder.decode(data, final=complete)
    except UnicodeDecodeError:
        return None
    if any(ch in text for ch in "\x00\x01\x02\x03\x04\x05\x06"):
        return None
    return text.removeprefix("\ufeff")


def _control_ratio(data: bytes) -> float:
    sample = data[:4096]
    return sum(sample.count(bytes([c])) for c in _CONTROL) / max(1, len(sample))
