"""JSON and NDJSON: top-level type, key/item counts, nesting depth, encoding.

Files up to `PARSE_CAP` bytes are parsed whole with the standard library
(the C parser; its recursion guard surfaces as RecursionError, which is
caught and answered by the shallow scan below, so a 100,000-deep array is
described or refused, never crashes). Larger files get a streaming shallow
scan over at most `SCAN_CAP` bytes: a bracket counter that skips strings,
giving the top-level type, item count and depth without building anything.
NDJSON (one document per line) is counted line by line, streaming.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.encoding import Encoding, sniff_encoding
from chalicelib.extraction.extractors.base import Extraction, Source, compact

PARSE_CAP = 16 * 1024 * 1024
"""Bytes parsed into objects at most; above it, the shallow scan."""

SCAN_CAP = 256 * 1024 * 1024
"""Bytes the shallow scan and the NDJSON line count read at most."""

MAX_DEPTH_WALK = 10_000
MAX_KEYS = 50
CHUNK = 256 * 1024

_NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
_NDJSON_EXTENSIONS = (".ndjson", ".jsonl", ".jsonlines")
_STRUCTURE = re.compile(r'["\\,]|[\[{]+|[\]}]+')
"""A quote, a backslash, a comma, or a run of opening or of closing brackets (one match, however deep)."""
_IN_STRING = re.compile(r'["\\]')


def extract(source: Source) -> Extraction:
    source.reader.seek(0)
    sample = source.reader.read(65536)
    if not sample.strip():
        raise ExtractionFailed("json: empty document", code="corrupt")
    encoding = sniff_encoding(sample, complete=len(sample) >= source.size)
    if encoding.name not in {"us-ascii", "utf-8"} and not encoding.name.startswith("utf-"):
        encoding = Encoding("utf-8", "utf-8", confident=False)
    if _looks_ndjson(source):
        return _ndjson(source, encoding)
    if source.size > PARSE_CAP:
        return _scanned(source, encoding, "larger than the parse cap")
    return _parsed(source, encoding)


def _looks_ndjson(source: Source) -> bool:
    return source.mime_type in _NDJSON_TYPES or source.filename.lower().endswith(_NDJSON_EXTENSIONS)


def _decode(data: bytes, encoding: Encoding, warnings: list[str]) -> str:
    try:
        return data.decode(encoding.codec)
    except UnicodeDecodeError:
        warnings.append(f"json: bytes invalid in {encoding.name} were replaced")
        return data.decode(encoding.codec, errors="replace")


def _parsed(source: Source, encoding: Encoding) -> Extraction:
    source.reader.seek(0)
    warnings: list[str] = []
    text = _decode(source.reader.read(PARSE_CAP), encoding, warnings)
    try:
        value = json.loads(text)
    except RecursionError:
        return _scanned(source, encoding, "nested deeper than the parser allows", text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and "\n" in text.strip():
            return _ndjson(source, encoding)
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        if text.lstrip()[:1] not in {"{", "["}:
            raise ExtractionFailed(f"json: {problem}", code="corrupt") from exc
        return _scanned(source, encoding, f"not strict JSON ({problem})", text)
    fields = {"encoding": encoding.name}
    details = {"bom": encoding.bom, **_shape(value)}
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _shape(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"top_level_type": _type_name(value), "depth": _depth(value)}
    if isinstance(value, dict):
        out["key_count"] = len(value)
        out["keys"] = [str(k)[:200] for k in list(value)[:MAX_KEYS]]
    elif isinstance(value, list):
        out["item_count"] = len(value)
        kinds = {_type_name(item) for item in value[:1000]}
        out["item_types"] = sorted(kinds)
    return out


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _depth(value: Any) -> int:
    """Nesting depth of containers (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if level < MAX_DEPTH_WALK:
            stack.extend((child, level) for child in children)
    return deepest


@dataclass
class _Scan:
    """A shallow, streaming scan: brackets outside strings, top-level commas."""

    depth: int = 0
    max_depth: int = 0
    top_type: str | None = None
    top_items: int = 0
    top_has_item: bool = False
    in_string: bool = False
    escape: bool = False
    balanced_error: bool = False

    def feed(self, text: str) -> None:
        pos, end = 0, len(text)
        if self.top_type is None:
            stripped = text.lstrip("\ufeff \t\r\n")
            if stripped:
                self.top_type = {"{": "object", "[": "array", '"': "string"}.get(stripped[0], "scalar")
        while pos < end:
            if self.escape:
                self.escape, pos = False, pos + 1
                continue
            if self.in_string:
                found = _IN_STRING.search(text, pos)
                if found is None:
                    return
                pos = found.end()
                if found.group() == "\\":
                    self.escape = True
                else:
                    self.in_string = False
                continue
            found = _STRUCTURE.search(text, pos)
            if found is None:
                self._note_content(text[pos:])
                return
            self._note_content(text[pos : found.start()])
            pos = found.end()
            self._token(found.group())

    def _note_content(self, text: str) -> None:
        if self.depth == 1 and text.strip():
            self.top_has_item = True

    def _token(self, mark: str) -> None:
        if mark == '"':
            self.in_string = True
            if self.depth == 1:
                self.top_has_item = True
        elif mark[0] in "[{":
            if self.depth <= 1 < self.depth + len(mark):  # one of the run opens at the top level
                self.top_has_item = True
            self.depth += len(mark)
            self.max_depth = max(self.max_depth, self.depth)
        elif mark[0] in "]}":
            self.depth -= len(mark)
            if self.depth < 0:  # more closed than opened: unbalanced, counted from zero again
                self.balanced_error = True
                self.depth = 0
        elif mark == "," and self.depth == 1:
            self.top_items += 1


def _scanned(source: Source, encoding: Encoding, reason: str, text: str | None = None) -> Extraction:
    scan = _Scan()
    read, partial = 0, False
    if text is not None:
        scan.feed(text)
        read = len(text)
    else:
        for chunk, done in _decoded_chunks(source, encoding):
            scan.feed(chunk)
            read = done
        partial = read < source.size
    if not partial and (scan.depth != 0 or scan.balanced_error or scan.in_string):
        raise ExtractionFailed(f"json: unbalanced brackets ({reason})", code="corrupt")
    count = scan.top_items + 1 if scan.top_has_item else 0
    details: dict[str, Any] = {
        "bom": encoding.bom,
        "top_level_type": scan.top_type,
        "depth": scan.max_depth,
        "shallow_scan": True,
        "scan_partial": partial,
    }
    details["item_count" if scan.top_type == "array" else "key_count"] = count if scan.top_type != "scalar" else None
    warnings = [f"json: {reason}; described by a shallow scan"]
    if partial:
        warnings.append(f"json: scanned the first {read} bytes only")
    return Extraction(fields=compact({"encoding": encoding.name}), details=compact(details), warnings=warnings)


def _decoded_chunks(source: Source, encoding: Encoding) -> Iterator[tuple[str, int]]:
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    source.reader.seek(0)
    read = 0
    while read < SCAN_CAP:
        block = source.reader.read(min(CHUNK, SCAN_CAP - read))
        if not block:
            break
        read += len(block)
        yield decoder.decode(block, final=False), read


def _ndjson(source: Source, encoding: Encoding) -> Extraction:
    lines = bad = blank = 0
    first_type: str | None = None
    keys: list[str] = []
    carry = ""
    read = 0
    for chunk, done in _decoded_chunks(source, encoding):
        read = done
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        for line in parts:
            lines, bad, blank, first_type, keys = _ndjson_line(line, lines, bad, blank, first_type, keys)
    partial = read < source.size
    if carry.strip() and not partial:
        lines, bad, blank, first_type, keys = _ndjson_line(carry, lines, bad, blank, first_type, keys)
    if lines and bad == lines:
        raise ExtractionFailed("json: no line is a JSON document", code="corrupt")
    details: dict[str, Any] = {
        "bom": encoding.bom,
        "ndjson": True,
        "line_count": lines,
        "invalid_lines": bad,
        "blank_lines": blank,
        "item_type": first_type,
        "keys": keys,
        "counts_partial": partial,
    }
    warnings = [f"json: {bad} lines are not valid JSON"] if bad else []
    fields = {"encoding": encoding.name, "row_count": lines - bad}
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _ndjson_line(
    line: str, lines: int, bad: int, blank: int, first_type: str | None, keys: list[str]
) -> tuple[int, int, int, str | None, list[str]]:
    if not line.strip():
        return lines, bad, blank + 1, first_type, keys
    lines += 1
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return lines, bad + 1, blank, first_type, keys
    if first_type is None:
        first_type = _type_name(value)
        if isinstance(value, dict):
            keys = [str(k)[:200] for k in list(value)[:MAX_KEYS]]
    return lines, bad, blank, first_type, keys
