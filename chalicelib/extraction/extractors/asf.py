"""ASF (WMV, WMA): duration, bitrate and per-stream audio/video fields from the header objects.

mutagen reads ASF tags well but describes only one audio stream: on a video
file its codec, sample rate and bitrate are the audio's, and a file cut short
comes out with no duration. The ASF Header Object, always at the start and
complete before the first data packet, says it all:

- File Properties: play duration minus preroll (both stated, so a truncated
  file still has its length), creation date, the broadcast flag (duration
  unknown);
- Stream Properties, one per stream: audio WAVEFORMATEX (codec id, channels,
  sample rate) and video BITMAPINFOHEADER (size, FourCC), also when nested in
  an Extended Stream Properties object, which states the frame time;
- Stream Bitrate Properties: the bitrate of each stream;
- Content Description: title, author and copyright.

Only the header object is read (capped); the data packets are never touched.
Layout: "Advanced Systems Format (ASF) Specification", revision 01.20.05,
sections 3.1-3.4, 3.10, 3.12, 4.1, 9.1-9.2.
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

MAX_HEADER_BYTES = 1024 * 1024
MAX_OBJECTS = 512


def _guid(text: str) -> bytes:
    return uuid.UUID(text).bytes_le


HEADER = _guid("75B22630-668E-11CF-A6D9-00AA0062CE6C")
_FILE_PROPERTIES = _guid("8CABDCA1-A947-11CF-8EE4-00C00C205365")
_STREAM_PROPERTIES = _guid("B7DC0791-A9B7-11CF-8EE6-00C00C205365")
_HEADER_EXTENSION = _guid("5FBF03B5-A92E-11CF-8EE3-00C00C205365")
_EXTENDED_STREAM_PROPERTIES = _guid("14E6A5CB-C672-4332-8399-A96952065B5A")
_STREAM_BITRATE_PROPERTIES = _guid("7BF875CE-468D-11D1-8D82-006097C9A2B2")
_CONTENT_DESCRIPTION = _guid("75B22633-668E-11CF-A6D9-00AA0062CE6C")
_AUDIO = _guid("F8699E40-5B4D-11CF-A8FD-00805F5C442B")
_VIDEO = _guid("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_AUDIO_CODECS = {0x1: "pcm", 0x2: "adpcm", 0x6: "alaw", 0x7: "mulaw", 0x55: "mp3", 0x0A: "wmavoice", 0x2000: "ac3"}
_AUDIO_CODECS |= {0x160: "wmav1", 0x161: "wmav2", 0x162: "wmapro", 0x163: "wmalossless", 0xFF: "aac", 0x1610: "aac"}
_VIDEO_CODECS = {"WMV1": "wmv1", "WMV2": "wmv2", "WMV3": "wmv3", "WMVA": "vc1", "WVC1": "vc1", "WMVP": "wmv3"}
_VIDEO_CODECS |= {"MP43": "msmpeg4v3", "MP42": "msmpeg4v2", "MP4S": "mpeg4", "M4S2": "mpeg4", "H264": "h264"}


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(30)
    if len(head) < 30 or head[:16] != HEADER:
        raise ContainerError("media: not an ASF file")
    length, count = struct.unpack_from("<QI", head, 16)
    if length < 30:
        raise ContainerError("media: ASF header object has an impossible size")
    if length > MAX_HEADER_BYTES:
        raise ContainerError(f"media: ASF header object of {length} bytes is over the {MAX_HEADER_BYTES} byte cap")
    data = head + file.read(length - 30)
    info = AVInfo(container="asf")
    state = _State()
    for guid, body in _objects(data, 30, len(data), min(count, MAX_OBJECTS)):
        _object(guid, body, info, state)
    if len(data) < length:
        info.warnings.append("media: ASF header object cut short; fields after the cut are missing")
    _finish(info, state, size)
    return info


class _State:
    def __init__(self) -> None:
        self.duration: float | None = None
        self.max_bitrate: int | None = None
        self.file_size: int | None = None
        self.stream_bitrates: dict[int, int] = {}
        self.frame_times: dict[int, int] = {}
        self.video_stream: int | None = None
        self.audio_bitrate: int | None = None


def _objects(data: bytes, start: int, end: int, limit: int) -> list[tuple[bytes, bytes]]:
    """(GUID, body) of each object between start and end; stops at a size that does not fit."""
    out: list[tuple[bytes, bytes]] = []
    position = start
    while position + 24 <= end and len(out) < limit:
        guid = data[position : position + 16]
        (length,) = struct.unpack_from("<Q", data, position + 16)
        if length < 24 or position + length > end:
            break
        out.append((guid, data[position + 24 : position + length]))
        position += length
    return out


def _object(guid: bytes, body: bytes, info: AVInfo, state: _State) -> None:
    if guid == _FILE_PROPERTIES:
        _file_properties(body, info, state)
    elif guid == _STREAM_PROPERTIES:
        _stream_properties(body, info, state)
    elif guid == _HEADER_EXTENSION and len(body) >= 22:
        for inner, inner_body in _objects(body, 22, len(body), MAX_OBJECTS):
            if inner == _EXTENDED_STREAM_PROPERTIES:
                _extended_stream_properties(inner_body, info, state)
    elif guid == _STREAM_BITRATE_PROPERTIES and len(body) >= 2:
        (count,) = struct.unpack_from("<H", body)
        for index in range(min(count, 127)):
            if 2 + 6 * index + 6 > len(body):
                break
            flags, bitrate = struct.unpack_from("<HI", body, 2 + 6 * index)
            state.stream_bitrates[flags & 0x7F] = bitrate
    elif guid == _CONTENT_DESCRIPTION:
        _content_description(body, info)


def _file_properties(body: bytes, info: AVInfo, state: _State) -> None:
    if len(body) < 80:
        return
    file_size, created, _, play, _, preroll, flags = struct.unpack_from("<QQQQQQI", body, 16)
    if 0 < created < 1 << 62:
        when = _FILETIME_EPOCH + timedelta(microseconds=created // 10)
        if when > _UNIX_EPOCH:  # muxers write 0 or the Unix epoch when they know no date
            info.created = when.isoformat().replace("+00:00", "Z")
    if not flags & 1 and play:  # bit 0: broadcast; play duration and file size are then not valid
        seconds = play / 1e7 - preroll / 1000
        state.duration = seconds if seconds > 0 else None
        state.file_size = file_size or None
    (max_bitrate,) = struct.unpack_from("<I", body, 76)
    state.max_bitrate = max_bitrate or None


def _stream_properties(body: bytes, info: AVInfo, state: _State) -> None:
    if len(body) < 54:
        return
    kind = body[:16]
    specific_length, _ = struct.unpack_from("<II", body, 40)
    (flags,) = struct.unpack_from("<H", body, 48)
    number = flags & 0x7F
    specific = body[54 : 54 + specific_length]
    if kind == _AUDIO:
        info.audio_tracks += 1
        if info.audio_tracks == 1 and len(specific) >= 16:
            codec, channels, rate, byte_rate = struct.unpack_from("<HHII", specific)
            info.audio_codec = _AUDIO_CODECS.get(codec, f"0x{codec:04x}")
            info.channels, info.sample_rate = channels or None, rate or None
            state.audio_bitrate = byte_rate * 8 or None
    elif kind == _VIDEO:
        info.video_tracks += 1
        if info.video_tracks == 1 and len(specific) >= 11 + 20:
            width, height = struct.unpack_from("<II", specific)
            fourcc = specific[11 + 16 : 11 + 20].decode("latin-1").strip("\x00 ")
            info.width, info.height = width or None, height or None
            info.video_codec = _VIDEO_CODECS.get(fourcc.upper(), fourcc.lower() or None)
            state.video_stream = number
    else:
        info.other_tracks += 1


def _extended_stream_properties(body: bytes, info: AVInfo, state: _State) -> None:
    """Frame time per stream; a Stream Properties object may be embedded after the names and extensions."""
    if len(body) < 64:
        return
    number, _, frame_time, names, extensions = struct.unpack_from("<HHQHH", body, 48)
    if frame_time:
        state.frame_times[number] = frame_time
    position = 64
    for _ in range(names):
        if position + 4 > len(body):
            return
        position += 4 + struct.unpack_from("<H", body, position + 2)[0]
    for _ in range(extensions):
        if position + 22 > len(body):
            return
        position += 22 + struct.unpack_from("<I", body, position + 18)[0]
    for guid, inner in _objects(body, position, len(body), 1):
        if guid == _STREAM_PROPERTIES:
            _stream_properties(inner, info, state)


def _content_description(body: bytes, info: AVInfo) -> None:
    if len(body) < 10:
        return
    lengths = struct.unpack_from("<5H", body)
    position, values = 10, []
    for length in lengths:
        values.append(body[position : position + length].decode("utf-16-le", "replace").rstrip("\x00").strip())
        position += length
    info.title = values[0][:1000] or None
    info.copyright = values[2][:1000] or None


def _finish(info: AVInfo, state: _State, size: int) -> None:
    if state.file_size and size < state.file_size:
        info.warnings.append(f"media: the ASF header states {state.file_size} bytes, the file has {size}; cut short")
    info.duration = round(state.duration, 3) if state.duration else None
    if state.video_stream is not None and state.frame_times.get(state.video_stream):
        info.frame_rate = round(1e7 / state.frame_times[state.video_stream], 3)
    total = sum(state.stream_bitrates.values())
    if not total and info.video_tracks == 0:
        total = state.audio_bitrate or 0
    if not total and info.duration:  # the size the header states: a file cut short keeps its true average
        total = round((state.file_size or size) * 8 / info.duration)
    # The File Properties maximum is an upper bound, often absurd; it is only a last resort.
    info.bitrate = total or (state.max_bitrate if state.max_bitrate and state.max_bitrate < 100_000_000 else None)
