"""The small protocol every extractor follows, and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol, cast

from chalicelib.extraction.reader import RangedReader


@dataclass(frozen=True)
class Source:
    """What an extractor may look at: a seekable file plus what detection learned."""

    reader: RangedReader
    size: int
    filename: str
    mime_type: str
    head: bytes

    @property
    def file(self) -> BinaryIO:
        """The reader typed as the binary file it is, for parsing libraries."""
        return cast(BinaryIO, self.reader)

    def buffered(self, size: int = 8 * 1024) -> BinaryIO:
        """The reader behind a C-level buffer, from the start, for libraries that read a byte at a time.

        Its own position is independent of `reader`'s; closing it leaves the reader open.
        """
        return self.reader.buffered(size)


@dataclass
class Extraction:
    """Normalized fields (DESIGN.md vocabulary), family details, warnings."""

    fields: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Extractor(Protocol):
    def __call__(self, source: Source) -> Extraction: ...


def valid_utf8(value: Any) -> Any:
    """`value` with every string (dict keys too) valid UTF-8: a JSON document, a DynamoDB item, a page.

    Strings decoded with `surrogateescape` (file names from tar headers, for
    instance) carry the undecodable bytes as lone surrogates: those bytes
    become U+FFFD, as any other lone surrogate does.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            try:
                return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:  # a surrogate outside the escape range
                return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
    if isinstance(value, dict):
        return {valid_utf8(k): valid_utf8(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_utf8(v) for v in value]
    return value


def clean(value: Any) -> Any:
    """Unknown stays absent: turn empty strings/containers into None, strip text."""
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    if isinstance(value, (list, tuple, dict, set)) and not value:
        return None
    return value


def compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose cleaned value is None."""
    out = {}
    for key, value in mapping.items():
        value = clean(value)
        if value is not None:
            out[key] = value
    return out


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
