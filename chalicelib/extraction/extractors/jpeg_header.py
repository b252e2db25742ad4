"""A JPEG header whose segments run past the read bound, without reading what Pillow need not see.

Pillow reads every segment before the scan to describe a JPEG, and some
files carry hundreds of kilobytes there (an ICC profile split over many APP2
segments, a maker's preview). When the header runs past `limit`, this walks
the segments instead: those within `limit` are read as they are (the reader's
cached blocks), and past it only each segment's 4-byte header plus the ones
the picture's description needs (frame header, tables, restart interval, scan
header) are fetched, in small exact ranged reads. Pillow then opens the
header made of those segments: size, mode, and whatever EXIF/XMP/ICC lies
within `limit`. Segments left out past `limit` are application data (APPn)
and comments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chalicelib.extraction.reader import RangedReader, Window

SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
SOS, _EOI_MARKER, _APP2 = 0xDA, 0xD9, 0xE2
_NEEDED = frozenset(set(range(0xC0, 0xD0)) - {0xC8, 0xCC}) | {0xDB, 0xDD}
"""Frame headers (SOF0-15), Huffman and quantization tables, restart interval."""
_ICC = b"ICC_PROFILE\x00"
SPARSE_BYTES = 64 * 1024
"""What may be fetched past the window before giving up (then the header is read as Pillow reads it)."""


@dataclass(frozen=True)
class Header:
    """The header Pillow is to open, and whether an ICC profile began in it (Pillow drops one cut short)."""

    data: bytes
    icc_profile: bool


@dataclass(frozen=True)
class Segment:
    """A marker segment: its marker byte, the offset of its 0xFF, and its stated length (length bytes included)."""

    marker: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + 2 + self.length


def segments(read: Callable[[int, int], bytes]) -> Iterator[Segment]:
    """A JPEG's marker segments after SOI, in order, up to and including the start of scan (SOS).

    `read(offset, n)` gives up to n bytes at `offset`. Fill bytes (0xFF)
    before a marker are skipped; the walk ends at the start of scan, at the
    end of the image, at a malformed marker or length, or where `read` comes
    up short (the end of the file or of what the caller lets it read).
    """
    pos = 2
    while True:
        header = read(pos, 4)
        if len(header) < 4 or header[0] != 0xFF or header[1] == _EOI_MARKER:
            return
        if header[1] == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        length = int.from_bytes(header[2:4], "big")
        if length < 2:
            return
        segment = Segment(header[1], pos, length)
        yield segment
        if segment.marker == SOS:
            return
        pos = segment.end


def header_beyond(reader: RangedReader, limit: int) -> Header | None:
    """The header up to the scan, unneeded segments past `limit` left out; None when it ends within `limit`.

    The reader stops at `limit` plus `SPARSE_BYTES` fetched in all (what it
    fetched before counts); a header that needs more past `limit` (hundreds
    of tables or frame headers) is None too.
    """
    window = Window(reader, limit)
    budget = Budget(limit, reader.size, limit + SPARSE_BYTES)  # all this reader fetches, the head included

    def read(start: int, n: int) -> bytes:
        return _read(window, reader, start, n, budget)

    if read(0, 2) != SOI:
        return None
    parts, icc = [SOI], False
    for segment in segments(read):
        if reader.bytes_fetched > budget.most:
            return None
        if segment.marker == SOS:
            scan = read(segment.start, 2 + segment.length)
            return Header(b"".join([*parts, scan, _EOI]), icc) if segment.end > limit else None
        if segment.end <= limit or segment.marker in _NEEDED:
            parts.append(read(segment.start, 2 + segment.length))
        if segment.marker == _APP2 and not icc:  # a profile cut short is dropped by Pillow: note that there is one
            icc = read(segment.start + 4, len(_ICC)) == _ICC
    return None


@dataclass(frozen=True)
class Budget:
    limit: int
    size: int
    most: int


def _read(window: Window, reader: RangedReader, start: int, n: int, budget: Budget) -> bytes:
    """n bytes at `start`: from the window below the limit, past it in one exact ranged read."""
    inside = b""
    if start < budget.limit:
        window.seek(start)
        inside = window.read(min(n, budget.limit - start))
    first, last = start + len(inside), min(start + n, budget.size) - 1
    if last < first or reader.bytes_fetched + (last - first + 1) > budget.most:
        return inside
    return inside + reader.fetch_range(first, last)
