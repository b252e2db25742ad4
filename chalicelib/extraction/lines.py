"""Decoded physical lines of a byte stream, cut at the byte level, with the exact offset consumed.

Lines are cut at CR, LF and CRLF in the stream's own encoding (UTF-16/32
included) and handed one by one to `csv.reader`, which asks for the next line
only while a record is unfinished; so after each record the bytes consumed are
exactly the offset of the next record, quoted newlines included. That offset
is where a later reader can resume with a ranged read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from chalicelib.extraction.encoding import Encoding


def decoding_codec(encoding: Encoding) -> str:
    """The codec that decodes the body after any byte-order mark (which is skipped as bytes)."""
    return encoding.name if encoding.bom else encoding.codec


class Lines:
    """Decoded physical lines of a byte stream, with the exact byte offset consumed so far.

    A line (or a record spanning lines) longer than `max_record_bytes` is not
    kept: a line that the csv module must reject (one field over its size
    limit) stands in for it, so the record becomes one row error and memory
    stays bounded. A physical line too long to hold is skipped to its end as
    it streams by, whatever its length (a 50 MB line is one record, not a
    series of pieces); after an error the caller skips the rest of a record
    that is still inside a quoted field (`skip_rest_of_record`), so its later
    lines are not read as records of their own.
    """

    def __init__(
        self, blocks: Iterator[bytes], offset: int, codec: str, max_record_bytes: int, quotechar: str | None = '"'
    ) -> None:
        self._blocks = blocks
        self._codec = codec
        self._nl = "\n".encode(codec)
        self._cr = "\r".encode(codec)
        self._quote = quotechar.encode(codec) if quotechar else b""
        self._width = len(self._nl)
        self._fast = self._nl == b"\n" and self._cr == b"\r"
        self._max = max_record_bytes
        self._buffer = b""
        self._ready: list[tuple[bytes | None, int, int]] = []
        self._eof = False
        self._skipped = 0
        self._skipped_quotes = 0
        self._skipping = False
        self._quotes = 0
        self.consumed = offset
        self.record_start = offset
        self.lines = 0
        self.oversized = False

    def __iter__(self) -> Lines:
        return self

    def record_done(self) -> None:
        self.record_start = self.consumed
        self.oversized = False
        self._quotes = 0

    def __next__(self) -> str:
        raw, length, quotes = self._next_raw()
        self.consumed += length
        self.lines += 1
        self._quotes += quotes
        if raw is None or self.consumed - self.record_start > self._max:
            self.oversized = True
            return "x" * (csv.field_size_limit() + 1) + "\n"
        return raw.decode(self._codec, "replace")

    def skip_rest_of_record(self) -> None:
        """After a rejected record: consume its remaining lines while a quoted field is still open."""
        while self._quotes % 2:
            try:
                _, length, quotes = self._next_raw()
            except StopIteration:
                return
            self.consumed += length
            self.lines += 1
            self._quotes += quotes

    def _count_quotes(self, data: bytes) -> int:
        return data.count(self._quote) if self._quote else 0

    def _next_raw(self) -> tuple[bytes | None, int, int]:
        """(line, its length in bytes, quote characters in it); line is None for one too long to hold."""
        while not self._ready:
            if self._eof:
                if self._skipping:
                    length, quotes = self._skipped + len(self._buffer), self._skipped_quotes
                    quotes += self._count_quotes(self._buffer)
                    self._buffer, self._skipping, self._skipped, self._skipped_quotes = b"", False, 0, 0
                    return None, length, quotes
                if not self._buffer:
                    raise StopIteration
                raw, self._buffer = self._buffer, b""
                return raw, len(raw), self._count_quotes(raw)
            self._fill()
        return self._ready.pop()

    def _fill(self) -> None:
        block = next(self._blocks, b"")
        if not block:
            self._eof = True
            return
        lines, rest = self._split(self._buffer + block)
        ready: list[tuple[bytes | None, int, int]] = []
        if self._skipping and lines:  # the line being skipped ends here
            first = lines.pop(0)
            ready.append((None, self._skipped + len(first), self._skipped_quotes + self._count_quotes(first)))
            self._skipping, self._skipped, self._skipped_quotes = False, 0, 0
        ready += [(line, len(line), self._count_quotes(line)) for line in lines]
        if self._skipping or len(rest) > self._max:  # too long to hold: drop its bytes, keep an unaligned tail
            keep = len(rest) % self._width
            dropped = rest[: len(rest) - keep]
            self._skipped += len(dropped)
            self._skipped_quotes += self._count_quotes(dropped)
            self._skipping = True
            rest = rest[len(rest) - keep :]
        self._buffer = rest
        ready.reverse()
        self._ready = ready

    def _split(self, data: bytes) -> tuple[list[bytes], bytes]:
        if self._fast:
            lines = data.splitlines(keepends=True)
            if not lines:
                return [], b""
            last = lines[-1]
            if not last.endswith((b"\n", b"\r")) or last.endswith(b"\r"):
                return lines[:-1], lines.pop()  # unfinished, or a CR whose LF may follow
            return lines, b""
        return self._split_wide(data)

    def _split_wide(self, data: bytes) -> tuple[list[bytes], bytes]:
        """Cut lines of a multi-byte-unit encoding (UTF-16/32) at aligned CR/LF units."""
        w, nl, cr = self._width, self._nl, self._cr
        lines, start, pos = [], 0, 0
        while True:
            hits = [h for h in (data.find(nl, pos), data.find(cr, pos)) if h >= 0]
            if not hits:
                break
            hit = min(hits)
            if (hit - start) % w:
                pos = hit + 1
                continue
            end = hit + w
            if data[hit : hit + w] == cr:
                if end == len(data):
                    break  # a CR at the end: its LF may be in the next block
                if data[end : end + w] == nl:
                    end += w
            lines.append(data[start:end])
            start = pos = end
        return lines, data[start:]


def blocks(stream: BinaryIO, size: int, head: bytes = b"") -> Iterator[bytes]:
    if head:
        yield head
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


def strip_bom(stream: BinaryIO, codec: str) -> tuple[bytes, int]:
    """A byte-order mark opens the file: its bytes are consumed, not decoded. (head, offset after it)"""
    mark = "\ufeff".encode(codec)
    head = stream.read(len(mark))
    if head.startswith(mark):
        return head[len(mark) :], len(mark)
    return head, 0
