"""The one gate metadata passes on its way to the table: only what DynamoDB stores and reads back, bounded.

Extractors read untrusted files, so the metadata they return holds whatever a
file says: empty or huge keys (an XML default namespace is the prefix ""),
text with lone surrogates, numbers DynamoDB cannot represent, nesting deeper
than it allows, megabytes of XMP. DynamoDB refuses some of that, the emulator
mangles some of it, and an item that cannot be read back breaks every listing
it belongs to. So the repository passes every metadata map, warning list and
error through `admit` before writing (and only then):

- keys are text of 1 to MAX_KEY_BYTES bytes of valid UTF-8: an empty key
  becomes "(empty)", lone surrogates become U+FFFD, a long key is cut, and
  keys that end up equal get "~2", "~3" appended;
- values are text (valid UTF-8, at most MAX_TEXT_BYTES), booleans, nulls,
  numbers DynamoDB represents exactly (at most 38 significant digits,
  magnitude 1e-130 to 1e126; anything else, NaN and infinities included,
  becomes text), lists and maps up to MAX_DEPTH levels and MAX_ENTRIES
  entries each; bytes and other types become text;
- the whole map is at most MAX_METADATA_BYTES, which leaves the document's
  other attributes room within DynamoDB's 400 KB item limit. Past it the
  largest entries of `details` are left out first, then the largest other
  entries, never the fields that identify the file (CORE_FIELDS).

Whatever is shortened or left out is named in a note that joins the
document's warnings: a file whose metadata is 500 KB ends PROCESSED with its
core fields, the details that fit, and a warning naming what was left out.
Keeping this the single gate lets a later change store large metadata in an
item of its own without touching the extractors.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.extraction.noise import plain

MAX_KEY_BYTES = 255
MAX_TEXT_BYTES = 32 * 1024
MAX_DEPTH = 16
"""Levels of maps and lists inside the metadata (DynamoDB allows 32 in an item)."""
MAX_ENTRIES = 2000
MAX_METADATA_BYTES = 256 * 1024
MAX_WARNINGS = 50
MAX_WARNING_BYTES = 1000
MAX_ERROR_MESSAGE_BYTES = 2000
CORE_FIELDS = frozenset(
    {"mime_type", "family", "size", "sha256", "extension", "extension_mismatch", "duplicate_of", "encoding"}
)
EMPTY_KEY = "(empty)"
_DIGITS = 38
_SMALLEST, _LARGEST = Decimal("1e-130"), Decimal("1e126")


@dataclass(frozen=True)
class Admitted:
    metadata: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def admit(metadata: Mapping[Any, Any]) -> Admitted:
    """The metadata as DynamoDB can hold it within bounds, and notes on what was shortened or left out."""
    cleaner = _Cleaner()
    cleaned = cleaner.mapping(metadata, 1, "")
    left_out = _fit(cleaned, MAX_METADATA_BYTES)
    notes = cleaner.notes()
    if left_out:
        listed = ", ".join(f"{path} ({size // 1024} KB)" for path, size in left_out[:5])
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        notes.append(f"metadata: left out to stay within the stored size limit: {listed}{more}")
    return Admitted(cleaned, notes)


def admit_warnings(warnings: list[Any]) -> list[str]:
    """Warnings as stored: valid UTF-8 text without object reprs, each bounded, at most MAX_WARNINGS."""
    texts = [_cut(_valid(plain(str(w))), MAX_WARNING_BYTES) for w in warnings]
    if len(texts) <= MAX_WARNINGS:
        return texts
    return [*texts[: MAX_WARNINGS - 1], f"... and {len(texts) - MAX_WARNINGS + 1} more warnings"]


def admit_error(error: Mapping[str, Any]) -> dict[str, str]:
    """An error map as stored: text keys and values without object reprs, the message bounded."""
    return {
        _cut(_valid(str(k)), MAX_KEY_BYTES) or EMPTY_KEY: _cut(_valid(plain(str(v))), MAX_ERROR_MESSAGE_BYTES)
        for k, v in error.items()
    }


def stored_size(value: Any) -> int:
    """Bytes the value takes as compact JSON: at least what DynamoDB counts for it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


class _Cleaner:
    def __init__(self) -> None:
        self.cut_texts = 0
        self.too_deep: list[str] = []
        self.too_many: list[str] = []

    def notes(self) -> list[str]:
        notes = []
        if self.cut_texts:
            notes.append(f"metadata: {self.cut_texts} text value(s) shortened to {MAX_TEXT_BYTES // 1024} KB")
        if self.too_deep:
            notes.append(f"metadata: nested more than {MAX_DEPTH} levels, left out at {', '.join(self.too_deep[:3])}")
        if self.too_many:
            notes.append(f"metadata: more than {MAX_ENTRIES} entries, the rest left out at {self.too_many[0]}")
        return notes

    def value(self, value: Any, depth: int, path: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float, Decimal)):
            return _number(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, Mapping):
            return self.mapping(value, depth + 1, path)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
            return self.sequence(items, depth + 1, path)
        return self.text(str(value))

    def text(self, value: str) -> str:
        valid = _valid(value)
        cut = _cut(valid, MAX_TEXT_BYTES)
        if len(cut) != len(valid):
            self.cut_texts += 1
        return cut

    def mapping(self, value: Mapping[Any, Any], depth: int, path: str) -> Any:
        if depth > MAX_DEPTH:
            self.too_deep.append(path or "(top)")
            return None
        out: dict[str, Any] = {}
        for n, (raw_key, item) in enumerate(value.items()):
            if n >= MAX_ENTRIES:
                self.too_many.append(path or "(top)")
                break
            key = _unique(_key(raw_key), out)
            out[key] = self.value(item, depth, f"{path}.{key}" if path else key)
        return out

    def sequence(self, items: list[Any], depth: int, path: str) -> Any:
        if depth > MAX_DEPTH:
            self.too_deep.append(path or "(top)")
            return None
        if len(items) > MAX_ENTRIES:
            self.too_many.append(path or "(top)")
            items = items[:MAX_ENTRIES]
        return [self.value(item, depth, f"{path}[{i}]") for i, item in enumerate(items)]


def _valid(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates become U+FFFD (well-formed pairs are joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _key(raw: Any) -> str:
    key = _cut(_valid(raw if isinstance(raw, str) else str(raw)), MAX_KEY_BYTES)
    return key if key else EMPTY_KEY


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    if key not in taken:
        return key
    n = 2
    while True:
        suffix = f"~{n}"
        candidate = _cut(key, MAX_KEY_BYTES - len(suffix)) + suffix
        if candidate not in taken:
            return candidate
        n += 1


def _number(value: int | float | Decimal) -> Any:
    """The number if DynamoDB (and boto3's serializer) takes it exactly, else its text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int):
        return value if abs(value) < 10**_DIGITS else str(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and not _SMALLEST <= Decimal(repr(abs(value))) < _LARGEST:
        return str(value)
    return value


def _fit(metadata: dict[str, Any], budget: int) -> list[tuple[str, int]]:
    """Leave out the largest entries (details first, never core fields) until the map fits; what went."""
    size = stored_size(metadata)
    if size <= budget:
        return []
    found = metadata.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    candidates = [(stored_size(v), f"details.{k}", details, k) for k, v in details.items()]
    candidates.sort(key=lambda c: c[0], reverse=True)
    others = [(stored_size(v), k, metadata, k) for k, v in metadata.items() if k not in CORE_FIELDS | {"details"}]
    candidates += sorted(others, key=lambda c: c[0], reverse=True)
    left_out = []
    for entry_size, path, owner, key in candidates:
        if size <= budget:
            break
        del owner[key]
        left_out.append((path, entry_size))
        size = stored_size(metadata)
    return left_out
