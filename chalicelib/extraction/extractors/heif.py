"""HEIF/HEIC/AVIF still images from their ISOBMFF `meta` box, without a native codec.

Pillow cannot open these without a libheif/libavif plugin (megabytes of native
code in the Lambda package), yet everything worth reporting sits in the small
`meta` box: the primary item (`pitm`), its properties (`ispe` size, `irot`
rotation, `pixi` bit depth, `colr` ICC profile) and where the Exif item lives
(`iloc`). That box is read whole (within a cap); the Exif item is then read
from its extent; no image data is touched.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from chalicelib.extraction import isobmff

MAX_META_BYTES = 4 * 1024 * 1024
MAX_EXIF_BYTES = 1024 * 1024
MAX_ITEMS = 10_000


class HeifError(ValueError):
    """The file is not a readable HEIF container."""


@dataclass
class HeifInfo:
    brand: str
    compatible: list[str]
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    mirrored: bool = False
    bit_depth: int | None = None
    has_icc: bool = False
    primary_type: str | None = None
    item_count: int = 0
    exif: bytes | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Item:
    kind: str = ""
    method: int = 0
    extents: list[tuple[int, int]] = field(default_factory=list)
    base: int = 0


def read(file: BinaryIO, size: int) -> HeifInfo:
    brand, compatible, meta = _locate(file, size)
    info = HeifInfo(brand=brand, compatible=compatible)
    if meta is None:
        raise HeifError("heif: no meta box")
    if meta.payload_size > MAX_META_BYTES:
        raise HeifError(f"heif: meta box of {meta.payload_size} bytes exceeds the cap")
    payload = isobmff.read_payload(file, meta, MAX_META_BYTES)
    _parse_meta(payload[4:], meta.payload_start + 4, file, info)
    return info


def _locate(file: BinaryIO, size: int) -> tuple[str, list[str], isobmff.Box | None]:
    brand, compatible, meta = "", [], None
    for box in isobmff.top_level(file, size):
        if box.kind == "ftyp":
            data = isobmff.read_payload(file, box, 1024)
            brand = data[:4].decode("latin-1")
            compatible = [data[i : i + 4].decode("latin-1") for i in range(8, len(data) - 3, 4)]
        elif box.kind == "meta":
            meta = box
            break
    if not brand:
        raise HeifError("heif: no ftyp box")
    return brand, compatible, meta


def _children(data: bytes, base: int) -> list[tuple[str, bytes, int]]:
    """(type, payload, absolute payload offset) of the boxes inside an in-memory payload."""
    out: list[tuple[str, bytes, int]] = []
    position = 0
    while position + 8 <= len(data) and len(out) < MAX_ITEMS:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1 and position + 16 <= len(data):
            size = struct.unpack_from(">Q", data, position + 8)[0]
            header = 16
        elif size == 0:
            size = len(data) - position
        if size < header:
            break
        end = min(position + size, len(data))
        out.append((kind.decode("latin-1"), data[position + header : end], base + position + header))
        position = end
    return out


def _parse_meta(data: bytes, base: int, file: BinaryIO, info: HeifInfo) -> None:
    boxes = {kind: (payload, offset) for kind, payload, offset in reversed(_children(data, base))}
    primary = _primary(boxes.get("pitm", (b"", 0))[0])
    items = _items(boxes.get("iinf", (b"", 0))[0])
    _locations(boxes.get("iloc", (b"", 0))[0], items)
    info.item_count = len(items)
    if primary is not None and primary in items:
        info.primary_type = items[primary].kind
    if "iprp" in boxes:
        _properties(boxes["iprp"][0], primary, info)
    idat = boxes.get("idat")
    exif_item = next((item for item in items.values() if item.kind == "Exif"), None)
    if exif_item is not None:
        try:
            info.exif = _exif(file, exif_item, idat[1] if idat else None)
        except (OSError, ValueError, struct.error) as exc:
            info.warnings.append(f"heif: Exif item unreadable ({exc})")


def _full_box(data: bytes) -> tuple[int, int, bytes]:
    if len(data) < 4:
        raise HeifError("heif: truncated full box")
    return data[0], int.from_bytes(data[1:4], "big"), data[4:]


def _primary(data: bytes) -> int | None:
    if len(data) < 6:
        return None
    version, _, body = _full_box(data)
    return int(struct.unpack_from(">I" if version else ">H", body)[0])


def _items(data: bytes) -> dict[int, _Item]:
    if len(data) < 6:
        return {}
    version, _, body = _full_box(data)
    skip = 4 if version else 2
    items: dict[int, _Item] = {}
    for kind, payload, _ in _children(body[skip:], 0):
        if kind != "infe" or len(payload) < 4:
            continue
        infe_version, _, entry = _full_box(payload)
        if infe_version < 2:
            continue
        id_size = 4 if infe_version >= 3 else 2
        if len(entry) < id_size + 6:
            continue
        item_id = int.from_bytes(entry[:id_size], "big")
        item_type = entry[id_size + 2 : id_size + 6].decode("latin-1")
        items[item_id] = _Item(kind=item_type)
    return items


def _locations(data: bytes, items: dict[int, _Item]) -> None:
    if len(data) < 8:
        return
    version, _, body = _full_box(data)
    reader = _Cursor(body)
    sizes = reader.uint(2)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF if version in (1, 2) else 0
    count = reader.uint(4 if version == 2 else 2)
    for _ in range(min(count, MAX_ITEMS)):
        item_id = reader.uint(4 if version == 2 else 2)
        method = reader.uint(2) & 0xF if version in (1, 2) else 0
        reader.uint(2)
        base_offset = reader.uint(base_size)
        extents = []
        for _ in range(min(reader.uint(2), MAX_ITEMS)):
            reader.uint(index_size)
            extents.append((reader.uint(offset_size), reader.uint(length_size)))
        if item_id in items:
            items[item_id].method, items[item_id].base, items[item_id].extents = method, base_offset, extents


def _properties(data: bytes, primary: int | None, info: HeifInfo) -> None:
    parts = {kind: payload for kind, payload, _ in reversed(_children(data, 0))}
    properties = _children(parts.get("ipco", b""), 0)
    indexes = _associations(parts.get("ipma", b""), primary)
    if primary is None or not indexes:
        indexes = list(range(1, len(properties) + 1))
    for index in indexes:
        if 1 <= index <= len(properties):
            kind, payload, _ = properties[index - 1]
            _property(kind, payload, info)


def _property(kind: str, payload: bytes, info: HeifInfo) -> None:
    if kind == "ispe" and len(payload) >= 12 and info.width is None:
        info.width, info.height = struct.unpack_from(">II", payload, 4)
    elif kind == "irot" and payload:
        info.rotation = (payload[0] & 0x3) * 90
    elif kind == "imir":
        info.mirrored = True
    elif kind == "pixi" and len(payload) >= 6 and payload[4]:
        info.bit_depth = payload[5]
    elif kind == "colr" and payload[:4] in (b"prof", b"rICC"):
        info.has_icc = True


def _associations(data: bytes, primary: int | None) -> list[int]:
    if len(data) < 8 or primary is None:
        return []
    version, flags, body = _full_box(data)
    reader = _Cursor(body)
    for _ in range(min(reader.uint(4), MAX_ITEMS)):
        item_id = reader.uint(4 if version >= 1 else 2)
        indexes = []
        for _ in range(reader.uint(1)):
            if flags & 1:
                indexes.append(reader.uint(2) & 0x7FFF)
            else:
                indexes.append(reader.uint(1) & 0x7F)
        if item_id == primary:
            return indexes
    return []


def _exif(file: BinaryIO, item: _Item, idat_offset: int | None) -> bytes | None:
    if not item.extents or item.method not in (0, 1):
        return None
    offset, length = item.extents[0]
    start = item.base + offset
    if item.method == 1:
        if idat_offset is None:
            return None
        start += idat_offset
    if length <= 4 or length > MAX_EXIF_BYTES:
        return None
    file.seek(start)
    data = file.read(length)
    skip = int.from_bytes(data[:4], "big") + 4
    if skip >= len(data):
        return None
    return data[skip:]


class _Cursor:
    """Big-endian unsigned integers of variable width from a byte string."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def uint(self, size: int) -> int:
        if size == 0:
            return 0
        if size not in (1, 2, 4, 8) or self._pos + size > len(self._data):
            raise HeifError("heif: truncated item table")
        value = int.from_bytes(self._data[self._pos : self._pos + size], "big")
        self._pos += size
        return value
