"""Which text encoding a buffer is in, or that it is not text at all.

Byte-order marks first (UTF-32 before UTF-16: the UTF-32-LE mark starts like
the UTF-16-LE one), then UTF-16/32 without a mark from where the zero bytes
fall, then UTF-8, then Windows-1252; control bytes and NULs say binary.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13, 27, 8}) + b"\x7f"


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    complete: bool


def decode_text(data: bytes, complete: bool) -> Decoded | None:
    """Decode a buffer as text, or None when it looks binary. `complete`: data is the whole file."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _decode(data[len(bom) :], encoding, complete)
            return Decoded(text, encoding + "-bom" if encoding == "utf-8" else encoding, complete) if text else None
    wide = _wide_encoding(data)
    if wide:
        text = _decode(data, wide, complete)
        return Decoded(text, wide, complete) if text else None
    if b"\x00" in data or _control_ratio(data) > 0.05:
        return None
    text = _decode(data, "utf-8", complete)
    if text is not None:
        return Decoded(text, "ascii" if data.isascii() else "utf-8", complete)
    return Decoded(data.decode("cp1252", "replace"), "cp1252", complete)


def _decode(data: bytes, encoding: str, complete: bool) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        text = decoder.decode(data, final=complete)
    except UnicodeDecodeError:
        return None
    if any(ch in text for ch in "\x00\x01\x02\x03\x04\x05\x06"):
        return None
    return text


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, from where the zero bytes fall."""
    sample = data[:4096]
    n = len(sample) - len(sample) % 4
    if n < 8:
        return None
    zeros = [sum(1 for i in range(k, n, 4) if sample[i] == 0) for k in range(4)]
    quarter = n // 4
    if zeros[1] > 0.9 * quarter and zeros[2] > 0.9 * quarter and zeros[3] > 0.9 * quarter:
        return "utf-32-le"
    if zeros[0] > 0.9 * quarter and zeros[1] > 0.9 * quarter and zeros[2] > 0.9 * quarter:
        return "utf-32-be"
    odd, even = zeros[1] + zeros[3], zeros[0] + zeros[2]
    if odd > 0.6 * 2 * quarter and even < 0.1 * 2 * quarter:
        return "utf-16-le"
    if even > 0.6 * 2 * quarter and odd < 0.1 * 2 * quarter:
        return "utf-16-be"
    return None


def _control_ratio(data: bytes) -> float:
    sample = data[:4096]
    return sum(sample.count(bytes([c])) for c in _CONTROL) / max(1, len(sample))
