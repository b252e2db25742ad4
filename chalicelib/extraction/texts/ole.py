"""Legacy Word (.doc) and Outlook (.msg): the document's text from its piece table, a message's body.

Word 97-2003 keeps its text in the WordDocument stream in pieces, listed by
the piece table (the Clx, MS-DOC 2.9.38) in the table stream the FIB names:
each piece is either 8-bit (cp1252) or UTF-16. The first `ccpText`
characters are the main document (footnotes, headers and comments follow).
Field instructions (between 0x13 and 0x14) are dropped and their results kept.
An encrypted or pre-97 document has no readable text here. A message's text
is its subject and plain-text body (PR_BODY).
"""

from __future__ import annotations

import struct
from typing import Any

import olefile  # type: ignore[import-untyped]

from chalicelib.extraction.extractors.ole import stream_head
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Sink

_FIB_FLAGS, _FIB_CCP_TEXT, _FIB_FC_CLX = 0x0A, 0x4C, 0x01A2
_ENCRYPTED, _TABLE_1 = 0x0100, 0x0200
_SPECIAL = {"\r": "\n", "\x07": "\t", "\x0b": "\n", "\x0c": "\n\n", "\x1e": "-", "\x1f": "", "\x01": "", "\x08": ""}
_BODY = ("__substg1.0_1000001F", "utf-16-le"), ("__substg1.0_1000001E", "cp1252")
_SUBJECT = ("__substg1.0_0037001F", "utf-16-le"), ("__substg1.0_0037001E", "cp1252")


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    ole = olefile.OleFileIO(reader)
    try:
        if ole.exists("WordDocument"):
            sink.add(word_text(ole, sink.budget.max_read_bytes))
        else:
            for streams in (_SUBJECT, _BODY):
                sink.add(_string(ole, streams, sink.budget.max_read_bytes) + "\n\n")
    finally:
        ole.close()


def word_text(ole: Any, limit: int) -> str:
    fib = stream_head(ole, "WordDocument", 1024) or b""
    if len(fib) < _FIB_FC_CLX + 8 or fib[:2] != b"\xec\xa5":
        return ""
    (flags,) = struct.unpack_from("<H", fib, _FIB_FLAGS)
    if flags & _ENCRYPTED:
        return ""
    table = stream_head(ole, "1Table" if flags & _TABLE_1 else "0Table", limit) or b""
    (ccp_text,) = struct.unpack_from("<i", fib, _FIB_CCP_TEXT)
    fc_clx, lcb_clx = struct.unpack_from("<II", fib, _FIB_FC_CLX)
    pieces = _pieces(table[fc_clx : fc_clx + lcb_clx])
    document = stream_head(ole, "WordDocument", limit) or b""
    chars: list[str] = []
    count = 0
    for cp_start, cp_end, fc, compressed in pieces:
        length = min(cp_end - cp_start, max(0, ccp_text - count))
        if length <= 0:
            break
        if compressed:
            chars.append(document[fc // 2 : fc // 2 + length].decode("cp1252", "replace"))
        else:
            chars.append(document[fc : fc + 2 * length].decode("utf-16-le", "replace"))
        count += length
    return _plain("".join(chars))


def _pieces(clx: bytes) -> list[tuple[int, int, int, bool]]:
    """(first cp, end cp, file offset, 8-bit?) of each piece of the piece table."""
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc entries (formatting) come first
        (size,) = struct.unpack_from("<h", clx, pos + 1)
        pos += 3 + max(0, size)
    if pos + 5 > len(clx) or clx[pos] != 0x02:
        return []
    (lcb,) = struct.unpack_from("<I", clx, pos + 1)
    plc = clx[pos + 5 : pos + 5 + lcb]
    count = (len(plc) - 4) // 12
    if count <= 0:
        return []
    cps = struct.unpack_from(f"<{count + 1}i", plc, 0)
    pieces = []
    for i in range(count):
        (raw_fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * i + 2)
        compressed = bool(raw_fc & 0x40000000)
        pieces.append((cps[i], cps[i + 1], raw_fc & 0x3FFFFFFF, compressed))
    return pieces


def _plain(text: str) -> str:
    out: list[str] = []
    depth = 0  # inside a field's instruction part
    for char in text:
        if char == "\x13":
            depth += 1
        elif char == "\x14":
            depth = max(0, depth - 1)
        elif char == "\x15":
            depth = max(0, depth - 1) if depth else 0
        elif not depth:
            out.append(_SPECIAL.get(char, char))
    return "".join(out)


def _string(ole: Any, streams: tuple[tuple[str, str], ...], limit: int) -> str:
    for name, codec in streams:
        if ole.exists(name):
            data = stream_head(ole, name, limit) or b""
            return data.decode(codec, "replace").replace("\x00", "").strip()
    return ""
