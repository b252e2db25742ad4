"""MPEG audio (MP3, MP2) read from the first frame header, for files too short for mutagen.

mutagen syncs on a run of consecutive frames; a file of one or two frames (a
click, a notification sound, a file cut short) fails as "can't sync". One
frame header states the version, layer, bitrate, sample rate and channel mode,
and with the data length that gives the duration. Used only when mutagen could
not read the file. Layout: ISO/IEC 11172-3 section 2.4.2.3, ISO/IEC 13818-3.
"""

from __future__ import annotations

from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_BITRATES = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_BITRATES[(2, 3)] = _BITRATES[(2, 2)]


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    head = file.read(10)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:
        start = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
    file.seek(start)
    header = file.read(4)
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        raise ContainerError("media: no MPEG audio frame where the stream should start")
    version_bits, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    rate_index, bitrate_index = (header[2] >> 2) & 3, header[2] >> 4
    if version_bits == 1 or layer_bits == 0 or rate_index == 3 or bitrate_index in (0, 15):
        raise ContainerError("media: an MPEG audio frame header with reserved or free-format values")
    layer = 4 - layer_bits
    mpeg1 = version_bits == 3
    rate = _RATES[version_bits][rate_index]
    bitrate = _BITRATES[(1 if mpeg1 else 2, layer)][bitrate_index] * 1000
    samples = 384 if layer == 1 else (1152 if layer == 2 or mpeg1 else 576)
    frame = samples // 8 * bitrate // rate + ((header[2] >> 1) & 1) * (4 if layer == 1 else 1)
    frames = max(1, round((size - start) / frame)) if frame else 1
    return AVInfo(
        container="mpeg",
        audio_codec="mp3" if layer == 3 else f"mp{layer}",
        sample_rate=rate,
        channels=1 if header[3] >> 6 == 3 else 2,
        bitrate=bitrate,
        duration=round(frames * samples / rate, 3),
        audio_tracks=1,
        warnings=["media: read from the first frame header (too few frames for a full scan)"],
    )
