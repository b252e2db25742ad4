"""FLV: duration, size, frame rate and codecs from the `onMetaData` script tag.

The first script tag is decoded as AMF0 (bounded in depth, entries and
size); the first audio and video tag headers fill in codecs, sample rate and
channels when the metadata is missing, and the first video tag's own header
the picture size (and, for H.264, the frame rate): the AVC sequence header's
SPS or the Sorenson H.263 picture header (`videoheaders`). Only the first few
tags are visited.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from chalicelib.extraction.extractors import videoheaders
from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

MAX_SCRIPT_BYTES = 256 * 1024
MAX_VIDEO_HEADER = 1024
MAX_TAGS = 64
MAX_AMF_ENTRIES = 1024
MAX_AMF_DEPTH = 8
_VIDEO_CODECS = {2: "h263", 3: "screen", 4: "vp6", 5: "vp6a", 6: "screen2", 7: "h264", 12: "hevc"}
_AUDIO_CODECS = {0: "pcm", 1: "adpcm", 2: "mp3", 3: "pcm", 4: "nellymoser", 5: "nellymoser", 6: "nellymoser"}
_AUDIO_CODECS |= {7: "alaw", 8: "mulaw", 10: "aac", 11: "speex", 14: "mp3"}
_AUDIO_RATES = (5512, 11025, 22050, 44100)


class _AmfError(ValueError):
    pass


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(9)
    if len(head) < 9 or head[:3] != b"FLV":
        raise ContainerError("media: not an FLV file")
    info = AVInfo(container="flv")
    position = struct.unpack(">I", head[5:9])[0] + 4
    meta: dict[str, Any] = {}
    picture = videoheaders.Picture()
    seen_audio = seen_video = False
    for _ in range(MAX_TAGS):
        file.seek(position)
        header = file.read(12)
        if len(header) < 12:
            break
        kind, length = header[0] & 0x1F, int.from_bytes(header[1:4], "big")
        if kind == 18 and not meta and length <= MAX_SCRIPT_BYTES:
            file.seek(position + 11)
            meta = _script(file.read(length), info)
        elif kind == 8 and not seen_audio and length:
            seen_audio = True
            _audio_tag(header[11], info)
        elif kind == 9 and not seen_video and length:
            seen_video = True
            info.video_codec = _VIDEO_CODECS.get(header[11] & 0x0F)
            file.seek(position + 11)
            picture = _first_picture(header[11] & 0x0F, file.read(min(length, MAX_VIDEO_HEADER)))
        if (meta or position > 1 << 20) and seen_audio and seen_video:
            break
        position += 11 + length + 4
    info.video_tracks, info.audio_tracks = int(seen_video), int(seen_audio)
    _apply(meta, info)
    if not (info.width and info.height) and picture.width and picture.height:
        info.width, info.height = picture.width, picture.height
    info.frame_rate = info.frame_rate or picture.frame_rate
    if info.duration is None:
        last = _last_timestamp(file, size)  # the last frame starts then and lasts one frame time
        info.duration = round(last + (1 / info.frame_rate if info.frame_rate else 0), 3) if last else None
    return info


def _last_timestamp(file: BinaryIO, size: int) -> float | None:
    """Without onMetaData: the last tag's timestamp, found through the PreviousTagSize that ends the file."""
    if size < 13 + 15:
        return None
    file.seek(size - 4)
    (previous,) = struct.unpack(">I", file.read(4).rjust(4, b"\x00"))
    if not 11 < previous < size - 13:
        return None
    file.seek(size - 4 - previous)
    header = file.read(8)
    if len(header) < 8 or header[0] & 0x1F not in (8, 9, 18):
        return None
    milliseconds = int.from_bytes(header[4:7], "big") | (header[7] << 24)
    return round(milliseconds / 1000, 3) or None


def _first_picture(codec: int, payload: bytes) -> videoheaders.Picture:
    """The size a video tag states itself: its first byte is the frame type and codec id."""
    if codec == 7 and payload[1:2] == b"\x00":  # AVC sequence header: composition time, then the record
        return videoheaders.avc_configuration(payload[5:])
    if codec == 2:
        return videoheaders.sorenson_h263(payload[1:])
    return videoheaders.Picture()


def _audio_tag(flags: int, info: AVInfo) -> None:
    info.audio_codec = _AUDIO_CODECS.get(flags >> 4)
    info.sample_rate = _AUDIO_RATES[(flags >> 2) & 0x3]
    info.channels = 2 if flags & 1 else 1


def _script(data: bytes, info: AVInfo) -> dict[str, Any]:
    try:
        name, position = _value(data, 0, 0)
        if name != "onMetaData":
            return {}
        value, _ = _value(data, position, 0)
    except (_AmfError, struct.error, IndexError, UnicodeDecodeError) as exc:
        info.warnings.append(f"media: onMetaData unreadable ({exc})")
        return {}
    return value if isinstance(value, dict) else {}


def _apply(meta: dict[str, Any], info: AVInfo) -> None:
    def number(key: str) -> float | None:
        value = meta.get(key)
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    duration, width, height, rate = number("duration"), number("width"), number("height"), number("framerate")
    info.duration = round(duration, 3) if duration else None
    info.width, info.height = (int(width) if width else None), (int(height) if height else None)
    info.frame_rate = round(rate, 3) if rate else None
    sample_rate = number("audiosamplerate")
    if sample_rate and sample_rate > 100:
        info.sample_rate = int(sample_rate)
    if isinstance(meta.get("stereo"), bool):
        info.channels = 2 if meta["stereo"] else 1
    kbps = (number("audiodatarate") or 0) + (number("videodatarate") or 0)
    info.bitrate = round(kbps * 1000) or None
    video_codec, audio_codec = number("videocodecid"), number("audiocodecid")
    if video_codec is not None and info.video_codec is None:
        info.video_codec = _VIDEO_CODECS.get(int(video_codec))
    if audio_codec is not None and info.audio_codec is None:
        info.audio_codec = _AUDIO_CODECS.get(int(audio_codec))
    if isinstance(meta.get("title"), str):
        info.title = meta["title"]


def _value(data: bytes, position: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_AMF_DEPTH:
        raise _AmfError("nested too deeply")
    marker = data[position]
    position += 1
    if marker == 0:
        return struct.unpack_from(">d", data, position)[0], position + 8
    if marker == 1:
        return bool(data[position]), position + 1
    if marker == 2:
        return _string(data, position, 2)
    if marker == 12:
        return _string(data, position, 4)
    if marker in (3, 8):
        return _object(data, position + (4 if marker == 8 else 0), depth)
    if marker == 10:
        count = struct.unpack_from(">I", data, position)[0]
        position += 4
        items = []
        for _ in range(min(count, MAX_AMF_ENTRIES)):
            item, position = _value(data, position, depth + 1)
            items.append(item)
        return items, position
    if marker == 11:
        return struct.unpack_from(">d", data, position)[0], position + 10
    if marker in (5, 6):
        return None, position
    raise _AmfError(f"unsupported AMF0 marker {marker}")


def _string(data: bytes, position: int, width: int) -> tuple[str, int]:
    length = int.from_bytes(data[position : position + width], "big")
    start = position + width
    if start + length > len(data):
        raise _AmfError("string runs past the tag")
    return data[start : start + length].decode("utf-8", "replace"), start + length


def _object(data: bytes, position: int, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    for _ in range(MAX_AMF_ENTRIES):
        if position + 3 <= len(data) and data[position : position + 3] == b"\x00\x00\x09":
            return out, position + 3
        if position + 2 > len(data):
            return out, position
        key, position = _string(data, position, 2)
        value, position = _value(data, position, depth + 1)
        out[key] = value
    return out, position
