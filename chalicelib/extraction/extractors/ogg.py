"""Ogg video (Theora): size, frame rate, duration and the streams beside it.

mutagen reads an Ogg file as one audio stream: a Theora file comes out as
"audio" without a picture size, and the Vorbis or Opus track beside the video
is not described. Each logical stream of an Ogg file starts with a
beginning-of-stream page holding its identification header, all of them
before any data page (RFC 3533 section 4), so the head of the file names every
stream; the last pages, read from the tail, give each stream's final granule
position and with it the duration. Nothing between is read.

Header layouts: Theora specification section 6.2 (identification header),
Vorbis I specification section 4.2.2, RFC 7845 section 5.1 (OpusHead).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024
MAX_STREAMS = 32


@dataclass
class _Stream:
    kind: str
    rate: float = 0.0  # frames (Theora) or samples (audio) per second
    granule_shift: int = 0
    pre_skip: int = 0


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(HEAD_BYTES)
    if head[:4] != b"OggS":
        raise ContainerError("media: not an Ogg file")
    info = AVInfo(container="ogg")
    streams: dict[int, _Stream] = {}
    for serial, flags, _, payload in _pages(head):
        if not flags & 0x02:  # the beginning-of-stream pages come first; the first other page ends them
            break
        if len(streams) < MAX_STREAMS:
            streams[serial] = _identify(payload, info)
    if not any(stream.kind == "theora" for stream in streams.values()):
        raise ContainerError("media: no Theora stream in this Ogg file")
    info.duration = _duration(file, size, head, streams)
    return info


def _pages(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(serial, header flags, granule position, payload) of the whole pages in data."""
    pages: list[tuple[int, int, int, bytes]] = []
    position = data.find(b"OggS")
    while position >= 0 and position + 27 <= len(data):
        flags, granule, serial = struct.unpack_from("<BqI", data, position + 5)
        count = data[position + 26]
        body = position + 27 + count
        length = sum(data[position + 27 : body])
        if body + length > len(data):
            break
        pages.append((serial, flags, granule, data[body : body + length]))
        position = data.find(b"OggS", body + length)
    return pages


def _identify(payload: bytes, info: AVInfo) -> _Stream:
    if payload[:7] == b"\x80theora" and len(payload) >= 42:
        info.video_tracks += 1
        numerator, denominator = struct.unpack_from(">II", payload, 22)
        shift = (int.from_bytes(payload[40:42], "big") >> 5) & 0x1F
        if info.video_tracks == 1:
            info.video_codec = "theora"
            info.width = int.from_bytes(payload[14:17], "big") or None
            info.height = int.from_bytes(payload[17:20], "big") or None
            info.frame_rate = round(numerator / denominator, 3) if numerator and denominator else None
        return _Stream("theora", numerator / denominator if denominator else 0.0, shift)
    if payload[:7] == b"\x01vorbis" and len(payload) >= 16:
        channels, rate = struct.unpack_from("<BI", payload, 11)
        return _audio(info, "vorbis", channels, rate, 0)
    if payload[:8] == b"OpusHead" and len(payload) >= 16:
        channels, pre_skip = struct.unpack_from("<BH", payload, 9)
        return _audio(info, "opus", channels, 48000, pre_skip)
    if payload[:5] == b"\x7fFLAC" and len(payload) >= 30:
        packed = int.from_bytes(payload[27:30], "big")
        return _audio(info, "flac", ((packed >> 1) & 0x7) + 1, packed >> 4, 0)
    if payload[:8] == b"Speex   " and len(payload) >= 52:
        rate, _, _, channels = struct.unpack_from("<IIII", payload, 36)
        return _audio(info, "speex", channels, rate, 0)
    info.other_tracks += 1
    return _Stream("other")


def _audio(info: AVInfo, codec: str, channels: int, rate: int, pre_skip: int) -> _Stream:
    info.audio_tracks += 1
    if info.audio_tracks == 1:
        info.audio_codec, info.channels, info.sample_rate = codec, channels or None, rate or None
    return _Stream(codec, float(rate), 0, pre_skip)


def _duration(file: BinaryIO, size: int, head: bytes, streams: dict[int, _Stream]) -> float | None:
    """The longest stream's length from the last granule position each stream states in the tail."""
    if size <= len(head):
        tail = head
    else:
        file.seek(max(0, size - TAIL_BYTES))
        tail = file.read(TAIL_BYTES)
    last: dict[int, int] = {}
    for serial, _, granule, _ in _pages(tail):
        if serial in streams and granule >= 0:
            last[serial] = granule
    seconds = [_seconds(streams[serial], granule) for serial, granule in last.items()]
    longest = max((value for value in seconds if value), default=None)
    return round(longest, 3) if longest else None


def _seconds(stream: _Stream, granule: int) -> float | None:
    if not stream.rate:
        return None
    if stream.kind == "theora":  # frames = key frame number + frames since it
        frames = (granule >> stream.granule_shift) + (granule & ((1 << stream.granule_shift) - 1))
        return frames / stream.rate
    return max(0, granule - stream.pre_skip) / stream.rate
