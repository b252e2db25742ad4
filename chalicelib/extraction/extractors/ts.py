"""MPEG transport stream (.ts, .m2ts): programs, streams, codecs, picture size, duration.

The tables that describe a transport stream repeat every few hundred
milliseconds, so the head of the file holds them all: the PAT lists the
programs, each program's PMT its elementary streams and their types. The first
packets of the video stream carry its sequence header (H.264 SPS or MPEG-2
sequence header: size, frame rate) and those of the audio stream a frame
header (rate, channels). The duration is the distance between the first
program clock reference in the head and the last one in the tail. Only the
head and the tail are read.

Layout: ISO/IEC 13818-1 sections 2.4.3 (packets, adaptation field), 2.4.4
(PAT, PMT), 2.5.3 (PES header); stream types from its table 2-34 and ATSC
A/52 (AC-3 0x81, E-AC-3 0x87). M2TS (Blu-ray) packets carry a 4-byte
timestamp before each 188-byte packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from chalicelib.extraction.extractors import videoheaders
from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError
from chalicelib.extraction.signatures import transport_packets

HEAD_BYTES = 64 * 1024  # with the tail, within the 256 KB a large file may cost for its metadata
TAIL_BYTES = 64 * 1024
MAX_STREAMS = 64
_VIDEO = {0x01: "mpeg1video", 0x02: "mpeg2video", 0x10: "mpeg4", 0x1B: "h264", 0x24: "hevc", 0x42: "cavs", 0xEA: "vc1"}
_AUDIO = {0x03: "mp2", 0x04: "mp2", 0x0F: "aac", 0x11: "aac_latm", 0x81: "ac3", 0x87: "eac3", 0x80: "pcm_bluray"}
_DESCRIPTOR_AUDIO = {0x6A: "ac3", 0x7A: "eac3", 0x7B: "dts"}
_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_MPEG_AUDIO_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_AC3_RATES = (48000, 44100, 32000)
_AC3_CHANNELS = (2, 1, 2, 3, 3, 4, 4, 5)


@dataclass
class _Scan:
    programs: dict[int, int] = field(default_factory=dict)  # program number -> PMT PID
    streams: dict[int, tuple[int, str | None]] = field(default_factory=dict)  # PID -> (stream type, codec)
    kinds: dict[int, str] = field(default_factory=dict)  # PID -> video / audio / other
    pcr_pid: int | None = None
    first_pcr: int | None = None
    payloads: dict[int, bytes] = field(default_factory=dict)  # the first PES bytes of the first video/audio PID


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(HEAD_BYTES)
    step, offset = transport_packets(head)
    if not step:
        raise ContainerError("media: not an MPEG transport stream")
    scan = _Scan()
    for pid, start, adaptation, payload in _packets(head, step, offset):
        _packet(scan, pid, start, adaptation, payload)
    if not scan.streams:
        raise ContainerError("media: no program map table in the first packets")
    info = AVInfo(container="mpegts" if step == 188 else "m2ts", programs=len(scan.programs))
    _describe(scan, info)
    info.duration = _duration(file, size, head, step, offset, scan)
    return info


def _packets(data: bytes, step: int, offset: int) -> list[tuple[int, bool, bytes, bytes]]:
    out = []
    for at in range(offset, len(data) - 187, step):
        packet = data[at : at + 188]
        if packet[0] != 0x47:
            continue
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        control = (packet[3] >> 4) & 3
        body, adaptation = 4, b""
        if control & 2:
            length = packet[4]
            adaptation, body = packet[5 : 5 + length], 5 + length
        out.append((pid, bool(packet[1] & 0x40), adaptation, packet[body:] if control & 1 else b""))
    return out


def _packet(scan: _Scan, pid: int, start: bool, adaptation: bytes, payload: bytes) -> None:
    if pid == scan.pcr_pid and scan.first_pcr is None:
        scan.first_pcr = _pcr(adaptation)
    if pid == 0 and start and not scan.programs:
        _pat(_section(payload), scan)
    elif start and pid in scan.programs.values() and pid not in scan.kinds:
        scan.kinds[pid] = "pmt"
        _pmt(_section(payload), scan)
    elif pid in scan.streams and (start or pid in scan.payloads) and len(scan.payloads.get(pid, b"")) < 4096:
        scan.payloads[pid] = scan.payloads.get(pid, b"") + payload


def _section(payload: bytes) -> bytes:
    if not payload:
        return b""
    start = 1 + payload[0]  # pointer_field
    section = payload[start:]
    if len(section) < 3:
        return b""
    length = ((section[1] & 0x0F) << 8) | section[2]
    return section[: 3 + length]


def _pat(section: bytes, scan: _Scan) -> None:
    if len(section) < 12 or section[0] != 0:
        return
    for at in range(8, len(section) - 4 - 3, 4):
        number = int.from_bytes(section[at : at + 2], "big")
        pid = int.from_bytes(section[at + 2 : at + 4], "big") & 0x1FFF
        if number:  # program 0 points at the network information table
            scan.programs[number] = pid


def _pmt(section: bytes, scan: _Scan) -> None:
    if len(section) < 16 or section[0] != 2:
        return
    if scan.pcr_pid is None:
        scan.pcr_pid = int.from_bytes(section[8:10], "big") & 0x1FFF
    at = 12 + (int.from_bytes(section[10:12], "big") & 0x0FFF)
    end = len(section) - 4
    while at + 5 <= end and len(scan.streams) < MAX_STREAMS:
        kind = section[at]
        pid = int.from_bytes(section[at + 1 : at + 3], "big") & 0x1FFF
        length = int.from_bytes(section[at + 3 : at + 5], "big") & 0x0FFF
        descriptors = section[at + 5 : at + 5 + length]
        scan.streams[pid] = (kind, _codec(kind, descriptors))
        at += 5 + length


def _codec(kind: int, descriptors: bytes) -> str | None:
    if kind in _VIDEO:
        return _VIDEO[kind]
    if kind in _AUDIO:
        return _AUDIO[kind]
    at = 0
    while at + 2 <= len(descriptors):
        tag, length = descriptors[at], descriptors[at + 1]
        if tag in _DESCRIPTOR_AUDIO:
            return _DESCRIPTOR_AUDIO[tag]
        if tag == 0x05 and descriptors[at + 2 : at + 6] in (b"AC-3", b"EAC3"):  # registration descriptor
            return "ac3" if descriptors[at + 2 : at + 6] == b"AC-3" else "eac3"
        at += 2 + length
    return None


def _describe(scan: _Scan, info: AVInfo) -> None:
    for pid, (kind, codec) in scan.streams.items():
        if kind in _VIDEO:
            info.video_tracks += 1
            if info.video_tracks == 1:
                info.video_codec = codec
                picture = _picture(codec, _pes_payload(scan.payloads.get(pid, b"")))
                info.width, info.height, info.frame_rate = picture.width, picture.height, picture.frame_rate
        elif codec in _AUDIO.values() or codec in _DESCRIPTOR_AUDIO.values():
            info.audio_tracks += 1
            if info.audio_tracks == 1:
                info.audio_codec = codec
                info.sample_rate, info.channels = _audio_frame(codec, _pes_payload(scan.payloads.get(pid, b"")))
        else:
            info.other_tracks += 1


def _pes_payload(data: bytes) -> bytes:
    if len(data) < 9 or data[:3] != b"\x00\x00\x01":
        return b""
    return data[9 + data[8] :]


def _picture(codec: str | None, data: bytes) -> videoheaders.Picture:
    if codec == "h264":
        at = 0
        while (at := data.find(b"\x00\x00\x01", at)) >= 0 and at + 4 <= len(data):
            if data[at + 3] & 0x1F == 7:
                end = data.find(b"\x00\x00\x01", at + 4)
                return videoheaders.h264_sps(data[at + 3 : end if end > 0 else len(data)])
            at += 3
    if codec in ("mpeg1video", "mpeg2video"):
        at = data.find(b"\x00\x00\x01\xb3")
        if at >= 0:
            return videoheaders.mpeg2_sequence(data[at : at + 12])
    return videoheaders.Picture()


def _audio_frame(codec: str | None, data: bytes) -> tuple[int | None, int | None]:
    if codec == "aac" and len(data) >= 4 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        index, channels = (data[2] >> 2) & 0x0F, ((data[2] & 1) << 2) | (data[3] >> 6)
        return (_ADTS_RATES[index] if index < len(_ADTS_RATES) else None), channels or None
    if codec == "mp2" and len(data) >= 4 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        version, index = (data[1] >> 3) & 3, (data[2] >> 2) & 3
        rates = _MPEG_AUDIO_RATES.get(version)
        return (rates[index] if rates and index < 3 else None), (1 if data[3] >> 6 == 3 else 2)
    if codec == "ac3" and len(data) >= 7 and data[:2] == b"\x0b\x77":
        code, mode = data[4] >> 6, data[6] >> 5
        return (_AC3_RATES[code] if code < 3 else None), _AC3_CHANNELS[mode]
    return None, None


def _pcr(adaptation: bytes) -> int | None:
    if len(adaptation) < 7 or not adaptation[0] & 0x10:
        return None
    return int.from_bytes(adaptation[1:6], "big") >> 7  # the 33-bit base, 90 kHz


def _duration(file: BinaryIO, size: int, head: bytes, step: int, offset: int, scan: _Scan) -> float | None:
    if scan.first_pcr is None or scan.pcr_pid is None:
        return None
    start = max(0, size - TAIL_BYTES) // step * step  # on the packet grid the head established
    file.seek(start)
    tail = head if size <= len(head) else file.read(size - start)
    last = None
    for pid, _, adaptation, _ in _packets(tail, step, offset):
        if pid == scan.pcr_pid:
            last = _pcr(adaptation) or last
    if last is None:
        return None
    ticks = (last - scan.first_pcr) % (1 << 33)  # the clock wraps after 26.5 hours
    return round(ticks / 90000, 3) if ticks else None
