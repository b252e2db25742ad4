"""Raster images: dimensions, mode, frames, EXIF (orientation, camera, time, GPS).

Pillow opens lazily: only the header and EXIF are read, never the pixels. Its
decompression-bomb limit is enforced as a `too_large` failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extractors.base import Extraction, Source, compact

MAX_PIXELS = 20_000 * 20_000

_ORIENTATION_TAG = 0x0112
_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x9003, 0x9011


def extract(source: Source) -> Extraction:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(source.file) as img:
            return _describe(img)
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(f"image: {exc}", code="too_large") from exc
    except UnidentifiedImageError as exc:
        raise ExtractionFailed("image: not a readable image", code="corrupt") from exc


def _describe(img: Any) -> Extraction:
    warnings: list[str] = []
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ExtractionFailed(f"image: {width}x{height} exceeds the pixel limit", code="too_large")
    fields: dict[str, Any] = {"width": width, "height": height}
    details: dict[str, Any] = {
        "format": img.format,
        "color_mode": img.mode,
        "frames": getattr(img, "n_frames", 1),
        "animated": bool(getattr(img, "is_animated", False)),
    }
    try:
        exif = img.getexif()
    except Exception as exc:  # damaged EXIF must not lose the dimensions
        warnings.append(f"image: EXIF unreadable ({type(exc).__name__})")
        exif = None
    if exif:
        fields.update(_exif_fields(exif, warnings))
    return Extraction(fields=compact(fields), details=compact(details), warnings=warnings)


def _exif_fields(exif: Any, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "orientation": _int(exif.get(_ORIENTATION_TAG)),
        "camera_make": _str(exif.get(_MAKE)),
        "camera_model": _str(exif.get(_MODEL)),
    }
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        out["taken_at"] = _exif_date(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_OFFSET_ORIGINAL))
        gps = exif.get_ifd(_GPS_IFD)
        if gps:
            out["gps_latitude"] = _gps(gps.get(2), gps.get(1), "NS")
            out["gps_longitude"] = _gps(gps.get(4), gps.get(3), "EW")
    except Exception as exc:
        warnings.append(f"image: EXIF sub-directory unreadable ({type(exc).__name__})")
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


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


def _gps(dms: Any, ref: Any, refs: str) -> float | None:
    try:
        degrees, minutes, seconds = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if _str(ref) == refs[1]:
        value = -value
    if not (-180.0 <= value <= 180.0):
        return None
    return round(value, 7)
