"""The JPEG segment walk shared by the sparse header reader and the embedded-preview finder."""

from __future__ import annotations

from chalicelib.extraction.extractors.jpeg_header import SOI, segments


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _walk(data: bytes) -> list[tuple[int, int, int]]:
    return [(s.marker, s.start, s.length) for s in segments(lambda start, n: data[start : start + n])]


def test_the_walk_names_each_segment_up_to_the_start_of_scan_and_skips_fill_bytes() -> None:
    app1, dqt, sos = _segment(0xE1, b"Exif\x00\x00"), _segment(0xDB, b"\x00" * 65), _segment(0xDA, b"\x01" * 10)
    data = SOI + app1 + b"\xff\xff" + dqt + sos + b"entropy-coded data" + _segment(0xFE, b"never reached")
    dqt_at = 2 + len(app1) + 2
    assert _walk(data) == [
        (0xE1, 2, len(app1) - 2),
        (0xDB, dqt_at, len(dqt) - 2),
        (0xDA, dqt_at + len(dqt), len(sos) - 2),
    ]


def test_the_walk_ends_at_the_end_of_the_image_a_bad_length_or_a_short_read() -> None:
    comment = _segment(0xFE, b"hello")
    assert _walk(SOI + comment + b"\xff\xd9" + _segment(0xFE, b"after")) == [(0xFE, 2, 7)]
    assert _walk(SOI + b"\xff\xe0\x00\x01" + comment) == []
    assert _walk(SOI + comment[:3]) == []
    assert _walk(SOI + b"\x00\x00" + comment) == []
