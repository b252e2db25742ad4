"""A seekable, read-only file over ranged reads, with a block cache and read-ahead.

Extractors get a normal binary file object; behind it only the blocks they
touch are fetched (for S3: ranged GETs), so a parser that reads a ZIP central
directory or a PDF trailer costs kilobytes, not the whole object. When reads
run sequentially (a CSV row count, a hash of a stream) each miss fetches twice
as many blocks as the previous one, up to `max_run_bytes`, so a whole-file scan
costs a few dozen requests instead of thousands while random access still
costs one block. The reader counts the bytes and requests it made, which the
engine records and the benchmarks report.

In the sandbox the parsing happens in a worker process, on a reader of its
own whose fetch asks the host; the host answers with `fetch_range` of its
reader (counted there, and timed as waiting on storage by the sandbox, so a
stalled store is never mistaken for a slow parser). The worker's reader lives
for the session of one file, so extraction, rendition and text share its
cache (`SESSION_CACHE_BYTES`): a file up to that size is fetched at most once.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, BinaryIO, cast

Fetch = Callable[[int, int], bytes]
"""fetch(start, end_inclusive) -> bytes, like an HTTP Range request."""

BLOCK_SIZE = 64 * 1024
MAX_RUN_BYTES = 4 * 1024 * 1024
CACHE_BYTES = 8 * 1024 * 1024
SESSION_CACHE_BYTES = 32 * 1024 * 1024
WHOLE_BUFFER_BYTES = 16 * 1024 * 1024
"""The largest cached file `RangedReader.buffered` copies into one buffer (the copy is memory a parse holds)."""


class ReadBudgetExceeded(BaseException):
    """A read would fetch more of the object than the reader's `fetch_budget` allows.

    A BaseException, not an Exception: repairing parsers (pypdf's lenient
    mode) catch Exception around their reads and carry on, which would turn a
    refused read into a scan of whatever else they try. The stage that set the
    budget catches it and says what it could not learn.
    """


class _Seekable(io.RawIOBase):
    """A read-only file's position: what the reader and its windows share."""

    _pos = 0

    def _end(self) -> int:
        raise NotImplementedError

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
            pos = self._end() + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos


class RangedReader(_Seekable):
    def __init__(
        self,
        fetch: Fetch,
        size: int,
        block_size: int = BLOCK_SIZE,
        max_run_bytes: int = MAX_RUN_BYTES,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        super().__init__()
        if size < 0:
            raise ValueError("size must be >= 0")
        if block_size <= 0:
            raise ValueError("block_size must be > 0")
        self._fetch = fetch
        self._size = size
        self._block_size = block_size
        self._max_run = max(1, max_run_bytes // block_size)
        self._max_blocks = max(self._max_run * 2, cache_bytes // block_size)
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self._next_sequential = -1
        self._run = 1
        self.bytes_fetched = 0
        self.requests = 0
        self.read_ahead_end: int | None = None
        """When set, read-ahead fetches nothing at or past this offset (a bounded reader's window)."""
        self.fetch_budget: int | None = None
        """When set, `bytes_fetched` never passes it: read-ahead shrinks to fit and a read that cannot fit
        raises `ReadBudgetExceeded` (a stage bound in bytes of the object, wherever its parser seeks)."""
        self.parsed: dict[str, Any] = {}
        """Parses of this file one stage leaves for the next (extraction's repaired PDF for its text), by name.

        They live as long as the reader, which is this one file's: nothing
        here outlives the file or reaches another one."""

    @property
    def size(self) -> int:
        return self._size

    def _end(self) -> int:
        return self._size

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

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:  # the common small read, inside one cached block: no copy loop
            index, offset = divmod(self._pos, self._block_size)
            block = self._blocks.get(index)
            if block is not None and offset + size <= len(block):
                self._blocks.move_to_end(index)
                self._pos += size
                return block[offset : offset + size]
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        buffer = bytearray(min(size, max(0, self._size - self._pos)))
        n = self.readinto(buffer)
        return bytes(buffer[:n])

    def readall(self) -> bytes:
        return self.read(-1)

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block
        self._run = min(self._run * 2, self._max_run) if index == self._next_sequential else 1
        count = next((n for n in range(1, self._run) if index + n in self._blocks), self._run)
        if self.read_ahead_end is not None:
            count = max(1, min(count, -(-self.read_ahead_end // self._block_size) - index))
        if self.fetch_budget is not None:
            count = self._within_budget(index, count)
        self._load(index, count)  # read-ahead stops at a cached block: nothing is fetched twice while cached
        return self._blocks.get(index, b"")

    def _within_budget(self, index: int, count: int) -> int:
        """The blocks from `index` that fit in what is left of `fetch_budget` (at least one, else it raises)."""
        left = (self.fetch_budget or 0) - self.bytes_fetched
        start = index * self._block_size
        for n in range(count, 0, -1):
            if min(self._size, start + n * self._block_size) - start <= left:
                return n
        raise ReadBudgetExceeded(f"reading at {start} would pass the budget of {self.fetch_budget} bytes")

    def _load(self, first: int, count: int) -> None:
        """Fetch `count` blocks from `first` in one request and cache each block."""
        start = first * self._block_size
        end = min(self._size, start + count * self._block_size) - 1
        self._store(first, self.fetch_range(start, end) if end >= start else b"")

    def prime(self, data: bytes) -> None:
        """Take `data` as the first block, counted and cached as the file's first read would have fetched it.

        The sandbox host sends a file's first block (`first_block`) with its
        extraction job, which always reads the head first, so the worker need
        not ask for it: one host<->worker round trip less per file.
        """
        self.bytes_fetched += len(data)
        self.requests += 1
        self._run = 1
        self._store(0, data)

    def _store(self, first: int, data: bytes) -> None:
        blocks = max(1, -(-len(data) // self._block_size))
        for i in range(blocks):
            self._blocks[first + i] = data[i * self._block_size : (i + 1) * self._block_size]
            self._blocks.move_to_end(first + i)
        self._next_sequential = first + blocks
        while len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)

    def fetch_range(self, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive) straight from storage, uncached, counted."""
        data = self._fetch(start, end)
        self.bytes_fetched += len(data)
        self.requests += 1
        return data

    def whole(self) -> bytes | None:
        """The entire object if every block of it is cached (nothing is fetched), else None."""
        count = -(-self._size // self._block_size)
        if any(i not in self._blocks for i in range(count)):
            return None
        data = b"".join(self._blocks[i] for i in range(count))
        return data if len(data) == self._size else None

    def buffered(self, size: int = 8 * 1024) -> BinaryIO:
        """This reader behind a C-level buffer, from the start, for libraries that read a byte at a time.

        pypdf's tokenizer reads one byte per call; through the buffer each
        costs a C call instead of a Python `read` (a third of the CPU of a PDF's
        text). Its own position is independent of this reader's; closing it
        leaves this reader open.

        A file whose every block is already cached (a small file, or one an
        earlier stage read whole) and no larger than `WHOLE_BUFFER_BYTES` is
        served from one `io.BytesIO` instead: it answers a one-byte read 2.7
        times as fast (a million of them: 0.19 -> 0.07 s), which is what pypdf's
        repair of a damaged file spends its time on, and it fetches nothing either way.
        """
        self.seek(0)
        whole = self.whole() if self._size <= WHOLE_BUFFER_BYTES else None
        if whole is not None:
            return io.BytesIO(whole)
        return cast(BinaryIO, _Unclosing(self, buffer_size=size))

    def head(self, n: int) -> bytes:
        """The first n bytes, without moving the position."""
        pos = self._pos
        try:
            self._pos = 0
            return self.read(n)
        finally:
            self._pos = pos


class Window(_Seekable):
    """The first `limit` bytes of a reader as a file: reads end there, and so does the reader's read-ahead.

    For a parser that must not cost more than `limit` bytes of the object
    (a thumbnail made from a picture's head): past the window it sees the end
    of the file, and blocks it already read stay cached in the reader.
    """

    def __init__(self, reader: RangedReader, limit: int) -> None:
        super().__init__()
        self._reader = reader
        self._limit = min(limit, reader.size)
        self._pos = 0

    def _end(self) -> int:
        return self._limit

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self._limit - self._pos))
        if wanted <= 0:
            return 0
        saved, kept = self._reader.tell(), self._reader.read_ahead_end
        try:
            self._reader.read_ahead_end = self._limit
            self._reader.seek(self._pos)
            n = self._reader.readinto(view[:wanted])
        finally:
            self._reader.read_ahead_end = kept
            self._reader.seek(saved)
        self._pos += n
        return n


class _Unclosing(io.BufferedReader):
    def close(self) -> None:  # the reader outlives the parser (renditions and text read it again)
        pass


def first_block(size: int, block_size: int = BLOCK_SIZE) -> tuple[int, int] | None:
    """(start, end inclusive) of what a reader's first read fetches (its first block); None for an empty file."""
    return (0, min(block_size, size) - 1) if size > 0 else None


def bytes_reader(data: bytes, block_size: int = BLOCK_SIZE) -> RangedReader:
    """A RangedReader over bytes in memory (tests, benchmarks on local files)."""
    return RangedReader(lambda start, end: data[start : end + 1], len(data), block_size)


def file_reader(path: str, block_size: int = BLOCK_SIZE) -> RangedReader:
    """A RangedReader over a local file, fetching only the blocks asked for."""
    size = os.path.getsize(path)

    def fetch(start: int, end: int) -> bytes:
        with open(path, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start + 1)

    return RangedReader(fetch, size, block_size)
