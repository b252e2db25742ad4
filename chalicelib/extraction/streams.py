"""Small binary-stream adapters shared by the readers of untrusted files.

Sniffing a stream's first bytes consumes them; `Prefixed` puts them back in
front so the same stream can be read from the start without a second request.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end of the stream (a raw stream may return less per read)."""
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


class Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (a sniffing sample, a header block), put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()
