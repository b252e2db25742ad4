"""What a file really is, from its bytes rather than its name.

libmagic (python-magic) looks at the head of the object; where it is known to
be vague (ZIP and OLE containers, plain text) the container is inspected.
The file name only decides `extension_mismatch`.
"""

from __future__ import annotations

import mimetypes
import threading
from dataclasses import dataclass

from chalicelib.reader import RangedReader

_local = threading.local()

# libmagic spellings -> the registered type ExifTool and browsers use
_ALIASES = {
    "image/x-ms-bmp": "image/bmp",
    "image/x-icon": "image/vnd.microsoft.icon",
    "application/x-pdf": "application/pdf",
}

# extensions that are right for a type even though mimetypes does not list them
_EXTRA_EXTENSIONS: dict[str, set[str]] = {
    "image/jpeg": {"jpg", "jpeg", "jpe", "jfif"},
    "image/tiff": {"tif", "tiff"},
    "text/plain": {"txt", "text", "log", "md", "markdown", "csv", "tsv", "ini", "cfg"},
}


@dataclass(frozen=True)
class Detection:
    mime_type: str
    description: str | None = None


def _magic() -> tuple[object, object]:
    pair = getattr(_local, "magic", None)
    if pair is None:
        import magic

        pair = (magic.Magic(mime=True), magic.Magic())
        _local.magic = pair
    return pair


def libmagic(head: bytes) -> Detection:
    """libmagic's MIME type and description of a buffer (thread-safe)."""
    mime, desc = _magic()
    mime_type = str(mime.from_buffer(head)) if head else "application/x-empty"  # type: ignore[attr-defined]
    try:
        description = str(desc.from_buffer(head)) if head else "empty"  # type: ignore[attr-defined]
    except Exception:
        description = None
    return Detection(_ALIASES.get(mime_type, mime_type), description)


def detect(head: bytes, reader: RangedReader | None = None, filename: str = "") -> Detection:
    """Detect the type from the head; `reader` lets refinements look further in."""
    return libmagic(head)


def extension_of(filename: str) -> str | None:
    base = filename.rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return None
    ext = base.rsplit(".", 1)[-1].lower()
    return ext if 0 < len(ext) <= 10 and ext.isalnum() else None


def extension_mismatch(mime_type: str, extension: str | None) -> bool | None:
    """True when the name claims a type the content is not; None when unknowable."""
    if extension is None:
        return None
    claimed, _ = mimetypes.guess_type(f"x.{extension}", strict=False)
    if claimed is None:
        return None
    if claimed == mime_type:
        return False
    valid = set(_EXTRA_EXTENSIONS.get(mime_type, set()))
    valid.update(e.lstrip(".") for e in mimetypes.guess_all_extensions(mime_type, strict=False))
    return extension not in valid
