import bz2
import gzip
import io
import struct
import tarfile
import time
import zipfile
import zlib

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import archive
from chalicelib.extraction.extractors.base import Source
from chalicelib.extraction.reader import bytes_reader


def run(data: bytes, mime: str, name: str = "a"):
    return archive.extract(Source(bytes_reader(data), len(data), name, mime, data[:8192]))


def make_zip(comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docs/", "")
        z.writestr("docs/a.txt", "a" * 1000)
        z.writestr("b.csv", "x,y\n1,2\n")
        z.comment = comment
    return buffer.getvalue()


def make_tar(count: int = 3) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as t:
        for i in range(count):
            payload = b"z" * (100 * (i + 1))
            info = tarfile.TarInfo(f"f{i}.bin")
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_a_zip_lists_entries_sizes_and_comment_from_the_central_directory():
    out = run(make_zip(b"hello"), "application/zip")
    assert out.fields == {"entry_count": 3, "uncompressed_size": 1008, "encrypted": False}
    assert out.details["file_count"] == 2
    assert out.details["directory_count"] == 1
    assert out.details["comment"] == "hello"
    assert out.details["entries"][1] == {"name": "docs/a.txt", "size": 1000}


def test_a_zip_with_an_encrypted_entry_is_flagged():
    data = bytearray(make_zip())
    at = data.find(b"PK\x01\x02")  # central directory entry: flag bits at offset 8
    struct.pack_into("<H", data, at + 8, 1)
    out = run(bytes(data), "application/zip")
    assert out.fields["encrypted"] is True
    assert out.details["encrypted_entries"] == 1


def test_a_zip_claiming_too_many_entries_is_not_listed(monkeypatch):
    monkeypatch.setattr(archive, "MAX_ENTRIES", 2)
    out = run(make_zip(), "application/zip")
    assert out.fields == {"entry_count": 3}
    assert out.details["listed"] is False


def test_a_truncated_zip_is_corrupt():
    with pytest.raises(ExtractionFailed) as failure:
        run(make_zip()[:60], "application/zip")
    assert failure.value.code == "corrupt"


def test_a_tar_is_listed_from_its_headers():
    out = run(make_tar(), "application/x-tar")
    assert out.fields == {"entry_count": 3, "uncompressed_size": 600}
    assert out.details["entries"][2] == {"name": "f2.bin", "size": 300}


def test_a_tar_listing_stops_at_the_entry_budget(monkeypatch):
    monkeypatch.setattr(archive, "MAX_ENTRIES", 2)
    out = run(make_tar(5), "application/x-tar")
    assert "entry_count" not in out.fields
    assert out.details["entries_seen"] == 2
    assert out.warnings


def test_a_gzip_reports_name_mtime_and_isize():
    buffer = io.BytesIO()
    with gzip.GzipFile("report.txt", "wb", fileobj=buffer, mtime=1_600_000_000) as g:
        g.write(b"x" * 5000)
    out = run(buffer.getvalue(), "application/x-gzip")
    assert out.fields == {"uncompressed_size": 5000}
    assert out.details["original_name"] == "report.txt"
    assert out.details["modified"] == "2020-09-13T12:26:40+00:00"


def test_a_tar_gz_is_listed_by_streaming():
    out = run(gzip.compress(make_tar()), "application/x-gzip", "a.tgz")
    assert out.fields["entry_count"] == 3
    assert out.details["tar"]["entries"][0]["name"] == "f0.bin"


def test_a_tar_bz2_is_listed_by_streaming():
    out = run(bz2.compress(make_tar()), "application/bzip2", "a.tbz2")
    assert out.fields["entry_count"] == 3
    assert out.details["block_size_kb"] == 900


def test_a_tar_xz_is_listed_by_streaming_and_its_index_gives_the_size():
    import lzma

    tar = make_tar()
    out = run(lzma.compress(tar, check=lzma.CHECK_CRC64), "application/x-xz", "a.tar.xz")
    assert out.fields["entry_count"] == 3
    assert out.fields["uncompressed_size"] == len(tar)
    assert (out.details["format"], out.details["check"]) == ("xz", "crc64")
    assert out.details["tar"]["entries"][0]["name"] == "f0.bin"


def test_a_plain_xz_gives_its_size_and_a_broken_one_is_not_listed():
    import lzma

    data = lzma.compress(b"just text\n" * 1000)
    assert run(data, "application/x-xz").fields["uncompressed_size"] == 10_000
    assert "entry_count" not in run(data[:40], "application/x-xz").fields


def test_a_compressed_bomb_stops_at_the_stream_budget(monkeypatch):
    monkeypatch.setattr(archive, "STREAM_BUDGET", 64 * 1024)
    started = time.monotonic()
    out = run(gzip.compress(make_tar(1) + b"\x00" * 50_000_000), "application/x-gzip")
    assert time.monotonic() - started < 5
    assert out.details["tar"]["entries_seen"] == 1


def seven_zip_header(contents: list[bytes], directory: str = "docs") -> bytes:
    """A plain 7z header database: one copy-coded folder holding the files, then a directory entry."""
    names = [f"docs/file{index}.txt" for index in range(len(contents))] + [directory]
    total = sum(map(len, contents))
    main = b"\x04" + b"\x06\x00\x01\x09" + number(total) + b"\x00"
    main += b"\x07\x0b\x01\x00" + b"\x01\x01\x00" + b"\x0c" + number(total) + b"\x00"
    main += b"\x08\x0d" + number(len(contents)) + b"\x09" + b"".join(number(len(c)) for c in contents[:-1]) + b"\x00"
    main += b"\x00"
    count = len(names)
    empty = int("0" * len(contents) + "1", 2) << (8 - count) if count <= 8 else 0
    raw_names = b"\x00" + b"".join(name.encode("utf-16-le") + b"\x00\x00" for name in names)
    files = b"\x05" + number(count) + b"\x0e\x01" + bytes([empty]) + b"\x0f\x01\x00"
    files += b"\x11" + number(len(raw_names)) + raw_names + b"\x00"
    return b"\x01" + main + files + b"\x00"


def number(value: int) -> bytes:
    """7z's variable-length number, in its one- and two-byte forms."""
    return bytes([value]) if value < 0x80 else bytes([0x80 | (value >> 8), value & 0xFF])


def seven_zip(contents: list[bytes], encode_header: bool) -> bytes:
    import lzma

    packed = b"".join(contents)
    database = seven_zip_header(contents)
    if encode_header:
        properties = {"id": lzma.FILTER_LZMA1, "lc": 3, "lp": 0, "pb": 2, "dict_size": 1 << 16}
        compressed = lzma.compress(database, format=lzma.FORMAT_RAW, filters=[properties])
        coder = b"\x23\x03\x01\x01\x05" + bytes([93]) + (1 << 16).to_bytes(4, "little")
        encoded = b"\x17" + b"\x06" + number(len(packed)) + b"\x01\x09" + number(len(compressed)) + b"\x00"
        encoded += b"\x07\x0b\x01\x00\x01" + coder + b"\x0c" + number(len(database)) + b"\x00\x00"
        packed, database = packed + compressed, encoded
    start = b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 4 + struct.pack("<QQI", len(packed), len(database), 0)
    return start + packed + database


@pytest.mark.parametrize("encode_header", [False, True])
def test_a_7z_lists_its_entries_from_the_header_database(encode_header):
    contents = [b"alpha" * 30, b"beta" * 200]
    out = run(seven_zip(contents, encode_header), "application/x-7z-compressed")
    assert out.fields["entry_count"] == 3
    assert out.fields["uncompressed_size"] == 150 + 800
    assert (out.details["file_count"], out.details["directory_count"]) == (2, 1)
    assert out.details["entries"] == ["docs/file0.txt", "docs/file1.txt", "docs"]
    assert out.details["header_encoded"] is encode_header
    assert not out.warnings


def test_a_7z_with_an_encrypted_header_is_encrypted_not_corrupt():
    database = b"\x17\x06\x00\x01\x09\x10\x00\x07\x0b\x01\x00\x01\x24\x06\xf1\x07\x01\x00\x0c\x20\x00\x00"
    start = b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 4 + struct.pack("<QQI", 16, len(database), 0)
    out = run(start + b"\x00" * 16 + database, "application/x-7z-compressed")
    assert out.fields["encrypted"] is True
    assert any("encrypted" in warning for warning in out.warnings)


def test_a_7z_pointing_past_its_end_is_corrupt():
    header = b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 4 + struct.pack("<QQI", 1000, 4, 0)
    with pytest.raises(ExtractionFailed):
        run(header, "application/x-7z-compressed")


def test_a_zstd_frame_header_gives_the_content_size():
    # single segment, 4-byte content size, checksum
    frame = b"\x28\xb5\x2f\xfd" + bytes([0b10100100]) + struct.pack("<I", 123456) + b"\x00" * 8
    out = run(frame, "application/zstd")
    assert out.fields == {"uncompressed_size": 123456}
    assert out.details["checksum"] is True


def rar4(files: list[tuple[str, bytes]]) -> bytes:
    """A RAR 4 archive of stored files, block by block (header CRC = low 16 bits of CRC-32), as WinRAR writes one."""

    def block(kind: int, flags: int, body: bytes) -> bytes:
        head = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    out = b"Rar!\x1a\x07\x00" + block(0x73, 0, b"\x00" * 6)
    for name, data in files:
        raw = name.encode()
        fixed = struct.pack(
            "<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), 0x5A8E3C21, 20, 0x30, len(raw), 0o100644
        )
        out += block(0x74, 0x8000, fixed + raw) + data
    return out + block(0x7B, 0x4000, b"")


def test_a_rar_is_listed_from_its_headers_without_any_external_tool(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no unrar, unar, 7z or bsdtar can be found
    files = [("notes.txt", b"hello"), ("img/a.png", b"\x89PNG\r\n\x1a\n")]
    out = run(rar4(files), "application/x-rar-compressed")
    assert out.fields["entry_count"] == 2
    assert out.fields["uncompressed_size"] == 5 + 8
    assert (out.details["format"], out.details["version"]) == ("rar", 4)
    assert [entry["name"] for entry in out.details["entries"]] == ["notes.txt", "img/a.png"]


def test_something_that_is_not_a_rar_is_corrupt():
    with pytest.raises(ExtractionFailed):
        run(b"Rar!\x1a\x07\x00" + b"\x00" * 20, "application/x-rar-compressed")
