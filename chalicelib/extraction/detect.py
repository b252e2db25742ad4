"""What a file really is, from its bytes rather than its name.

libmagic on the first kilobytes is vague or wrong where it matters most: every
OOXML/ODF/EPUB file is `application/zip`, every legacy Office file
`application/x-ole-storage`, CSV and JSON `text/plain`. So detection runs in
three steps, each returning ExifTool's MIMEType spelling:

1. `signatures`: binary signatures on the head, refined by looking inside
   containers through the seekable reader;
2. text: `encoding` decodes (BOMs, UTF-16/32 without BOM, UTF-8, 8-bit), then
   `textkind` tells markup (HTML, SVG, XMP, XML), JSON/NDJSON, e-mail, CSV/TSV
   with consistency checks, or plain text;
3. libmagic for everything else, its spellings mapped to ExifTool's.

The file name never decides the type; it only breaks ties that bytes cannot
(a `.csv` of one column, the format inside an encrypted OOXML package) and
decides `extension_mismatch` (see `extensions`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from chalicelib.extraction.encoding import SAMPLE_BYTES, decode_text
from chalicelib.extraction.extensions import ALIASES, extension_of, mime_table
from chalicelib.extraction.magic_binding import magic
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.signatures import signature
from chalicelib.extraction.textkind import classify_text

_local = threading.local()


@dataclass(frozen=True)
class Detection:
    mime_type: str
    description: str | None = None
    encoding: str | None = None
    encrypted: bool = False


def preload() -> None:
    """Import what detection uses, so forked children inherit it warm."""
    _magic()
    mime_table()


def detect(head: bytes, reader: RangedReader | None = None, filename: str = "") -> Detection:
    """Detect the type from the head; `reader` lets refinements look further in."""
    if not head:
        return Detection("application/x-empty", "empty")
    reader = reader if reader is not None else bytes_reader(head)
    ext = extension_of(filename)
    description = _describe(head)
    found = signature(head, reader, ext)
    if found is not None:
        return Detection(found.mime_type, description, encrypted=found.encrypted)
    text = _text(head, reader, ext)
    if text is not None:
        return Detection(text.mime_type, description, text.encoding)
    return Detection(_mime_type(head), description)


# --- libmagic -----------------------------------------------------------------------------------


def _magic() -> tuple[Any, Any]:
    pair = getattr(_local, "magic", None)
    if pair is None:
        pair = (magic.Magic(mime=True), magic.Magic())
        _local.magic = pair
    return pair


def libmagic(head: bytes) -> Detection:
    """libmagic's MIME type (in ExifTool's spelling) and description of a buffer (thread-safe)."""
    return Detection(_mime_type(head), _describe(head))


def _mime_type(head: bytes) -> str:
    mime_type = str(_magic()[0].from_buffer(head)) if head else "application/x-empty"
    return ALIASES.get(mime_type, mime_type)


def _describe(head: bytes) -> str | None:
    try:
        return str(_magic()[1].from_buffer(head)) if head else "empty"
    except Exception:
        return None


# --- text -----------------------------------------------------------------------------------------


def _text(head: bytes, reader: RangedReader, ext: str | None) -> Detection | None:
    complete = len(head) >= reader.size
    sample = head
    if not complete and len(head) < SAMPLE_BYTES:
        reader.seek(0)
        sample = reader.read(SAMPLE_BYTES)
        complete = len(sample) >= reader.size
    decoded = decode_text(sample, complete)
    if decoded is None:
        return None
    return Detection(classify_text(decoded.text, complete, ext), encoding=decoded.encoding.name)
