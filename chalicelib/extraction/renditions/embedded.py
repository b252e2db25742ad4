"""A JPEG's embedded EXIF thumbnail, found by reading only the file's head.

Cameras and phones store a small JPEG preview in the EXIF block (IFD1's
JPEGInterchangeFormat/Length tags), and the EXIF block sits in an APP1
segment at the start of the file. For a picture larger than a rendition may
read, that preview is the picture's thumbnail at the cost of a few kilobytes.
The segments are walked here rather than through `Image.open` because Pillow
reads every segment up to the start of the scan (a large ICC profile or
maker-note preview can be hundreds of kilobytes) where this reads only each
segment's 4-byte header and the APP1 segment itself. The EXIF block is then
decoded by Pillow's `Exif` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO

from PIL import ExifTags, Image

from chalicelib.extraction.extractors.jpeg_header import SOI, SOS, segments

_APP1 = 0xE1
_EXIF = b"Exif\x00\x00"
_ORIENTATION = 0x0112
_THUMBNAIL_AT, _THUMBNAIL_LENGTH = 0x0201, 0x0202
MAX_SEGMENTS = 64
HEAD_BYTES = 128 * 1024
"""Where an EXIF block can be: APP1 follows SOI (or a JFIF APP0) and holds at most 64 KB."""


@dataclass(frozen=True)
class Embedded:
    """The embedded preview's bytes (a JPEG) and the picture's EXIF orientation, which applies to it too."""

    data: bytes
    orientation: int | None


def exif_thumbnail(file: BinaryIO) -> Embedded | None:
    """The embedded EXIF thumbnail of the JPEG in `file`, or None when it has none (or it is unreadable)."""

    def read(start: int, n: int) -> bytes:
        file.seek(start)
        return file.read(n)

    if read(0, 2) != SOI:
        return None
    for segment in islice(segments(read), MAX_SEGMENTS):
        if segment.marker == SOS:  # no metadata segment follows the start of scan
            return None
        if segment.marker == _APP1:
            payload = read(segment.start + 4, segment.length - 2)
            if payload.startswith(_EXIF):
                return _from_exif(payload[len(_EXIF) :])
    return None


def _from_exif(tiff: bytes) -> Embedded | None:
    try:
        exif = Image.Exif()
        exif.load(tiff)
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        start, length = ifd1.get(_THUMBNAIL_AT), ifd1.get(_THUMBNAIL_LENGTH)
        orientation = exif.get(_ORIENTATION)
    except Exception:  # a hostile EXIF block: no embedded thumbnail, the picture is described without one
        return None
    if not isinstance(start, int) or not isinstance(length, int) or start <= 0 or length <= 0:
        return None
    data = tiff[start : start + length]
    if len(data) != length or not data.startswith(SOI):
        return None
    return Embedded(data, orientation if isinstance(orientation, int) else None)
