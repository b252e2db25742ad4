"""Raster images: a small thumbnail, re-encoded by Pillow.

The image is decoded only when its size is within `Budget.max_pixels` and,
after JPEG's draft mode has scaled it down at decode time, within
`Budget.decode_pixels`. The thumbnail is at most `Budget.thumbnail_px` on its
long side, turned upright from the EXIF orientation, and written as PNG when
it has transparency (JPEG when that is too big) or else as JPEG: the page
embeds bytes this code produced, never the file's own.
"""

from __future__ import annotations

import io
import warnings as pywarnings
from typing import Any, BinaryIO, cast

from PIL import Image, UnidentifiedImageError

from chalicelib.extraction.extractors.jpeg_header import SOI
from chalicelib.extraction.reader import RangedReader, Window
from chalicelib.extraction.renditions.base import Budget, Content, Items, Thumbnail
from chalicelib.extraction.renditions.embedded import HEAD_BYTES, exif_thumbnail

_ORIENTATION = 0x0112
UNDECODABLE = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
"""Formats the extractor reads from their container but Pillow has no codec for (HEVC)."""


def _upright() -> dict[int, Any]:
    t = Image.Transpose
    return {
        2: t.FLIP_LEFT_RIGHT,
        3: t.ROTATE_180,
        4: t.FLIP_TOP_BOTTOM,
        5: t.TRANSPOSE,
        6: t.ROTATE_270,
        7: t.TRANSVERSE,
        8: t.ROTATE_90,
    }


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    Image.MAX_IMAGE_PIXELS = budget.max_pixels
    if reader.size > budget.picture_bytes:
        return _from_head(reader, document, budget)
    reader.seek(0)
    return _decoded(cast(BinaryIO, reader), document, budget)


def _from_head(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    """A picture larger than `budget.picture_bytes`: a thumbnail from what those first bytes hold.

    The preview a camera embedded in the EXIF block where there is one; else
    the first image, when it lies whole within the window (a GIF's first
    frame, a TIFF's first page); else no thumbnail, and the page says why.
    """
    embedded = exif_thumbnail(cast(BinaryIO, Window(reader, min(budget.picture_bytes, HEAD_BYTES))))
    if embedded is not None:
        try:
            note = f"Thumbnail from the preview embedded in the {_dimensions(document)} picture."
            found = _decoded(io.BytesIO(embedded.data), document, budget, embedded.orientation, note)
        except (OSError, SyntaxError, EOFError, ValueError, UnidentifiedImageError):
            found = Content()
        if any(isinstance(block, Thumbnail) for block in found.blocks):
            return found
    try:
        if reader.head(2) != SOI:  # a JPEG larger than the window cannot be decoded from it
            return _decoded(cast(BinaryIO, Window(reader, budget.picture_bytes)), document, budget)
    except (OSError, SyntaxError, EOFError, ValueError, UnidentifiedImageError):
        pass
    return _omitted(
        f"No thumbnail: the picture ({reader.size / 1024 / 1024:.1f} MB) holds no embedded preview and its image "
        f"does not fit in the first {budget.picture_bytes // 1024} KB, which is all a preview reads. "
        "Download the file to see it."
    )


def _decoded(
    file: BinaryIO,
    document: dict[str, Any],
    budget: Budget,
    orientation: int | None = None,
    note: str | None = None,
) -> Content:
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        try:
            opened = Image.open(file)
        except UnidentifiedImageError:
            metadata = document.get("metadata") or {}
            if metadata.get("mime_type") in UNDECODABLE:
                return _omitted("No thumbnail: this image format cannot be decoded here.")
            if (metadata.get("details") or {}).get("frames") == 0:
                return _omitted("No thumbnail: the file holds no image data.")
            raise
        with opened as img:
            width, height = img.size
            if width * height > budget.max_pixels:
                return _omitted(f"The image ({width}x{height}) is too large for a thumbnail.")
            img.draft("RGB", (budget.thumbnail_px, budget.thumbnail_px))
            if img.size[0] * img.size[1] > budget.decode_pixels:
                return _omitted(f"The image ({width}x{height}) is too large for a thumbnail.")
            img.load()  # decode now: the file is closed when this block ends
            thumb = _thumbnail(img, budget.thumbnail_px, orientation)
    media_type, data = _encode(thumb, budget)
    note = note or f"Thumbnail of the {width}x{height} image."
    return Content([Thumbnail.of("Thumbnail", media_type, data, thumb.width, thumb.height, note)])


def _dimensions(document: dict[str, Any]) -> str:
    metadata = document.get("metadata") or {}
    width, height = metadata.get("width"), metadata.get("height")
    return f"{width}x{height}" if isinstance(width, int) and isinstance(height, int) else "full-size"


def _omitted(reason: str) -> Content:
    return Content([Items("Thumbnail", [], reason)])


def _thumbnail(img: Any, size: int, orientation: int | None = None) -> Any:
    if orientation is None:
        orientation = img.getexif().get(_ORIENTATION)
    if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        img = img.convert("RGBA" if _transparent(img) else "RGB")
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if _transparent(img) else "RGB")
    method = _upright().get(orientation) if isinstance(orientation, int) else None
    return img.transpose(method) if method is not None else img


def _transparent(img: Any) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def _encode(img: Any, budget: Budget) -> tuple[str, bytes]:
    if img.mode in ("RGBA", "LA"):
        png = io.BytesIO()
        img.save(png, "PNG", optimize=True)
        if png.tell() <= budget.thumbnail_bytes:
            return "image/png", png.getvalue()
        img = _flatten(img)
    for quality in (85, 70, 50, 30):
        jpeg = io.BytesIO()
        img.convert("RGB").save(jpeg, "JPEG", quality=quality)
        if jpeg.tell() <= budget.thumbnail_bytes:
            break
    return "image/jpeg", jpeg.getvalue()


def _flatten(img: Any) -> Any:
    background = Image.new("RGB", img.size, "white")
    background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
    return background
