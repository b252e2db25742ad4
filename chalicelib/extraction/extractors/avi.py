"""AVI: duration, frame rate, size and codecs from the RIFF `hdrl` list.

Only the header list (`avih`, one `strh`/`strf` pair per stream) and the
`INFO` tag list are read, each within a cap; the `movi` list holding the
media and the `idx1` index are skipped by their chunk headers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

MAX_LIST_BYTES = 1024 * 1024
MAX_CHUNKS = 1024
_AUDIO_FORMATS = {0x1: "pcm", 0x2: "adpcm", 0x6: "alaw", 0x7: "mulaw", 0x11: "ima-adpcm", 0x55: "mp3", 0xFF: "aac"}
_AUDIO_FORMATS |= {0x50: "mp2", 0x161: "wma", 0x162: "wma-pro", 0x2000: "ac3"}


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        raise ContainerError("media: not an AVI file")
    info = AVInfo(container="avi")
    tags: dict[str, str] = {}
    for list_type, data in riff_lists(file, size, head, (b"hdrl", b"INFO")):
        if list_type == b"hdrl":
            _header_list(data, info)
        else:
            tags.update(info_list(data))
    if "INAM" in tags:
        info.title = tags["INAM"]
    if info.created is None and "ICRD" in tags:
        info.created = _date(tags["ICRD"])
    return info


def riff_lists(file: BinaryIO, size: int, head: bytes, wanted: tuple[bytes, ...]) -> Iterator[tuple[bytes, bytes]]:
    """(list type, data) of each top-level RIFF LIST of a `wanted` type, within the caps; the rest is skipped.

    `head` is the file's first 12 bytes (RIFF, size, form type). Shared by AVI and WAV.
    """
    position, end = 12, min(size, 8 + struct.unpack("<I", head[4:8])[0])
    for _ in range(MAX_CHUNKS):
        if position + 12 > end:
            break
        file.seek(position)
        header = file.read(12)
        if len(header) < 12:
            break
        kind, length, list_type = struct.unpack("<4sI4s", header)
        if kind == b"LIST" and list_type in wanted and 4 <= length <= MAX_LIST_BYTES:
            yield list_type, file.read(length - 4)
        position += 8 + length + (length & 1)


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = 0
    while position + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, position)
        yield kind, data[position + 8 : position + 8 + length]
        position += 8 + length + (length & 1)


def _header_list(data: bytes, info: AVInfo) -> None:
    frames = micro_per_frame = 0
    for kind, payload in _chunks(data):
        if kind == b"avih" and len(payload) >= 40:
            micro_per_frame, _, _, _, frames = struct.unpack_from("<5I", payload)
            info.width, info.height = struct.unpack_from("<II", payload, 32)
        elif kind == b"LIST" and payload[:4] == b"strl":
            _stream(payload[4:], info)
        elif kind == b"IDIT":
            info.created = _date(payload.decode("latin-1"))
    if info.duration is None and frames and micro_per_frame:
        info.duration = round(frames * micro_per_frame / 1e6, 3)
    if info.frame_rate is None and micro_per_frame:
        info.frame_rate = round(1e6 / micro_per_frame, 3)
    info.width, info.height = info.width or None, info.height or None


def _stream(data: bytes, info: AVInfo) -> None:
    header = format_chunk = b""
    for kind, payload in _chunks(data):
        if kind == b"strh":
            header = payload
        elif kind == b"strf":
            format_chunk = payload
    if len(header) < 36:
        return
    stream_type, handler = header[:4], header[4:8]
    scale, rate, _, length = struct.unpack_from("<4I", header, 20)
    if stream_type == b"vids":
        info.video_tracks += 1
        if info.video_tracks == 1:
            codec = format_chunk[16:20] if len(format_chunk) >= 20 else handler
            info.video_codec = codec.decode("latin-1").strip("\x00 ") or None
            if scale and rate:
                info.frame_rate = round(rate / scale, 3)
                info.duration = round(length * scale / rate, 3) if length else None
    elif stream_type == b"auds":
        info.audio_tracks += 1
        if info.audio_tracks == 1 and len(format_chunk) >= 8:
            tag, channels, sample_rate = struct.unpack_from("<HHI", format_chunk)
            info.audio_codec = _AUDIO_FORMATS.get(tag, f"0x{tag:04x}")
            info.channels, info.sample_rate = channels or None, sample_rate or None
    else:
        info.other_tracks += 1


def info_list(data: bytes) -> dict[str, str]:
    """The tags of a RIFF INFO list by their four-letter ids (INAM, IART, ICRD ...); UTF-8, else Latin-1."""
    out = {}
    for kind, payload in _chunks(data):
        try:
            text = payload.decode("utf-8").strip("\x00 ")
        except UnicodeDecodeError:
            text = payload.decode("latin-1").strip("\x00 ")
        if text:
            out[kind.decode("latin-1")] = text
    return out


def _date(text: str) -> str | None:
    text = text.strip("\x00 \r\n")
    for pattern in ("%a %b %d %H:%M:%S %Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).isoformat()
        except ValueError:
            continue
    return None
