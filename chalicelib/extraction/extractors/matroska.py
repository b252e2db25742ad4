"""Matroska/WebM: duration, tracks, codecs and sizes from EBML headers.

The Segment's top-level elements are walked by their headers: `Info`
(timestamp scale, duration, title, date) and `Tracks` (per track: type, codec,
pixel size, default frame duration, sampling rate, channels) are read whole
within a cap; `Cluster`s holding the media are never read. When `Info` or
`Tracks` come after the clusters, the `SeekHead` index says where they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

EBML, SEGMENT, SEEK_HEAD, INFO, TRACKS, CLUSTER = 0x1A45DFA3, 0x18538067, 0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1F43B675
DOC_TYPE, SEEK, SEEK_ID, SEEK_POSITION = 0x4282, 0x4DBB, 0x53AB, 0x53AC
TIMESTAMP_SCALE, DURATION, TITLE, DATE_UTC = 0x2AD7B1, 0x4489, 0x7BA9, 0x4461
TRACK_ENTRY, TRACK_TYPE, CODEC_ID, DEFAULT_DURATION = 0xAE, 0x83, 0x86, 0x23E383
VIDEO, AUDIO, PIXEL_WIDTH, PIXEL_HEIGHT, SAMPLING_FREQUENCY, CHANNELS = 0xE0, 0xE1, 0xB0, 0xBA, 0xB5, 0x9F

MAX_ELEMENT_BYTES = 1024 * 1024
MAX_TOP_LEVEL = 1024
UNKNOWN = -1
_EPOCH_2001 = datetime(2001, 1, 1, tzinfo=UTC)


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(64)
    element_id, header, length = _header(head, 0)
    if element_id != EBML or length == UNKNOWN:
        raise ContainerError("media: not an EBML file")
    doc_type = _children_map(head[header : header + length]).get(DOC_TYPE, b"").decode("ascii", "replace")
    info = AVInfo(container=doc_type.strip("\x00") or "matroska")
    segment_at = header + length
    file.seek(segment_at)
    element_id, header, length = _header(file.read(12), 0)
    if element_id != SEGMENT:
        raise ContainerError("media: no Segment element")
    start = segment_at + header
    end = size if length == UNKNOWN else min(size, start + length)
    found = _top_level(file, start, end, info)
    if INFO in found:
        _info(found[INFO], info)
    if TRACKS in found:
        _tracks(found[TRACKS], info)
    return info


def _top_level(file: BinaryIO, start: int, end: int, info: AVInfo) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    index: dict[int, int] = {}
    position = start
    for _ in range(MAX_TOP_LEVEL):
        if position + 2 > end:
            break
        file.seek(position)
        element_id, header, length = _header(file.read(12), 0)
        if not header or element_id == CLUSTER or length == UNKNOWN:
            break
        if element_id in (SEEK_HEAD, INFO, TRACKS) and element_id not in found:
            found[element_id] = _payload(file, position + header, length, info)
            if element_id == SEEK_HEAD:
                index = _seek_index(found[SEEK_HEAD], start)
        if INFO in found and TRACKS in found:
            return found
        position += header + length
    for wanted in (INFO, TRACKS):
        if wanted not in found and wanted in index and start <= index[wanted] < end:
            file.seek(index[wanted])
            element_id, header, length = _header(file.read(12), 0)
            if element_id == wanted and length != UNKNOWN:
                found[wanted] = _payload(file, index[wanted] + header, length, info)
    return found


def _payload(file: BinaryIO, start: int, length: int, info: AVInfo) -> bytes:
    if length > MAX_ELEMENT_BYTES:
        info.warnings.append(f"media: element of {length} bytes skipped")
        return b""
    file.seek(start)
    return file.read(length)


def _seek_index(data: bytes, segment_start: int) -> dict[int, int]:
    index = {}
    for element_id, payload in _children(data):
        if element_id == SEEK:
            entry = _children_map(payload)
            target = int.from_bytes(entry.get(SEEK_ID, b""), "big")
            index[target] = segment_start + int.from_bytes(entry.get(SEEK_POSITION, b""), "big")
    return index


def _info(data: bytes, info: AVInfo) -> None:
    fields = _children_map(data)
    scale = int.from_bytes(fields.get(TIMESTAMP_SCALE, b""), "big") or 1_000_000
    duration = _float(fields.get(DURATION))
    if duration and duration > 0:
        info.duration = round(duration * scale / 1e9, 3)
    title = fields.get(TITLE)
    if title:
        info.title = title.decode("utf-8", "replace").strip("\x00 ") or None
    if DATE_UTC in fields and len(fields[DATE_UTC]) == 8:
        nanoseconds = struct.unpack(">q", fields[DATE_UTC])[0]
        try:
            info.created = (_EPOCH_2001 + timedelta(microseconds=nanoseconds // 1000)).isoformat()
        except OverflowError:
            info.warnings.append("media: DateUTC out of range")


def _tracks(data: bytes, info: AVInfo) -> None:
    for element_id, payload in _children(data):
        if element_id != TRACK_ENTRY:
            continue
        entry = _children_map(payload)
        kind = int.from_bytes(entry.get(TRACK_TYPE, b""), "big")
        codec = entry.get(CODEC_ID, b"").decode("ascii", "replace").strip("\x00") or None
        if kind == 1:
            info.video_tracks += 1
            if info.video_tracks == 1:
                _video_track(entry, codec, info)
        elif kind == 2:
            info.audio_tracks += 1
            if info.audio_tracks == 1:
                _audio_track(entry, codec, info)
        else:
            info.other_tracks += 1


def _video_track(entry: dict[int, bytes], codec: str | None, info: AVInfo) -> None:
    info.video_codec = codec
    video = _children_map(entry.get(VIDEO, b""))
    info.width = int.from_bytes(video.get(PIXEL_WIDTH, b""), "big") or None
    info.height = int.from_bytes(video.get(PIXEL_HEIGHT, b""), "big") or None
    frame_ns = int.from_bytes(entry.get(DEFAULT_DURATION, b""), "big")
    if frame_ns:
        info.frame_rate = round(1e9 / frame_ns, 3)


def _audio_track(entry: dict[int, bytes], codec: str | None, info: AVInfo) -> None:
    info.audio_codec = codec
    audio = _children_map(entry.get(AUDIO, b""))
    rate = _float(audio.get(SAMPLING_FREQUENCY))
    info.sample_rate = round(rate) if rate and rate > 0 else None
    info.channels = int.from_bytes(audio.get(CHANNELS, b""), "big") or None


def _children(data: bytes) -> Iterator[tuple[int, bytes]]:
    position = 0
    while position < len(data):
        element_id, header, length = _header(data, position)
        if not header or length == UNKNOWN:
            return
        yield element_id, data[position + header : position + header + length]
        position += header + length


def _children_map(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for element_id, payload in _children(data):
        out.setdefault(element_id, payload)
    return out


def _header(data: bytes, position: int) -> tuple[int, int, int]:
    """(element id, header length, payload length or UNKNOWN); header length 0 when broken."""
    element_id, id_length = _vint(data, position, keep_marker=True)
    if not id_length:
        return 0, 0, 0
    length, size_length = _vint(data, position + id_length, keep_marker=False)
    if not size_length:
        return 0, 0, 0
    if length == (1 << (7 * size_length)) - 1:
        length = UNKNOWN
    return element_id, id_length + size_length, length


def _vint(data: bytes, position: int, keep_marker: bool) -> tuple[int, int]:
    if position >= len(data) or data[position] == 0:
        return 0, 0
    first = data[position]
    width = 8 - first.bit_length() + 1
    if position + width > len(data):
        return 0, 0
    value = first if keep_marker else first & ((1 << (8 - width)) - 1)
    for byte in data[position + 1 : position + width]:
        value = (value << 8) | byte
    return value, width


def _float(data: bytes | None) -> float | None:
    if data is None:
        return None
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    return None
