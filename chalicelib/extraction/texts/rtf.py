"""RTF: the body text, from the same token scanner as the metadata (`extractors.rtf`).

Groups that hold no readable text are skipped whole: tables of fonts, colours,
styles and lists, the info group, pictures and objects, field instructions
(their results are kept) and every `{\\*\\...}` destination. Runs of \\'hh bytes
are decoded together with the document's ANSI code page (so double-byte code
pages work), \\uN characters replace their \\ucN fallbacks, \\par and \\line end
lines, \\tab and \\cell become tabs.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.extraction.extractors.rtf import SYMBOLS, TOKEN, code_page
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.text import Sink

MAX_DEPTH = 256
_SKIPPED = frozenset(
    {
        "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "listtable", "listoverridetable",
        "revtbl", "rsidtbl", "generator", "xmlnstbl", "themedata", "colorschememapping", "datastore",
        "latentstyles", "fldinst", "filetbl", "header", "footer", "headerl", "headerr", "footerl", "footerr",
        "bkmkstart", "bkmkend", "nonshppict", "shpinst", "mmathPr", "pgdsctbl",
    }
)  # fmt: skip
_CELLS = {"cell": "\t", "row": "\n", "nestcell": "\t", "sect": "\n\n", "page": "\n\n"}


class _Out:
    def __init__(self, sink: Sink, codec: str) -> None:
        self.sink = sink
        self.codec = codec
        self.pending = bytearray()

    def raw(self, data: bytes) -> None:
        self.pending.extend(data)

    def add(self, text: str) -> None:
        self.flush()
        self.sink.add(text)

    def flush(self) -> None:
        if self.pending:
            data, self.pending = bytes(self.pending), bytearray()
            self.sink.add(data.decode(self.codec, "replace"))


def text(reader: RangedReader, metadata: dict[str, Any], sink: Sink) -> None:
    reader.seek(0)
    data = reader.read(min(reader.size, sink.budget.max_read_bytes))
    _, codec = code_page(data[:4096])
    out = _Out(sink, codec)
    skipping: list[bool] = []
    skip_now, fallback, per_unicode = False, 0, 1
    pos, count = 0, 0
    while (match := TOKEN.search(data, pos)) is not None:
        if skip_now:  # inside a skipped group only its braces matter: jump from one to the next
            pos, skip_now, capped = _past_skipped(data, match.start(), skipping)
            if capped:
                break
            continue
        pos = match.end()
        if count % 4096 == 0:
            sink.check()
        count += 1
        word, param, hexbyte, symbol, brace, run = match.groups()
        if brace == b"{":
            if len(skipping) >= MAX_DEPTH:
                break
            skipping.append(skip_now)
        elif brace == b"}":
            skip_now = skipping.pop() if skipping else False
        elif word is not None:
            name = word.decode("ascii")
            if name in _SKIPPED:
                skip_now = True
            elif name == "uc" and param is not None:
                per_unicode = max(0, min(int(param), 8))
            elif name == "u" and param is not None:
                code = int(param) % 65536
                out.add("" if 0xD800 <= code < 0xE000 else chr(code))
                fallback = per_unicode
            elif name in SYMBOLS:
                out.add(SYMBOLS[name])
            elif name in _CELLS:
                out.add(_CELLS[name])
        elif symbol == b"*":
            skip_now = True  # {\\*\\destination ...}: ignorable by definition
        elif hexbyte is not None or symbol is not None:
            if fallback:
                fallback -= 1
            elif hexbyte is not None:
                out.raw(bytes.fromhex(hexbyte.decode("ascii")))
            else:
                out.add(_ESCAPES.get(symbol.decode("latin-1"), symbol.decode("latin-1")))
        elif run is not None:
            consumed, fallback = min(fallback, len(run)), max(0, fallback - len(run))
            out.raw(run[consumed:])
    out.flush()


def _past_skipped(data: bytes, pos: int, skipping: list[bool]) -> tuple[int, bool, bool]:
    """Tokens from `pos` on, inside a skipped group, as the token loop treats them, jumping between braces in C.

    A skipped group's tokens change nothing but the group stack, and a brace
    token is exactly a brace no backslash escapes (a control word, `\\'hh`
    or a run holds none), so only backslashes and braces are looked at.
    Returns where the loop goes on, whether it still skips, and whether the
    depth cap stopped the text (the loop's `break`); at the data's end the
    loop finds no more tokens.
    """
    while (mark := _MARKS.search(data, pos)) is not None:
        pos = mark.end()
        if mark.group() == b"\\":
            pos += 1  # the escaped character, a brace or not
        elif mark.group() == b"{":
            if len(skipping) >= MAX_DEPTH:
                return pos, True, True
            skipping.append(True)
        elif not (skipping.pop() if skipping else False):
            return pos, False, False
    return len(data), True, False


_MARKS = re.compile(rb"[\\{}]")
_ESCAPES = {"~": "\u00a0", "_": "-", "-": "", "\r": "\n", "\n": "\n"}
