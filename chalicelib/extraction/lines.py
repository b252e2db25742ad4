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
    kept: its bytes are skipped and a line that the csv module must reject
    (one field over its size limit) stands in for it, so the record becomes
    a row error and memory stays bounded.
    """

    def __init__(self, blocks: Iterator[bytes], offset: int, codec: str, max_record_bytes: int) -> None:
        self._blocks = blocks
        self._codec = codec
        self._nl = "\n".encode(codec)
        self._cr = "\r".encode(codec)
        self._width = len(self._nl)
        self._fast = self._nl == b"\n" and self._cr == b"\r"
        self._max = max_record_bytes
        self._buffer = b""
        self._ready: list[bytes] = []
        self._eof = False
        self.consumed = offset
        self.record_start = offset
        self.lines = 0
        self.oversized = False

    def __iter__(self) -> Lines:
        return self

    def record_done(self) -> None:
        self.record_start = self.consumed
        self.oversized = False

    def __next__(self) -> str:
        raw = self._next_raw()
        self.consumed += len(raw)
        self.lines += 1
        if self.consumed - self.record_start > self._max:
            self.oversized = True
            return "x" * (csv.field_size_limit() + 1) + "\n"
        return raw.decode(self._codec, "replace")

    def _next_raw(self) -> bytes:
        while not self._ready:
            if self._eof:
                if not self._buffer:
                    raise StopIteration
                raw, self._buffer = self._buffer, b""
                return raw
            self._fill()
        return self._ready.pop()

    def _fill(self) -> None:
        block = next(self._blocks, b"")
        if not block:
            self._eof = True
            return
        data = self._buffer + block
        lines, rest = self._split(data)
        if len(rest) > self._max:  # one physical line too long to hold: keep only its tail's length
            lines.append(rest)
            rest = b""
        self._buffer = rest
        lines.reverse()
        self._ready = lines

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
