"""A seekable, read-only file over ranged reads, with a small block cache.

Extractors get a normal binary file object; behind it only the blocks they
touch are fetched (for S3: ranged GETs), so a parser that reads a ZIP central
directory or a PDF trailer costs kilobytes, not the whole object. The reader
counts what it fetched, which the benchmarks report.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable

Fetch = Callable[[int, int], bytes]
"""fetch(start, end_inclusive) -> bytes, like an HTTP Range request."""


class RangedReader(io.RawIOBase):
    def __init__(self, fetch: Fetch, size: int, block_size: int = 64 * 1024, max_blocks: int = 32) -> None:
        super().__init__()
        if size < 0:
            raise ValueError("size must be >= 0")
        self._fetch = fetch
        self._size = size
        self._block_size = block_size
        self._max_blocks = max_blocks
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self.bytes_fetched = 0
        self.requests = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self._size - self._pos))
        done = 0
        while done < wanted:
            index, offset = divmod(self._pos, self._block_size)
            block = self._block(index)
            chunk = block[offset : offset + (wanted - done)]
            if not chunk:
                break
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        buffer = bytearray(size)
        n = self.readinto(buffer)
        return bytes(buffer[:n])

    def readall(self) -> bytes:
        return self.read(-1)

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block
        start = index * self._block_size
        end = min(self._size, start + self._block_size) - 1
        block = self._fetch(start, end) if end >= start else b""
        self.bytes_fetched += len(block)
        self.requests += 1
        self._blocks[index] = block
        if len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)
        return block

    def head(self, n: int) -> bytes:
        """The first n bytes, without moving the position."""
        pos = self._pos
        try:
            self._pos = 0
            return self.read(n)
        finally:
            self._pos = pos


def bytes_reader(data: bytes, block_size: int = 64 * 1024) -> RangedReader:
    """A RangedReader over bytes in memory (tests, benchmarks on local files)."""
    return RangedReader(lambda start, end: data[start : end + 1], len(data), block_size)


def file_reader(path: str, block_size: int = 64 * 1024) -> RangedReader:
    """A RangedReader over a local file, fetching only the blocks asked for."""
    import os

    size = os.path.getsize(path)

    def fetch(start: int, end: int) -> bytes:
        with open(path, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start + 1)

    return RangedReader(fetch, size, block_size)
