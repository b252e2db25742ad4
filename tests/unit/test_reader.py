"""The ranged reader: seekable, cached, cheap on random access, read-ahead on sequential scans."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from chalicelib.extraction.reader import RangedReader, ReadBudgetExceeded, Window, bytes_reader, file_reader

KIB = 1024


class Recorder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> bytes:
        self.calls.append((start, end))
        return self.data[start : end + 1]


def reader_over(data: bytes, **kwargs: int) -> tuple[RangedReader, Recorder]:
    fetch = Recorder(data)
    return RangedReader(fetch, len(data), **kwargs), fetch


def test_reads_seeks_and_tells_like_a_file() -> None:
    data = os.urandom(300 * KIB)
    reader, _ = reader_over(data)
    assert reader.read(10) == data[:10]
    reader.seek(-5, io.SEEK_END)
    assert reader.read() == data[-5:]
    reader.seek(100_000)
    reader.seek(10, io.SEEK_CUR)
    assert reader.tell() == 100_010
    assert reader.read(70_000) == data[100_010:170_010]
    assert reader.read(0) == b""


def test_reading_past_the_end_returns_what_is_there() -> None:
    reader, _ = reader_over(b"abc")
    reader.seek(10)
    assert reader.read(5) == b""
    assert reader.head(100) == b"abc"


def test_head_does_not_move_the_position() -> None:
    reader, _ = reader_over(b"0123456789")
    reader.seek(4)
    assert reader.head(3) == b"012"
    assert reader.read(2) == b"45"


def test_negative_seeks_are_refused() -> None:
    reader, _ = reader_over(b"abc")
    with pytest.raises(OSError):
        reader.seek(-1)


def test_random_access_fetches_one_block_per_miss_and_caches_it() -> None:
    data = os.urandom(10 * 1024 * KIB)
    reader, fetch = reader_over(data)
    for offset in (5 * 1024 * KIB, 100, 9 * 1024 * KIB, 5 * 1024 * KIB + 10):
        reader.seek(offset)
        reader.read(100)
    assert reader.requests == 3
    assert reader.bytes_fetched == 3 * 64 * KIB
    assert all(end - start + 1 == 64 * KIB for start, end in fetch.calls)


def test_a_sequential_scan_doubles_its_read_ahead_up_to_the_cap() -> None:
    data = os.urandom(20 * 1024 * KIB)
    reader, fetch = reader_over(data, max_run_bytes=4 * 1024 * KIB)
    chunks = []
    while chunk := reader.read(8 * KIB):
        chunks.append(chunk)
    assert b"".join(chunks) == data
    sizes = [end - start + 1 for start, end in fetch.calls]
    assert sizes[:4] == [64 * KIB, 128 * KIB, 256 * KIB, 512 * KIB]
    assert max(sizes) == 4 * 1024 * KIB
    assert reader.requests < 12
    assert reader.bytes_fetched == len(data)


def test_a_seek_away_resets_the_read_ahead() -> None:
    data = os.urandom(8 * 1024 * KIB)
    reader, fetch = reader_over(data)
    reader.read(300 * KIB)
    reader.seek(6 * 1024 * KIB)
    reader.read(10)
    assert fetch.calls[-1] == (6 * 1024 * KIB, 6 * 1024 * KIB + 64 * KIB - 1)


def test_zipfile_reads_a_central_directory_through_the_reader_cheaply() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big.bin", os.urandom(3 * 1024 * KIB))
        archive.writestr("small.txt", b"hello")
    reader = bytes_reader(buffer.getvalue())
    with zipfile.ZipFile(reader) as archive:
        assert archive.read("small.txt") == b"hello"
    assert reader.bytes_fetched <= 3 * 64 * KIB


def test_file_reader_reads_a_local_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100_000 + b"END")
    reader = file_reader(str(path))
    reader.seek(-3, io.SEEK_END)
    assert (reader.size, reader.read()) == (100_003, b"END")


def test_read_ahead_stops_at_a_block_already_cached_so_nothing_is_fetched_twice() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    fetched: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append((start, end))
        return data[start : end + 1]

    reader = RangedReader(fetch, len(data), block_size=1024, max_run_bytes=64 * 1024)
    reader.seek(40 * 1024)
    reader.read(1024)  # block 40 cached
    reader.seek(0)
    assert reader.read() == data
    assert reader.bytes_fetched == len(data)


def test_a_window_ends_at_its_limit_and_its_read_ahead_fetches_nothing_past_it():
    data = bytes(range(256)) * 4096  # 1 MiB
    reader = RangedReader(lambda start, end: data[start : end + 1], len(data), block_size=1024, max_run_bytes=65536)
    window = Window(reader, 10 * 1024)
    assert window.read() == data[: 10 * 1024] and window.read(1) == b""
    window.seek(-4, io.SEEK_END)
    assert window.read(100) == data[10 * 1024 - 4 : 10 * 1024]
    assert reader.bytes_fetched == 10 * 1024 and reader.read_ahead_end is None
    reader.seek(0)
    assert reader.read(10 * 1024) == data[: 10 * 1024] and reader.bytes_fetched == 10 * 1024  # cached


def test_a_fetch_budget_shrinks_read_ahead_and_refuses_a_read_that_cannot_fit() -> None:
    reader = bytes_reader(bytes(range(256)) * 4096, block_size=1024)  # 1 MB
    reader.fetch_budget = 3 * 1024 + 10
    assert len(reader.read(2048)) == 2048 and len(reader.read(1024)) == 1024  # sequential: read-ahead would run on
    assert reader.bytes_fetched <= reader.fetch_budget
    with pytest.raises(ReadBudgetExceeded):
        reader.read(1024)
    reader.fetch_budget = None
    assert len(reader.read(1024)) == 1024


def test_a_file_already_cached_whole_is_served_to_a_byte_at_a_time_parser_without_calls_into_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pypdf reads one byte per call: a cached file answers from one buffer, not through the reader's Python code."""
    data = bytes(range(256)) * 1000
    reader = bytes_reader(data, block_size=4096)
    reader.read()
    fetched, requests = reader.bytes_fetched, reader.requests
    calls: list[int] = []
    real = RangedReader.readinto

    def counted(self: RangedReader, buffer: bytearray | memoryview) -> int:
        calls.append(len(buffer))
        return real(self, buffer)

    monkeypatch.setattr(RangedReader, "readinto", counted)
    stream = reader.buffered()
    assert b"".join(iter(lambda: stream.read(1), b"")) == data
    stream.close()
    assert calls == []
    assert (reader.bytes_fetched, reader.requests) == (fetched, requests)
    reader.seek(10)
    assert reader.read(3) == data[10:13]  # closing the buffer leaves the reader open


def test_a_file_not_yet_cached_whole_is_read_through_the_reader_and_counted() -> None:
    data = os.urandom(64 * 1024)
    reader = bytes_reader(data, block_size=4096)
    reader.read(100)
    stream = reader.buffered()
    assert stream.read() == data
    assert reader.bytes_fetched == len(data)
