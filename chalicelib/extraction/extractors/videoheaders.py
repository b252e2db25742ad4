"""Picture size and frame rate from the first headers of a video elementary stream.

Containers that do not state a picture size (MPEG-TS, FLV without
`onMetaData`) carry it in the stream's own first header: the H.264 sequence
parameter set, the MPEG-1/2 sequence header, the Sorenson H.263 picture
header. Each reader here takes those few bytes and returns what they state.

Layouts: ITU-T H.264 section 7.3.2.1.1 (seq_parameter_set_data) and E.1.1
(vui_parameters); ISO/IEC 13818-2 section 6.2.2.1 (sequence_header); the
Sorenson Spark picture header as FFmpeg's flvdec.c reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

_MPEG2_RATES = (0.0, 24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60000 / 1001, 60.0)
_H263_SIZES = {2: (352, 288), 3: (176, 144), 4: (128, 96), 5: (320, 240), 6: (160, 120)}


@dataclass(frozen=True)
class Picture:
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def bits(self, count: int) -> int:
        if count > self._left:
            raise ValueError("header ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.bits(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def unescape(nal: bytes) -> bytes:
    """Drop the emulation-prevention bytes (00 00 03 -> 00 00) of a NAL unit."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def h264_sps(nal: bytes) -> Picture:
    """Size (after cropping) and frame rate (VUI timing) of an H.264 SPS NAL unit, header byte included."""
    try:
        return _h264_sps(_Bits(unescape(nal[1:])[:256]))
    except ValueError:
        return Picture()


def _h264_sps(bits: _Bits) -> Picture:
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = bits.ue()
        if chroma == 3:
            bits.bits(1)
        bits.ue(), bits.ue(), bits.bits(1)  # bit depths, qpprime flag
        if bits.bits(1):  # scaling matrices
            for index in range(12 if chroma == 3 else 8):
                if bits.bits(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    order = bits.ue()
    if order == 0:
        bits.ue()
    elif order == 1:
        bits.bits(1), bits.se(), bits.se()
        for _ in range(min(bits.ue(), 255)):
            bits.se()
    bits.ue(), bits.bits(1)  # max_num_ref_frames, gaps allowed
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frames_only = bits.bits(1)
    if not frames_only:
        bits.bits(1)
    bits.bits(1)  # direct_8x8_inference
    width, height = width_mbs * 16, height_units * 16 * (2 - frames_only)
    if bits.bits(1):  # cropping, in chroma sample units
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x = 2 if chroma in (1, 2) else 1
        unit_y = (2 if chroma == 1 else 1) * (2 - frames_only)
        width -= (left + right) * unit_x
        height -= (top + bottom) * unit_y
    rate = _vui_frame_rate(bits) if bits.bits(1) else None
    return Picture(width if width > 0 else None, height if height > 0 else None, rate)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _vui_frame_rate(bits: _Bits) -> float | None:
    if bits.bits(1) and bits.bits(8) == 255:  # aspect_ratio_idc Extended_SAR
        bits.bits(32)
    if bits.bits(1):  # overscan
        bits.bits(1)
    if bits.bits(1):  # video signal type
        bits.bits(4)
        if bits.bits(1):
            bits.bits(24)
    if bits.bits(1):  # chroma location
        bits.ue(), bits.ue()
    if not bits.bits(1):  # timing info
        return None
    units, scale = bits.bits(32), bits.bits(32)
    return round(scale / (2 * units), 3) if units and scale else None


def mpeg2_sequence(header: bytes) -> Picture:
    """From an MPEG-1/2 sequence header (starting 00 00 01 B3)."""
    if len(header) < 8 or header[:4] != b"\x00\x00\x01\xb3":
        return Picture()
    size = int.from_bytes(header[4:7], "big")
    code = header[7] & 0x0F
    rate = round(_MPEG2_RATES[code], 3) if 0 < code < len(_MPEG2_RATES) else None
    return Picture((size >> 12) or None, (size & 0xFFF) or None, rate)


def sorenson_h263(frame: bytes) -> Picture:
    """From a Sorenson Spark (FLV codec 2) picture header."""
    try:
        bits = _Bits(frame[:16])
        if bits.bits(17) != 1:
            return Picture()
        bits.bits(5 + 8)  # format, temporal reference
        code = bits.bits(3)
        if code in (0, 1):
            width = bits.bits(8 if code == 0 else 16)
            height = bits.bits(8 if code == 0 else 16)
            return Picture(width or None, height or None)
        width, height = _H263_SIZES.get(code, (0, 0))
        return Picture(width or None, height or None)
    except ValueError:
        return Picture()


def avc_configuration(record: bytes) -> Picture:
    """From an AVCDecoderConfigurationRecord (FLV/MP4 `avcC`): its first SPS."""
    if len(record) < 8 or record[0] != 1 or not record[5] & 0x1F:
        return Picture()
    length = int.from_bytes(record[6:8], "big")
    return h264_sps(record[8 : 8 + length]) if 8 + length <= len(record) else Picture()
