"""Sun/NeXT audio (.au, .snd): encoding, sample rate, channels and duration from the 24-byte header.

mutagen does not read this format. The header is six big-endian words:
magic `.snd`, data offset, data size (all ones when unknown: the data then
runs to the end of the file), encoding, sample rate, channels; between the
header and the data offset sits a free-form annotation (tools write their own
name there), which is not reported. Layout: the NeXT/Sun `audio_filehdr` (Sun `audioio.h`,
NeXTSTEP `soundstruct.h`).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from chalicelib.extraction.extractors.avinfo import AVInfo, ContainerError

_UNKNOWN_SIZE = 0xFFFFFFFF
# encoding -> (codec, bits per sample)
_ENCODINGS = {1: ("mulaw", 8), 2: ("pcm", 8), 3: ("pcm", 16), 4: ("pcm", 24), 5: ("pcm", 32), 6: ("pcm_float", 32)}
_ENCODINGS |= {7: ("pcm_double", 64), 23: ("g721", 4), 24: ("g722", 8), 25: ("g723", 3), 26: ("g723", 5)}
_ENCODINGS |= {27: ("alaw", 8)}


def read(file: BinaryIO, size: int) -> AVInfo:
    file.seek(0)
    header = file.read(24)
    if len(header) < 24 or header[:4] != b".snd":
        raise ContainerError("media: not a Sun/NeXT audio file")
    offset, length, encoding, rate, channels = struct.unpack_from(">5I", header, 4)
    if offset < 24 or not rate or not channels or channels > 64:
        raise ContainerError("media: Sun/NeXT audio header has an impossible offset, rate or channel count")
    codec, bits = _ENCODINGS.get(encoding, (f"au-encoding-{encoding}", 0))
    info = AVInfo(container="au", audio_codec=codec, sample_rate=rate, channels=channels, audio_tracks=1)
    available = max(0, size - offset)
    data = available if length == _UNKNOWN_SIZE else length
    if length != _UNKNOWN_SIZE and length > available:
        info.warnings.append(f"media: the header states {length} bytes of audio, the file holds {available}")
    if bits:
        info.bitrate = rate * channels * bits
        info.duration = round(data * 8 / info.bitrate, 3) if data else None
    return info
