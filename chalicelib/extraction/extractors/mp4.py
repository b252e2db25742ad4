"""MP4/MOV/M4A movie structure: tracks, codecs, dimensions, frame rate, duration.

mutagen reads tags and audio stream details but not video tracks, so the
`moov` tree is walked here: `mvhd` (duration, creation time), and per `trak`
`tkhd` (display size, rotation matrix), `mdhd` (timescale), `hdlr` (track
kind), the first `stsd` entry (codec, coded size, channels, sample rate) and
`stts` (frame rate). Only those small boxes are read; `mdat` and the sample
tables (`stsz`, `stco`) are skipped by their headers, so a file whose `moov`
sits after gigabytes of media costs a few header reads plus the boxes above.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from chalicelib.extraction import isobmff
from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

MAX_SMALL_BOX = 4096
MAX_STTS_BYTES = 64 * 1024
MAX_TRACKS = 64
MAX_META_BYTES = 256 * 1024
_ISO6709 = re.compile(rb"([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)")
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=UTC)
_UNIX_EPOCH_IN_1904_SECONDS = 2_082_844_800


def read(file: BinaryIO, size: int) -> AVInfo:
    info = AVInfo(container="mp4")
    moov = None
    try:
        for box in isobmff.top_level(file, size):
            if box.kind == "ftyp":
                info.brand = isobmff.read_payload(file, box, 4).decode("latin-1").strip() or None
            elif box.kind == "moov":
                moov = box
                break
    except isobmff.BoxError as exc:
        info.warnings.append(f"media: {exc}")
    if info.brand in (None, "qt"):
        info.container = "quicktime"
    if moov is None:
        raise ContainerError("media: no movie header (moov) box")
    _movie(file, moov, info)
    return info


def _movie(file: BinaryIO, moov: isobmff.Box, info: AVInfo) -> None:
    tracks = 0
    for box in isobmff.boxes(file, moov.payload_start, moov.end):
        if box.kind in ("udta", "meta") and box.payload_size <= MAX_META_BYTES:
            _user_data(isobmff.read_payload(file, box, MAX_META_BYTES), box.kind, info)
        elif box.kind == "mvhd":
            _movie_header(isobmff.read_payload(file, box, MAX_SMALL_BOX), info)
        elif box.kind == "trak" and tracks < MAX_TRACKS:
            tracks += 1
            try:
                _track(file, box, info)
            except (isobmff.BoxError, struct.error) as exc:
                info.warnings.append(f"media: track {tracks} unreadable ({exc})")


def _movie_header(data: bytes, info: AVInfo) -> None:
    if len(data) < 20:
        return
    if data[0] == 1 and len(data) >= 32:
        created, _, timescale, duration = struct.unpack_from(">QQIQ", data, 4)
    else:
        created, _, timescale, duration = struct.unpack_from(">IIII", data, 4)
    if timescale and duration and duration != 0xFFFFFFFF and duration != 0xFFFFFFFFFFFFFFFF:
        info.duration = round(duration / timescale, 3)
    info.created = _mac_time(created)


def _mac_time(seconds: int) -> str | None:
    """Seconds since 1904; zero and the Unix epoch (an unset field) are unknown."""
    if seconds in (0, _UNIX_EPOCH_IN_1904_SECONDS):
        return None
    try:
        return (_EPOCH_1904 + timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return None


def _track(file: BinaryIO, trak: isobmff.Box, info: AVInfo) -> None:
    tkhd = isobmff.find(file, trak, "tkhd")
    mdia = isobmff.find(file, trak, "mdia")
    if mdia is None:
        return
    handler = _handler(file, mdia)
    timescale, duration = _media_header(file, mdia)
    stbl = isobmff.find_path(file, mdia, "minf/stbl")
    if handler == "vide":
        info.video_tracks += 1
        if info.video_tracks == 1:
            _video(file, tkhd, stbl, timescale, duration, info)
    elif handler == "soun":
        info.audio_tracks += 1
        if info.audio_tracks == 1 and stbl is not None:
            _audio(file, stbl, info)
    else:
        info.other_tracks += 1


def _handler(file: BinaryIO, mdia: isobmff.Box) -> str | None:
    hdlr = isobmff.find(file, mdia, "hdlr")
    if hdlr is None:
        return None
    data = isobmff.read_payload(file, hdlr, 12)
    return data[8:12].decode("latin-1") if len(data) >= 12 else None


def _media_header(file: BinaryIO, mdia: isobmff.Box) -> tuple[int, int]:
    mdhd = isobmff.find(file, mdia, "mdhd")
    if mdhd is None:
        return 0, 0
    data = isobmff.read_payload(file, mdhd, 64)
    if data[:1] == b"\x01" and len(data) >= 32:
        timescale, duration = struct.unpack_from(">IQ", data, 20)
    elif len(data) >= 20:
        timescale, duration = struct.unpack_from(">II", data, 12)
    else:
        return 0, 0
    return timescale, duration


def _video(
    file: BinaryIO,
    tkhd: isobmff.Box | None,
    stbl: isobmff.Box | None,
    timescale: int,
    duration: int,
    info: AVInfo,
) -> None:
    if tkhd is not None:
        _track_header(isobmff.read_payload(file, tkhd, 128), info)
    if stbl is None:
        return
    entry = _sample_entry(file, stbl)
    if entry is not None:
        codec, body = entry
        info.video_codec = codec
        if (info.width is None or info.height is None) and len(body) >= 28:
            info.width, info.height = struct.unpack_from(">HH", body, 24)
    info.frame_rate = _frame_rate(file, stbl, timescale, duration)


def _track_header(data: bytes, info: AVInfo) -> None:
    offset = 4 + (32 if data[:1] == b"\x01" else 20) + 16
    if len(data) < offset + 44:
        return
    a, b = struct.unpack_from(">ii", data, offset)
    width, height = struct.unpack_from(">II", data, offset + 36)
    if width >> 16 and height >> 16:
        info.width, info.height = width >> 16, height >> 16
    angle = round(math.degrees(math.atan2(b / 65536, a / 65536))) % 360
    info.rotation = angle if angle in (0, 90, 180, 270) else None


def _sample_entry(file: BinaryIO, stbl: isobmff.Box) -> tuple[str, bytes] | None:
    stsd = isobmff.find(file, stbl, "stsd")
    if stsd is None:
        return None
    data = isobmff.read_payload(file, stsd, 128)
    if len(data) < 16:
        return None
    codec = data[12:16].decode("latin-1").strip()
    return (codec, data[16:]) if codec else None


def _audio(file: BinaryIO, stbl: isobmff.Box, info: AVInfo) -> None:
    entry = _sample_entry(file, stbl)
    if entry is None:
        return
    codec, body = entry
    info.audio_codec = codec
    if len(body) >= 28:
        channels, _, _, _, rate = struct.unpack_from(">HHHHI", body, 16)
        info.channels = channels or None
        info.sample_rate = (rate >> 16) or None


def _frame_rate(file: BinaryIO, stbl: isobmff.Box, timescale: int, duration: int) -> float | None:
    stts = isobmff.find(file, stbl, "stts")
    if stts is None or not timescale:
        return None
    data = isobmff.read_payload(file, stts, MAX_STTS_BYTES)
    if len(data) < 8:
        return None
    count = struct.unpack_from(">I", data, 4)[0]
    available = min(count, (len(data) - 8) // 8)
    samples = total = 0
    for index in range(available):
        sample_count, delta = struct.unpack_from(">II", data, 8 + index * 8)
        samples += sample_count
        total += sample_count * delta
    if available < count:
        samples, total = _sample_count(file, stbl) or samples, duration or total
    if not samples or not total:
        return None
    return round(samples * timescale / total, 3)


def _sample_count(file: BinaryIO, stbl: isobmff.Box) -> int | None:
    stsz = isobmff.find(file, stbl, "stsz")
    if stsz is None:
        return None
    data = isobmff.read_payload(file, stsz, 12)
    return struct.unpack_from(">I", data, 8)[0] if len(data) >= 12 else None


def _user_data(data: bytes, kind: str, info: AVInfo) -> None:
    """GPS, camera make and model from QuickTime `udta` (\xa9xyz, \xa9mak, \xa9mod) or Apple `meta` keys/ilst."""
    if kind == "meta" and data[:4] == b"\x00\x00\x00\x00":
        data = data[4:]
    found: dict[str, bytes] = {}
    for child, payload in _children(data):
        if child in _QUICKTIME_TEXT:
            found.setdefault(_QUICKTIME_TEXT[child], _quicktime_text(payload))
        elif child == "ilst":
            for key, value in _apple_items(data).items():
                found.setdefault(key, value)
    make, model = _text(found.get("make")), _text(found.get("model"))
    info.camera_make, info.camera_model = info.camera_make or make, info.camera_model or model
    match = _ISO6709.search(found.get("location", b""))
    if match and info.gps_latitude is None:
        latitude, longitude = float(match.group(1)), float(match.group(2))
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            info.gps_latitude, info.gps_longitude = latitude, longitude


_QUICKTIME_TEXT = {"\xa9xyz": "location", "\xa9mak": "make", "\xa9mod": "model"}
_APPLE_KEYS = {
    b"com.apple.quicktime.location.ISO6709": "location",
    b"com.apple.quicktime.make": "make",
    b"com.apple.quicktime.model": "model",
}


def _quicktime_text(payload: bytes) -> bytes:
    """A QuickTime user-data text: 16-bit length, 16-bit language, then the text."""
    if len(payload) < 4:
        return b""
    (length,) = struct.unpack_from(">H", payload)
    return payload[4 : 4 + length]


def _apple_items(data: bytes) -> dict[str, bytes]:
    """Known `com.apple.quicktime.*` values of a `meta` box (keys + ilst; each value in a `data` atom)."""
    parts = dict(_children(data))
    keys = parts.get("keys", b"")
    names: list[bytes] = []
    position = 8
    while position + 8 <= len(keys) and len(names) < 1024:
        size = struct.unpack_from(">I", keys, position)[0]
        if size < 8:
            break
        names.append(keys[position + 8 : position + size])
        position += size
    found: dict[str, bytes] = {}
    for child, payload in _children(parts.get("ilst", b"")):
        index = int.from_bytes(child.encode("latin-1"), "big")
        key = names[index - 1] if 1 <= index <= len(names) else b""
        name = _APPLE_KEYS.get(key) or ("location" if key.endswith(b"ISO6709") else None)
        if name:
            found[name] = payload[16:] if payload[4:8] == b"data" else payload
    return found


def _text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace").replace("\x00", "").strip()
    return text[:256] or None


def _children(data: bytes) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    position = 0
    while position + 8 <= len(data) and len(out) < 1024:
        size, kind = struct.unpack_from(">I4s", data, position)
        if size < 8:
            break
        out.append((kind.decode("latin-1"), data[position + 8 : position + size]))
        position += size
    return out
