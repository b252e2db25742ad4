"""ISO base media file format (MP4, MOV, M4A, HEIF, AVIF): walking boxes by seek/read.

Detection (track handlers), the video and the still-image extractors walk the
same box structure with this one walker.
Only box headers are read while walking, so skipping a multi-gigabyte `mdat`
costs one 8- or 16-byte read; a box's payload is read only when asked for, and
then within a cap. Hostile sizes (a box longer than its parent, shorter than its
header, endless siblings) end the walk instead of looping or allocating.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_BOXES_PER_LEVEL = 4096
MAX_DEPTH = 12


class BoxError(ValueError):
    """The box structure is broken at this point."""


@dataclass(frozen=True)
class Box:
    kind: str
    start: int
    header_size: int
    end: int

    @property
    def payload_start(self) -> int:
        return self.start + self.header_size

    @property
    def payload_size(self) -> int:
        return self.end - self.payload_start


def boxes(file: BinaryIO, start: int, end: int) -> Iterator[Box]:
    """The boxes between start and end, header by header."""
    position = start
    for _ in range(MAX_BOXES_PER_LEVEL):
        if end - position < 8:
            return
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            return
        size, raw_kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            large = file.read(8)
            if len(large) < 8:
                return
            size = struct.unpack(">Q", large)[0]
            header_size = 16
        elif size == 0:
            size = end - position
        if raw_kind == b"uuid":
            header_size += 16
        if size < header_size:
            raise BoxError(f"box '{_name(raw_kind)}' at {position} has an impossible size {size}")
        box_end = position + size
        if box_end > end:
            box_end = end
        yield Box(_name(raw_kind), position, header_size, box_end)
        position = box_end


def find(file: BinaryIO, parent: Box, kind: str) -> Box | None:
    """The first child of `parent` with this type."""
    for box in boxes(file, parent.payload_start, parent.end):
        if box.kind == kind:
            return box
    return None


def find_path(file: BinaryIO, parent: Box, path: str) -> Box | None:
    """A descendant by slash-separated path, e.g. 'mdia/minf/stbl/stsd'."""
    current: Box | None = parent
    for kind in path.split("/")[:MAX_DEPTH]:
        if current is None:
            return None
        current = find(file, current, kind)
    return current


def read_payload(file: BinaryIO, box: Box, limit: int) -> bytes:
    """The box's payload, at most `limit` bytes of it."""
    file.seek(box.payload_start)
    return file.read(min(box.payload_size, limit))


def top_level(file: BinaryIO, size: int) -> Iterator[Box]:
    return boxes(file, 0, size)


def root(size: int) -> Box:
    """A pseudo box spanning the whole file, to search top-level boxes with `find`."""
    return Box("", 0, 0, size)


def _name(raw: bytes) -> str:
    return raw.decode("latin-1")
