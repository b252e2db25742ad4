"""What a photograph says about itself: EXIF exposure settings, the XMP packet's Dublin Core, IPTC.

Shared by every image container docpipe reads (JPEG, TIFF and DNG, PNG,
WebP, HEIC/AVIF, MPO, PSD). The EXIF block is decoded by Pillow's `Exif`
class (the caller has it); the XMP packet is parsed with defusedxml (it is
XML from the file, entities refused); IPTC-IIM records (JPEG APP13, TIFF tag
33723) are read by Pillow's `IptcImagePlugin`. Every value is bounded and
printable; the file's own words win over nothing, never over each other:
EXIF first, then XMP, then IPTC fill what is still missing.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

MAX_TEXT = 1024
MAX_KEYWORDS = 100
MAX_XMP_BYTES = 1024 * 1024
MAX_EXPOSURE_SECONDS = 3600.0

_ARTIST, _COPYRIGHT, _DESCRIPTION, _SOFTWARE = 0x013B, 0x8298, 0x010E, 0x0131
_EXIF_IFD = 0x8769
_EXPOSURE, _F_NUMBER, _ISO, _FLASH, _FOCAL, _LENS = 0x829A, 0x829D, 0x8827, 0x9209, 0x920A, 0xA434
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_PHOTOSHOP = "{http://ns.adobe.com/photoshop/1.0/}"
_IPTC = {(2, 5): "title", (2, 105): "headline", (2, 80): "author", (2, 116): "copyright", (2, 120): "description"}
_IPTC_KEYWORDS = (2, 25)


def exif_fields(exif: Any) -> dict[str, Any]:
    """Exposure and authorship from an EXIF block (Pillow `Exif`)."""
    out: dict[str, Any] = {
        "author": text(exif.get(_ARTIST)),
        "copyright": text(exif.get(_COPYRIGHT)),
        "description": text(exif.get(_DESCRIPTION)),
        "creator_tool": text(exif.get(_SOFTWARE)),
    }
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # an unreadable sub-directory: the caller already warned
        return out
    flash = number(sub.get(_FLASH))
    iso = sub.get(_ISO)
    out.update(
        exposure_time=_positive(sub.get(_EXPOSURE), 6, MAX_EXPOSURE_SECONDS),
        f_number=_positive(sub.get(_F_NUMBER), 2, 1000.0),
        focal_length=_positive(sub.get(_FOCAL), 2, 100_000.0),
        iso=int(iso[0] if isinstance(iso, tuple) and iso else iso) if isinstance(iso, (int, tuple)) and iso else None,
        lens_model=text(sub.get(_LENS)),
        flash=bool(int(flash) & 1) if flash is not None else None,
    )
    return out


def xmp_fields(packet: bytes | str | None) -> dict[str, Any]:
    """Dublin Core (title, creator, rights, subject, description) and Photoshop headline from an XMP packet."""
    if not packet:
        return {}
    data = packet.encode("utf-8") if isinstance(packet, str) else packet
    start = data.find(b"<x:xmpmeta")
    start = data.find(b"<rdf:RDF") if start < 0 else start
    end = max(data.rfind(b"</x:xmpmeta>") + len(b"</x:xmpmeta>"), data.rfind(b"</rdf:RDF>") + len(b"</rdf:RDF>"))
    try:
        root = SafeET.fromstring(data[max(0, start) : end if end > start else None][:MAX_XMP_BYTES])
    except Exception:  # a damaged or hostile packet: nothing from it
        return {}
    keywords = _values(root, f"{_DC}subject")
    creators = _values(root, f"{_DC}creator")
    return {
        "title": _first(_values(root, f"{_DC}title")),
        "author": "; ".join(creators) or None,
        "copyright": _first(_values(root, f"{_DC}rights")),
        "description": _first(_values(root, f"{_DC}description")),
        "keywords": keywords[:MAX_KEYWORDS] or None,
        "headline": _first(_values(root, f"{_PHOTOSHOP}Headline")),
    }


def iptc_fields(records: dict[tuple[int, int], Any] | None) -> dict[str, Any]:
    """IPTC-IIM datasets (as Pillow's `getiptcinfo` returns them): title, headline, by-line, copyright, keywords."""
    if not records:
        return {}
    out: dict[str, Any] = {name: text(_one(records.get(key))) for key, name in _IPTC.items()}
    raw = records.get(_IPTC_KEYWORDS)
    values = raw if isinstance(raw, list) else [raw] if raw else []
    out["keywords"] = [v for v in (text(value) for value in values[:MAX_KEYWORDS]) if v] or None
    return out


def merge(fields: dict[str, Any], *sources: dict[str, Any]) -> None:
    """Fill what `fields` lacks from each source in turn."""
    for source in sources:
        for key, value in source.items():
            if value not in (None, "", []) and fields.get(key) in (None, "", []):
                fields[key] = value


def text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.rstrip(b"\x00").decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    return cleaned[:MAX_TEXT] or None


def number(value: Any) -> float | None:
    try:
        result = value[0] / value[1] if isinstance(value, tuple) and len(value) == 2 else float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def _positive(value: Any, digits: int, bound: float) -> float | None:
    """A plausible positive measure, rounded; 0xFFFFFFFF/1-style placeholders are dropped."""
    result = number(value)
    return round(result, digits) if result is not None and 0 < result <= bound else None


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _values(root: Element, tag: str) -> list[str]:
    """Every value of an XMP property: rdf:li items of a Bag/Seq/Alt, a plain element, or an attribute."""
    found: list[str] = []
    for element in root.iter(tag):
        items = list(element.iter(f"{_RDF}li")) or [element]
        found += [t for t in (text(li.text) for li in items) if t]
    for description in root.iter(f"{_RDF}Description"):
        value = text(description.get(tag))
        if value:
            found.append(value)
    return found


def _first(values: list[str]) -> str | None:
    return values[0] if values else None
