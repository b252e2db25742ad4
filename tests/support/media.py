"""ISO base media (MP4/QuickTime) files built in code, from a few hundred bytes to sparse gigabytes.

`mp4()` is a small complete movie; `write_large_mp4()` writes a file of any
size whose movie header sits after the media data (as cameras write them), as
a sparse file, so a test or benchmark can upload a "1 GB video" without
holding it in memory.
"""

from __future__ import annotations

import os
import struct
from typing import Any


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def video_trak(width: int = 1920, height: int = 1080, fps: int = 25, seconds: int = 10, rotate: bool = False) -> bytes:
    matrix = (
        (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
        if rotate
        else (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    )
    tkhd = full(
        b"tkhd",
        struct.pack(">IIIII", 0, 0, 1, 0, seconds * 1000)
        + b"\x00" * 16
        + struct.pack(">9i", *matrix)
        + struct.pack(">II", width << 16, height << 16),
    )
    timescale = fps * 1000
    mdhd = full(b"mdhd", struct.pack(">IIIIHH", 0, 0, timescale, timescale * seconds, 0x55C4, 0))
    hdlr = full(b"hdlr", b"\x00" * 4 + b"vide" + b"\x00" * 12 + b"Video\x00")
    entry = box(
        b"avc1", b"\x00" * 6 + struct.pack(">H", 1) + b"\x00" * 16 + struct.pack(">HH", width, height) + b"\x00" * 50
    )
    stsd = full(b"stsd", struct.pack(">I", 1) + entry)
    stts = full(b"stts", struct.pack(">III", 1, fps * seconds, 1000))
    stsz = full(b"stsz", struct.pack(">II", 0, fps * seconds) + b"\x00\x00\x10\x00" * fps * seconds)
    stbl = box(b"stbl", stsd + stts + stsz)
    return box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + box(b"minf", stbl)))


def audio_trak(rate: int = 48000, channels: int = 2, seconds: int = 10) -> bytes:
    mdhd = full(b"mdhd", struct.pack(">IIIIHH", 0, 0, rate, rate * seconds, 0x55C4, 0))
    hdlr = full(b"hdlr", b"\x00" * 4 + b"soun" + b"\x00" * 12 + b"Sound\x00")
    entry = box(
        b"mp4a",
        b"\x00" * 6 + struct.pack(">H", 1) + b"\x00" * 8 + struct.pack(">HHHHI", channels, 16, 0, 0, rate << 16),
    )
    stsd = full(b"stsd", struct.pack(">I", 1) + entry)
    stbl = box(b"stbl", stsd + full(b"stts", struct.pack(">III", 1, seconds * rate // 1024, 1024)))
    return box(b"trak", full(b"tkhd", b"\x00" * 80) + box(b"mdia", mdhd + hdlr + box(b"minf", stbl)))


def moov(seconds: int = 10, width: int = 1920, height: int = 1080, fps: int = 25, rotate: bool = False) -> bytes:
    mvhd = full(b"mvhd", struct.pack(">IIII", 3_700_000_000, 3_700_000_000, 1000, seconds * 1000) + b"\x00" * 80)
    video = video_trak(width=width, height=height, fps=fps, seconds=seconds, rotate=rotate)
    return box(b"moov", mvhd + video + audio_trak(seconds=seconds))


def mp4(brand: bytes = b"isom", **video: Any) -> bytes:
    return box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"mp41") + box(b"mdat", b"\x00" * 4096) + moov(**video)


def write_large_mp4(path: str | os.PathLike[str], size: int, seconds: int = 600) -> int:
    """A movie of exactly `size` bytes (ftyp, one large mdat, moov last), written sparse; returns the size."""
    head = box(b"ftyp", b"isom\x00\x00\x02\x00isommp41")
    tail = moov(seconds=seconds)
    mdat = size - len(head) - len(tail)
    if mdat < 16:
        raise ValueError(f"size must be at least {len(head) + len(tail) + 16} bytes")
    with open(path, "wb") as out:
        out.write(head + struct.pack(">I4s", mdat, b"mdat"))
        out.seek(size - len(tail))
        out.write(tail)
    return size
