"""Raster images: dimensions, mode, frames, EXIF (orientation, camera, time, GPS, exposure), XMP, IPTC.

Pillow opens lazily and reads only headers (JPEG markers up to the scan, PNG
chunks up to IDAT, the first TIFF directory), never the pixels; its
decompression-bomb limit is enforced as a `too_large` failure. Where Pillow
would read or decode more than the header, the container is parsed directly:
WebP (Pillow hands the whole file to libwebp), PSD (Pillow walks every layer
record), HEIF/HEIC/AVIF (no codec without native plugins; see heif.py) and a
PNG's `eXIf` chunk stored after the image data (Pillow decodes the pixels to
reach it). EXIF blocks found that way are still decoded by Pillow's Exif class.
"""

from __future__ import annotations

import io
import struct
import warnings as pywarnings
from datetime import datetime
from typing import Any, BinaryIO, cast

from PIL import Image, IptcImagePlugin, UnidentifiedImageError

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.extractors import heif, jpeg_header, photo
from chalicelib.extraction.extractors.base import Extraction, Source, compact

MAX_PIXELS = 20_000 * 20_000
MAX_HEADER_BYTES = 256 * 1024
"""The ingest path reads at most 256 KB of a picture: a JPEG header running past it is read sparsely."""
MAX_GIF_BYTES_FOR_FRAME_COUNT = MAX_HEADER_BYTES
"""Frames are counted only in GIFs that small (counting reads every frame)."""
MAX_TAIL_BYTES = 64 * 1024
MAX_WEBP_CHUNKS = 100_000
MAX_WEBP_SCAN_BYTES = 16 * 1024 * 1024
MAX_PSD_RESOURCES = 10_000
MAX_METADATA_BYTES = 1024 * 1024

_ORIENTATION_TAG = 0x0112
_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_OFFSET, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x9010, 0x9003, 0x9011
_DNG_VERSION = 50706
MAX_DPI = 100_000

_BITS_PER_CHANNEL = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
_HEIF_BRANDS = {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis", "mif2", "miaf"}
_PSD_MODES = {0: "1", 1: "L", 2: "P", 3: "RGB", 4: "CMYK", 7: "Multichannel", 8: "Duotone", 9: "LAB"}


def extract(source: Source) -> Extraction:
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        result = _dispatch(source)
    result.warnings.extend(_pillow_warnings(caught))
    return result


def _dispatch(source: Source) -> Extraction:
    head = source.head
    if head[4:8] == b"ftyp" and head[8:12].decode("latin-1") in _HEIF_BRANDS:
        return _heif(source)
    if source.mime_type in ("image/heic", "image/heif", "image/avif"):
        return _heif(source)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp(source)
    if head[:4] == b"8BPS":
        return _psd(source)
    return _pillow(source)


# Pillow: JPEG/MPO, PNG/APNG, GIF, TIFF/BigTIFF/DNG, BMP, ICO ---------------------------------


def _pillow(source: Source) -> Extraction:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    file, header = source.file, None
    if source.head[:2] == b"\xff\xd8" and source.size > MAX_HEADER_BYTES:
        header = jpeg_header.header_beyond(source.reader, MAX_HEADER_BYTES - jpeg_header.SPARSE_BYTES)
        file = cast(BinaryIO, io.BytesIO(header.data)) if header is not None else file
    try:
        with Image.open(file) as img:
            described = _describe(img, source)
            if header is not None and header.icc_profile:  # its end lies past the bound, where it was not read
                described.details["icc_profile"] = True
            return described
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"image: {exc}", code="too_large") from exc
    except UnidentifiedImageError as exc:
        gif = _bare_gif(source.head)
        if gif is not None:
            return gif
        raise ExtractionFailed("image: not a readable image", code="corrupt") from exc
    except (OSError, SyntaxError, struct.error, EOFError, ValueError) as exc:
        code = "too_large" if "too large" in str(exc) else "corrupt"
        raise ExtractionFailed(f"image: damaged header ({exc})", code=code) from exc


def _pillow_warnings(caught: list[pywarnings.WarningMessage]) -> list[str]:
    messages = {f"image: {str(item.message)[:200]}" for item in caught if issubclass(item.category, UserWarning)}
    return sorted(messages)


def _bare_gif(head: bytes) -> Extraction | None:
    """A GIF header with no image block: its logical screen still has a size."""
    if head[:6] not in (b"GIF87a", b"GIF89a") or len(head) < 10:
        return None
    width, height = struct.unpack("<HH", head[6:10])
    if not width or not height:
        return None
    details = {"format": "GIF", "frames": 0, "animated": False}
    return Extraction({"width": width, "height": height}, details, ["image: GIF has no image data"])


def _describe(img: Any, source: Source) -> Extraction:
    warnings: list[str] = []
    width, height = img.size
    _check_pixels(width, height)
    fields: dict[str, Any] = {"width": width, "height": height}
    details: dict[str, Any] = {
        "format": img.format,
        "color_mode": img.mode,
        "bit_depth": _bit_depth(img),
        "icc_profile": bool(img.info.get("icc_profile")),
        "dpi": _dpi(img.info.get("dpi")),
        "compression": _compression(img),
        "progressive": bool(img.info.get("progressive")) or None,
        "interlaced": bool(img.info.get("interlace")) or None,
    }
    details.update(_frames(img, source, warnings))
    details.update(_tiff_kind(img, source))
    exif = _pillow_exif(img, source, warnings)
    if exif:
        fields.update(_exif_fields(exif, warnings))
    photo.merge(fields, photo.xmp_fields(_xmp_packet(img)), photo.iptc_fields(_iptc(img)))
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _xmp_packet(img: Any) -> Any:
    """The XMP packet Pillow found (JPEG APP1, PNG iTXt, WebP chunk) or TIFF's tag 700."""
    packet = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if packet is None and img.format in ("TIFF", "MPO") and hasattr(img, "tag_v2"):
        packet = img.tag_v2.get(700)
    return packet


def _iptc(img: Any) -> Any:
    if img.format not in ("JPEG", "MPO", "TIFF"):
        return None
    try:
        return IptcImagePlugin.getiptcinfo(img)
    except Exception:  # a damaged IPTC block: the rest of the image still counts
        return None


def _tiff_kind(img: Any, source: Source) -> dict[str, Any]:
    tags = getattr(img, "tag_v2", None)
    if img.format != "TIFF" or tags is None:
        return {}
    out: dict[str, Any] = {"bigtiff": bool(getattr(tags, "_bigtiff", False)) or None}
    if _DNG_VERSION in tags or source.mime_type == "image/x-adobe-dng":
        out["format"] = "DNG"
    return out


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ExtractionFailed(f"image: {width}x{height} exceeds the pixel limit", code="too_large")


def _bit_depth(img: Any) -> int | None:
    if img.format == "PNG" and img.mode == "P":
        return None
    return _BITS_PER_CHANNEL.get(img.mode, 8)


def _dpi(value: Any) -> list[int] | None:
    try:
        x, y = (round(float(v)) for v in value)
    except (TypeError, ValueError):
        return None
    return [x, y] if 0 < x <= MAX_DPI and 0 < y <= MAX_DPI else None


def _compression(img: Any) -> str | None:
    value = img.info.get("compression")
    if isinstance(value, str):
        return value
    if img.format in ("JPEG", "MPO"):
        return "jpeg"
    if img.format in ("PNG", "APNG"):
        return "deflate"
    if img.format == "GIF":
        return "lzw"
    if img.format == "BMP":
        return {0: "raw", 1: "rle8", 2: "rle4", 3: "bitfields"}.get(value) if isinstance(value, int) else None
    return None


def _frames(img: Any, source: Source, warnings: list[str]) -> dict[str, Any]:
    if img.format == "GIF" and source.size > MAX_GIF_BYTES_FOR_FRAME_COUNT:
        # counting frames, or even telling whether there is a second one, reads every block of the first
        # frame: a large GIF would be read whole, so its frame count and animation stay unknown
        return {}
    try:
        frames = int(getattr(img, "n_frames", 1))
        animated = bool(getattr(img, "is_animated", False))
    except (OSError, EOFError, ValueError, struct.error) as exc:
        warnings.append(f"image: frame count unreadable ({type(exc).__name__})")
        return {}
    if img.format == "PNG" and animated:
        return {"format": "APNG", "frames": frames, "animated": True}
    return {"frames": frames, "animated": animated}


def _pillow_exif(img: Any, source: Source, warnings: list[str]) -> Any:
    try:
        if img.format == "PNG" and "exif" not in img.info:
            trailing = _png_trailing_exif(source)
            if trailing:
                img.info["exif"] = trailing
        return Image.Image.getexif(img)
    except Exception as exc:  # damaged EXIF must not lose the dimensions
        warnings.append(f"image: EXIF unreadable ({type(exc).__name__})")
        return None


def _png_trailing_exif(source: Source) -> bytes | None:
    """An eXIf chunk written after IDAT, found in the file's last block."""
    start = max(8, source.size - MAX_TAIL_BYTES)
    source.reader.seek(start)
    tail = source.reader.read(MAX_TAIL_BYTES)
    at = tail.rfind(b"eXIf")
    if at < 4:
        return None
    length = struct.unpack(">I", tail[at - 4 : at])[0]
    data = tail[at + 4 : at + 4 + length]
    if len(data) != length:
        return None
    if data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    return data if len(data) >= 8 and data[:2] in (b"II", b"MM") else None


# EXIF -----------------------------------------------------------------------------------------


def _load_exif(data: bytes | None, warnings: list[str]) -> Any:
    if not data:
        return None
    exif = Image.Exif()
    try:
        exif.load(data)
    except Exception as exc:
        warnings.append(f"image: EXIF unreadable ({type(exc).__name__})")
        return None
    return exif


def _exif_fields(exif: Any, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "orientation": _orientation(exif.get(_ORIENTATION_TAG)),
        "camera_make": _str(exif.get(_MAKE)),
        "camera_model": _str(exif.get(_MODEL)),
    }
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        out["taken_at"] = _exif_date(sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_ORIGINAL))
        out["modified"] = _exif_date(exif.get(_DATETIME), sub.get(_OFFSET))
    except Exception as exc:
        warnings.append(f"image: EXIF sub-directory unreadable ({type(exc).__name__})")
    try:
        gps = exif.get_ifd(_GPS_IFD)
        if gps:
            out["gps_latitude"] = _gps(gps.get(2), gps.get(1), "NS", 90.0)
            out["gps_longitude"] = _gps(gps.get(4), gps.get(3), "EW", 180.0)
    except Exception as exc:
        warnings.append(f"image: GPS directory unreadable ({type(exc).__name__})")
    photo.merge(out, photo.exif_fields(exif))
    return out


def _orientation(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and 1 <= number <= 8 else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return "".join(ch for ch in value if ch.isprintable()).strip() or None


def _exif_date(raw: Any, offset: Any) -> str | None:
    text = _str(raw)
    if not text:
        return None
    try:
        value = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    stamp = value.isoformat()
    off = _str(offset)
    if off and len(off) == 6 and off[0] in "+-":
        return stamp + off
    return stamp


def _gps(dms: Any, ref: Any, refs: str, bound: float) -> float | None:
    try:
        degrees, minutes, seconds = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if _str(ref) == refs[1]:
        value = -value
    if not (-bound <= value <= bound):
        return None
    return round(value, 7)


# HEIF / HEIC / AVIF ---------------------------------------------------------------------------


def _heif(source: Source) -> Extraction:
    try:
        info = heif.read(source.file, source.size)
    except (heif.HeifError, ValueError, struct.error) as exc:
        raise ExtractionFailed(f"image: {exc}", code="corrupt") from exc
    if info.width is None or info.height is None:
        raise ExtractionFailed("image: HEIF primary item has no size", code="corrupt")
    _check_pixels(info.width, info.height)
    warnings = list(info.warnings)
    fields: dict[str, Any] = {"width": info.width, "height": info.height}
    exif = _load_exif(info.exif, warnings)
    if exif:
        fields.update(_exif_fields(exif, warnings))
    details = {
        "format": "AVIF" if info.brand in ("avif", "avis") or info.primary_type == "av01" else "HEIF",
        "brand": info.brand,
        "codec": info.primary_type,
        "rotation": info.rotation or None,
        "mirrored": info.mirrored or None,
        "bit_depth": info.bit_depth,
        "icc_profile": info.has_icc,
        "items": info.item_count,
    }
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


# WebP -----------------------------------------------------------------------------------------


def _webp(source: Source) -> Extraction:
    state: dict[str, Any] = {"frames": 0, "format": "WEBP"}
    exif_data: bytes | None = None
    position, end = 12, min(source.size, 8 + _u32le(source.head[4:8]))
    for _ in range(MAX_WEBP_CHUNKS):
        if position + 8 > end:
            break
        if position > MAX_WEBP_SCAN_BYTES and "width" in state:
            state["frames_counted_partially"] = True
            break
        source.reader.seek(position)
        header = source.reader.read(8)
        if len(header) < 8:
            break
        kind, size = header[:4], _u32le(header[4:8])
        if kind == b"EXIF" and size <= MAX_METADATA_BYTES:
            exif_data = source.reader.read(size)
        elif kind in (b"VP8 ", b"VP8L", b"VP8X", b"ANMF", b"ICCP", b"ALPH"):
            _webp_chunk(kind, source.reader.read(min(size, 32)), state)
        position += 8 + size + (size & 1)
    if "width" not in state:
        raise ExtractionFailed("image: WebP without an image header", code="corrupt")
    _check_pixels(state["width"], state["height"])
    warnings: list[str] = []
    fields: dict[str, Any] = {"width": state.pop("width"), "height": state.pop("height")}
    exif = _load_exif(exif_data[6:] if exif_data and exif_data[:6] == b"Exif\x00\x00" else exif_data, warnings)
    if exif:
        fields.update(_exif_fields(exif, warnings))
    frames = max(1, state.pop("frames"))
    state.update({"frames": frames, "animated": frames > 1})
    return Extraction(fields=compact(fields), details=compact(state), warnings=warnings)


def _webp_chunk(kind: bytes, data: bytes, state: dict[str, Any]) -> None:
    if kind == b"VP8X" and len(data) >= 10:
        flags = data[0]
        state["icc_profile"] = bool(flags & 0x20)
        state["alpha"] = bool(flags & 0x10)
        state["width"] = 1 + int.from_bytes(data[4:7], "little")
        state["height"] = 1 + int.from_bytes(data[7:10], "little")
        state["compression"] = "extended"
    elif kind == b"ANMF":
        state["frames"] += 1
    elif kind == b"ICCP":
        state["icc_profile"] = True
    elif kind == b"ALPH":
        state["alpha"] = True
    elif kind == b"VP8 " and len(data) >= 10 and "width" not in state:
        if data[3:6] == b"\x9d\x01\x2a":
            state["width"] = struct.unpack("<H", data[6:8])[0] & 0x3FFF
            state["height"] = struct.unpack("<H", data[8:10])[0] & 0x3FFF
        state.setdefault("compression", "lossy")
        state.setdefault("alpha", False)
    elif kind == b"VP8L" and len(data) >= 5 and "width" not in state and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        state["width"] = (bits & 0x3FFF) + 1
        state["height"] = ((bits >> 14) & 0x3FFF) + 1
        state["alpha"] = bool((bits >> 28) & 1)
        state["compression"] = "lossless"
    if kind in (b"VP8 ", b"VP8L") and state.get("compression") == "extended":
        state["compression"] = "lossy" if kind == b"VP8 " else "lossless"
    if kind in (b"VP8 ", b"VP8L") and not state["frames"]:
        state["frames"] = 1


def _u32le(data: bytes) -> int:
    return int.from_bytes(data[:4].ljust(4, b"\x00"), "little")


# PSD ------------------------------------------------------------------------------------------


def _psd(source: Source) -> Extraction:
    head = source.head
    if len(head) < 30:
        raise ExtractionFailed("image: truncated PSD header", code="corrupt")
    version, channels, height, width, depth, mode = struct.unpack(">H6xHIIHH", head[4:26])
    if version not in (1, 2) or not width or not height:
        raise ExtractionFailed("image: invalid PSD header", code="corrupt")
    _check_pixels(width, height)
    warnings: list[str] = []
    resources_at = 30 + struct.unpack(">I", head[26:30])[0]
    resources = _psd_resources(source, resources_at, warnings)
    fields: dict[str, Any] = {"width": width, "height": height}
    exif = _load_exif(resources.get(1058), warnings)
    if exif:
        fields.update(_exif_fields(exif, warnings))
    details = {
        "format": "PSB" if version == 2 else "PSD",
        "color_mode": _PSD_MODES.get(mode, str(mode)),
        "bit_depth": depth,
        "channels": channels,
        "icc_profile": 1039 in resources,
        "dpi": _psd_dpi(resources.get(1005)),
        "layer_count": _psd_layer_count(source, resources_at, wide=version == 2),
    }
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _psd_layer_count(source: Source, resources_at: int, wide: bool) -> int | None:
    """The layer count at the head of the layer and mask section (Adobe's PSD format, "Layer Info").

    The section follows the image resources: its length, the layer info length (both 8 bytes
    in PSB), then a signed 16-bit count (negative when the first alpha channel holds the merged
    transparency). Only these few bytes are read; the layer records are not.
    """
    reader = source.reader
    reader.seek(resources_at)
    resources_length = struct.unpack(">I", reader.read(4).rjust(4, b"\x00"))[0]
    width = 8 if wide else 4
    reader.seek(resources_at + 4 + resources_length)
    head = reader.read(2 * width + 2)
    if len(head) < 2 * width + 2:
        return None
    section, info = int.from_bytes(head[:width], "big"), int.from_bytes(head[width : 2 * width], "big")
    if not section or not info:
        return 0 if section else None
    return abs(struct.unpack(">h", head[2 * width :])[0])


def _psd_resources(source: Source, section: int, warnings: list[str]) -> dict[int, bytes]:
    """Image resources by id: EXIF (1058) and resolution (1005) read, others only noted."""
    reader = source.reader
    reader.seek(section)
    length = struct.unpack(">I", reader.read(4).rjust(4, b"\x00"))[0]
    position, end = section + 4, min(source.size, section + 4 + length)
    found: dict[int, bytes] = {}
    for _ in range(MAX_PSD_RESOURCES):
        reader.seek(position)
        header = reader.read(7)
        if len(header) < 7 or header[:4] != b"8BIM":
            break
        resource_id, name_length = struct.unpack(">HB", header[4:7])
        name_size = (1 + name_length + 1) & ~1
        reader.seek(position + 6 + name_size)
        size = struct.unpack(">I", reader.read(4).rjust(4, b"\x00"))[0]
        data_start = position + 6 + name_size + 4
        wanted = resource_id in (1005, 1058) and size <= MAX_METADATA_BYTES
        found[resource_id] = reader.read(size) if wanted else b""
        position = data_start + size + (size & 1)
        if position >= end:
            break
    else:
        warnings.append("image: too many PSD image resources, the rest were skipped")
    return found


def _psd_dpi(data: bytes | None) -> list[int] | None:
    if not data or len(data) < 16:
        return None
    horizontal, vertical = struct.unpack(">I4xI", data[:12])
    return _dpi((horizontal / 65536, vertical / 65536))
