"""A tiny OLE2 compound-file writer for test fixtures (olefile only reads).

Version 3 (512-byte sectors). Every stream is zero-padded to the 4096-byte
mini-stream cutoff so it lives in regular sectors (no mini stream to write);
siblings are chained to the right. Enough for olefile to read.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

SECTOR = 512
END, FREE, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
SUMMARY_FMTID = bytes.fromhex("e0859ff2f94f6810ab9108002b27b3d9")
DOCSUMMARY_FMTID = bytes.fromhex("02d5cdd59c2e1b10939708002b2cf9ae")


def build(streams: dict[str, bytes]) -> bytes:
    """streams: 'Name' or 'Storage/Name' -> data."""
    tree: dict[str, Any] = {}
    for path, data in streams.items():
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = data.ljust(4096, b"\0")
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "data": b"", "kids": tree}]
    sectors: list[bytes] = []
    fat: list[int] = []
    _flatten(tree, entries)
    for entry in entries:
        data = entry["data"]
        if entry["type"] != 2 or not data:
            entry["start"] = END
            continue
        entry["start"] = len(sectors)
        count = (len(data) + SECTOR - 1) // SECTOR
        for i in range(count):
            sectors.append(data[i * SECTOR : (i + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(len(sectors) if i < count - 1 else END)
    directory = b"".join(_dir_entry(e) for e in entries)
    directory = directory.ljust(((len(directory) + SECTOR - 1) // SECTOR) * SECTOR, b"\0")
    first_dir = len(sectors)
    dir_count = len(directory) // SECTOR
    for i in range(dir_count):
        sectors.append(directory[i * SECTOR : (i + 1) * SECTOR])
        fat.append(len(sectors) if i < dir_count - 1 else END)
    fat_count = 1
    while (len(sectors) + fat_count) > fat_count * (SECTOR // 4):
        fat_count += 1
    first_fat = len(sectors)
    fat.extend([FATSECT] * fat_count)
    fat.extend([FREE] * (fat_count * (SECTOR // 4) - len(fat)))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    header = _header(fat_count, first_dir, first_fat)
    return header + b"".join(sectors) + fat_bytes


def _flatten(node: dict, entries: list[dict]) -> None:
    """Append children of `node` (already referenced by its parent entry) and link them."""
    parent = entries[-1] if entries[-1].get("kids") is node else next(e for e in entries if e.get("kids") is node)
    previous = None
    for name, value in node.items():
        entry = {
            "name": name,
            "type": 1 if isinstance(value, dict) else 2,
            "data": b"" if isinstance(value, dict) else value,
        }
        entries.append(entry)
        entry["index"] = len(entries) - 1
        if previous is None:
            parent["child"] = entry["index"]
        else:
            previous["right"] = entry["index"]
        previous = entry
        if isinstance(value, dict):
            entry["kids"] = value
            _flatten(value, entries)


def _dir_entry(entry: dict) -> bytes:
    name = entry["name"].encode("utf-16-le")[:62]
    return struct.pack(
        "<64sHBBIII16sIQQIII",
        name.ljust(64, b"\0"),
        len(name) + 2,
        entry["type"],
        1,
        NOSTREAM,
        entry.get("right", NOSTREAM),
        entry.get("child", NOSTREAM),
        b"\0" * 16,
        0,
        0,
        0,
        entry.get("start", END),
        len(entry["data"]),
        0,
    )


def _header(fat_count: int, first_dir: int, first_fat: int) -> bytes:
    head = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\0" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        fat_count,
        first_dir,
        0,
        4096,
        END,
        0,
        END,
        0,
    )
    difat = [first_fat + i for i in range(fat_count)] + [FREE] * (109 - fat_count)
    return head + struct.pack("<109I", *difat)


def property_set(fmtid: bytes, properties: dict[int, object], codepage: int = 1252) -> bytes:
    """A one-section property set stream: str -> VT_LPSTR, int -> VT_I4, datetime -> VT_FILETIME."""
    values = {1: ("codepage", codepage), **{k: ("value", v) for k, v in properties.items()}}
    blobs: list[tuple[int, bytes]] = []
    for pid, (kind, value) in values.items():
        if kind == "codepage":
            blobs.append((pid, struct.pack("<IhH", 2, int(value), 0)))  # type: ignore[call-overload]
        elif isinstance(value, str):
            raw = value.encode(f"cp{codepage}") + b"\0"
            raw = raw.ljust((len(raw) + 3) // 4 * 4, b"\0")
            blobs.append((pid, struct.pack("<II", 0x1E, len(value.encode(f"cp{codepage}")) + 1) + raw))
        elif isinstance(value, datetime):
            ticks = int((value - datetime(1601, 1, 1)).total_seconds() * 10_000_000)
            blobs.append((pid, struct.pack("<IQ", 0x40, ticks)))
        elif isinstance(value, int):
            blobs.append((pid, struct.pack("<Ii", 3, value)))
    table_size = 8 + 8 * len(blobs)
    offsets, body, offset = [], b"", table_size
    for pid, blob in blobs:
        offsets.append((pid, offset))
        body += blob
        offset += len(blob)
    section = struct.pack("<II", table_size + len(body), len(blobs))
    section += b"".join(struct.pack("<II", pid, off) for pid, off in offsets) + body
    header = struct.pack("<HHI16sI", 0xFFFE, 0, 0x00020006, b"\0" * 16, 1) + fmtid + struct.pack("<I", 48)
    return header + section
