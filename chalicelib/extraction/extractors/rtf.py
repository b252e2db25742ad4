"""RTF: the document information group ({\\info ...}) and the code page.

RTF keeps its metadata near the start, after the font, colour and style
tables, so only the head (MAX_HEAD_BYTES) is read. The \\info group is
tokenized with a small purpose-built scanner (no RTF library worth its weight
exists for this): control words, \\'hh bytes decoded with the document's ANSI
code page, \\uN characters with their \\ucN fallbacks skipped, escaped braces.
Nesting and the group's length are capped. RTF dates carry no time zone; they
are reported as UTC.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors.base import Extraction, Source, compact, iso

MAX_HEAD_BYTES = 1024 * 1024
MAX_INFO_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_TEXT = 1024

_TEXT_DESTINATIONS = frozenset(
    {"title", "subject", "author", "keywords", "operator", "company", "doccomm", "comment", "manager", "category"}
)
_DATE_DESTINATIONS = frozenset({"creatim", "revtim", "printim", "buptim"})
_NUMBERS = frozenset({"version", "nofpages", "nofwords", "nofchars", "nofcharsws", "edmins", "vern", "id"})
_DATE_PARTS = frozenset({"yr", "mo", "dy", "hr", "min", "sec"})
SYMBOLS = {
    "ldblquote": "\u201c",
    "rdblquote": "\u201d",
    "lquote": "\u2018",
    "rquote": "\u2019",
    "emdash": "\u2014",
    "endash": "\u2013",
    "bullet": "\u2022",
    "tab": "\t",
    "line": "\n",
    "par": "\n",
    "emspace": " ",
    "enspace": " ",
}
_CHARSETS = {"mac": "mac_roman", "pc": "cp437", "pca": "cp850"}
TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+", re.S)


def extract(source: Source) -> Extraction:
    head = _read_head(source)
    if not head.lstrip().startswith(b"{\\rtf"):
        raise ExtractionFailed("rtf: the file does not start with {\\rtf", code="corrupt")
    codepage, codec = code_page(head[:4096])
    start = head.find(b"{\\info")
    warnings: list[str] = []
    info = _Info()
    if start >= 0:
        _scan(head[start : start + MAX_INFO_BYTES], codec, info, warnings)
    elif len(head) == MAX_HEAD_BYTES:
        warnings.append(f"rtf: no \\info group in the first {MAX_HEAD_BYTES} bytes")
    return _result(info, codepage, codec, warnings)


def _read_head(source: Source, step: int = 64 * 1024) -> bytes:
    """Read block by block until the info group has been seen whole, at most MAX_HEAD_BYTES."""
    source.reader.seek(0)
    data = b""
    while len(data) < MAX_HEAD_BYTES:
        chunk = source.reader.read(min(step, MAX_HEAD_BYTES - len(data)))
        if not chunk:
            break
        data += chunk
        start = data.find(b"{\\info")
        if start >= 0 and data.find(b"}}", start) >= 0 and len(data) - start >= 16 * 1024:
            break
    return data


def code_page(prolog: bytes) -> tuple[int | None, str]:
    match = re.search(rb"\\ansicpg(\d{1,5})", prolog)
    if match:
        codepage = int(match.group(1))
        name = {10000: "mac_roman", 65001: "utf-8"}.get(codepage, f"cp{codepage}")
        try:
            return codepage, codecs.lookup(name).name
        except LookupError:
            return codepage, "cp1252"
    charset = re.match(rb"\{\\rtf1?\\(mac|pca|pc)\b", prolog.lstrip())
    return None, _CHARSETS.get(charset.group(1).decode() if charset else "", "cp1252")


@dataclass
class _Info:
    texts: dict[str, str] = field(default_factory=dict)
    dates: dict[str, dict[str, int]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)


@dataclass
class _Group:
    destination: str | None
    skip_per_unicode: int


class _Text:
    """Collects one destination's characters, decoding runs of \\'hh bytes together (DBCS code pages)."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.parts: list[str] = []
        self.pending = bytearray()
        self.size = 0

    def add_bytes(self, data: bytes) -> None:
        if self.size < MAX_TEXT:
            self.pending.extend(data)
            self.size += len(data)

    def add(self, text: str) -> None:
        self.flush()
        if self.size < MAX_TEXT:
            self.parts.append(text)
            self.size += len(text)

    def flush(self) -> None:
        if self.pending:
            self.parts.append(bytes(self.pending).decode(self.codec, "replace"))
            self.pending.clear()

    def value(self) -> str:
        self.flush()
        return " ".join("".join(self.parts).split())[:MAX_TEXT]


def _scan(data: bytes, codec: str, info: _Info, warnings: list[str]) -> None:
    stack: list[_Group] = []
    current = _Group(None, 1)
    texts: dict[str, _Text] = {}
    skip = 0
    for match in TOKEN.finditer(data):
        word, param, hexbyte, symbol, brace, text = match.groups()
        if brace == b"{":
            if len(stack) >= MAX_DEPTH:
                warnings.append("rtf: the info group is nested too deeply")
                break
            stack.append(current)
            current = _Group(current.destination, current.skip_per_unicode)
        elif brace == b"}":
            if len(stack) <= 1:
                break
            current = stack.pop()
        elif word is not None:
            name = word.decode("ascii")
            number = int(param) if param is not None else None
            skip = _control(name, number, current, texts, info, codec)
        elif current.destination not in texts:
            skip = max(0, skip - (1 if hexbyte is not None or symbol is not None else len(text or b"")))
        elif hexbyte is not None:
            if skip:
                skip -= 1
            else:
                texts[current.destination].add_bytes(bytes.fromhex(hexbyte.decode("ascii")))
        elif symbol is not None:
            _symbol(symbol, texts[current.destination])
        elif text is not None:
            consumed, skip = min(skip, len(text)), max(0, skip - len(text))
            texts[current.destination].add_bytes(text[consumed:])
    else:
        if len(data) == MAX_INFO_BYTES:
            warnings.append("rtf: the info group is longer than the cap; it was read in part")
    for name, collected in texts.items():
        info.texts[name] = collected.value()


def _control(name: str, number: int | None, current: _Group, texts: dict[str, _Text], info: _Info, codec: str) -> int:
    """Apply one control word; returns how many fallback characters to skip next."""
    if name in _TEXT_DESTINATIONS:
        current.destination = name
        texts[name] = _Text(codec)  # a later \ud (Unicode) variant replaces the ANSI one
    elif name in _DATE_DESTINATIONS:
        current.destination = name
        info.dates[name] = {}
    elif name in _DATE_PARTS and current.destination in info.dates and number is not None:
        info.dates[current.destination][name] = number
    elif name in _NUMBERS and number is not None:
        info.numbers[name] = number
    elif name == "uc" and number is not None:
        current.skip_per_unicode = max(0, min(number, 8))
    elif name == "u" and number is not None and current.destination in texts:
        code = number % 65536
        texts[current.destination].add("" if 0xD800 <= code < 0xE000 else chr(code))
        return current.skip_per_unicode
    elif name in SYMBOLS and current.destination in texts:
        texts[current.destination].add(SYMBOLS[name])
    return 0


def _symbol(symbol: bytes, sink: _Text) -> None:
    char = symbol.decode("latin-1")
    if char in "\\{}":
        sink.add(char)
    elif char == "~":
        sink.add("\u00a0")
    elif char == "_":
        sink.add("-")
    elif char in "\r\n":
        sink.add("\n")


def _date(parts: dict[str, int] | None) -> str | None:
    if not parts or not parts.get("yr"):
        return None
    try:
        value = datetime(
            parts["yr"],
            parts.get("mo") or 1,
            parts.get("dy") or 1,
            parts.get("hr", 0),
            parts.get("min", 0),
            parts.get("sec", 0),
        )
    except ValueError:
        return None
    return iso(value)


def _result(info: _Info, codepage: int | None, codec: str, warnings: list[str]) -> Extraction:
    text, number = info.texts.get, info.numbers.get
    fields: dict[str, Any] = {
        "title": text("title"),
        "author": text("author"),
        "subject": text("subject"),
        "keywords": text("keywords"),
        "created": _date(info.dates.get("creatim")),
        "modified": _date(info.dates.get("revtim")),
        "page_count": number("nofpages") or None,
        "word_count": number("nofwords"),
        "encoding": codec,
    }
    details: dict[str, Any] = {
        "codepage": codepage,
        "last_modified_by": text("operator"),
        "company": text("company"),
        "manager": text("manager"),
        "category": text("category"),
        "comments": text("doccomm"),
        "generator_comment": text("comment"),
        "revision": number("version"),
        "character_count": number("nofchars"),
        "edit_minutes": number("edmins"),
        "last_printed": _date(info.dates.get("printim")),
    }
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)
