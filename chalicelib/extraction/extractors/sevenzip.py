"""7z: entry count, names, sizes and directories from the header database.

The header database at the end of a 7z archive lists every entry. Writers
usually compress it (an "encoded header": one LZMA folder), which Python's own
`lzma` module decodes in raw mode, so no native 7-Zip library is needed (py7zr
would bring several compiled dependencies into the Lambda package for this
one read). The decoded header is capped at `MAX_HEADER_BYTES`; an encrypted or
otherwise coded header is reported as not listable, never as a broken file.

Layout: 7-Zip's DOC/7zFormat.txt ("7z Format description"), sections
"Property IDs", "PackInfo", "Folder", "CodersInfo", "SubStreamsInfo",
"FilesInfo", "Header", "HeaderInfo".
"""

from __future__ import annotations

import lzma
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 1024 * 1024
MAX_ITEMS = 100_000
_LZMA = b"\x03\x01\x01"
_LZMA2 = b"\x21"
_AES = b"\x06\xf1\x07\x01"


class Unlistable(ValueError):
    """The header database cannot be read here (encrypted, an unusual coder); the archive may be fine."""


@dataclass
class _Folder:
    coders: list[tuple[bytes, bytes]] = field(default_factory=list)  # (method id, properties)
    unpack_sizes: list[int] = field(default_factory=list)
    outputs: int = 1
    bound: set[int] = field(default_factory=set)  # output streams that feed another coder

    @property
    def size(self) -> int:
        """The folder's unpacked size: that of the one output no bind pair consumes."""
        final = [size for index, size in enumerate(self.unpack_sizes) if index not in self.bound]
        return final[0] if final else 0


@dataclass
class _Streams:
    pack_position: int = 0
    pack_sizes: list[int] = field(default_factory=list)
    folders: list[_Folder] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # unpacked size of each file with content


@dataclass
class Listing:
    names: list[str]
    directories: int
    sizes: list[int]  # of the files that have content, in order
    encrypted: bool = False


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise ValueError("7z header ends early")
        self.at += 1
        return self.data[self.at - 1]

    def take(self, count: int) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise ValueError("7z header ends early")
        self.at += count
        return self.data[self.at - count : self.at]

    def number(self) -> int:
        """7z's variable-length UINT64: the leading one bits of the first byte count the bytes that follow."""
        first, mask, value = self.byte(), 0x80, 0
        for index in range(8):
            if not first & mask:
                return value | ((first & (mask - 1)) << (8 * index))
            value |= self.byte() << (8 * index)
            mask >>= 1
        return value

    def count(self) -> int:
        value = self.number()
        if value > MAX_ITEMS:
            raise ValueError(f"7z header claims {value} items")
        return value

    def bits(self, count: int) -> list[bool]:
        raw = self.take((count + 7) // 8)
        return [bool(raw[index // 8] & (0x80 >> (index % 8))) for index in range(count)]

    def defined(self, count: int) -> list[bool]:
        return [True] * count if self.byte() else self.bits(count)


def listing(database: bytes, read_packed: Callable[[int, int], bytes]) -> Listing:
    """The entries of a header database (`read_packed(offset, size)` reads packed bytes for an encoded header)."""
    reader = _Reader(database)
    kind = reader.byte()
    if kind == 0x17:
        database = _decode_header(reader, read_packed)
        reader = _Reader(database)
        kind = reader.byte()
    if kind != 0x01:
        raise ValueError(f"7z header starts with property {kind}")
    return _header(reader)


def _decode_header(reader: _Reader, read_packed: Callable[[int, int], bytes]) -> bytes:
    streams = _streams_info(reader)
    if len(streams.folders) != 1 or not streams.pack_sizes:
        raise Unlistable("7z: encoded header with an unusual layout")
    (folder,) = streams.folders
    methods = [method for method, _ in folder.coders]
    if _AES in methods:
        raise Unlistable("7z: the header is encrypted")
    if len(folder.coders) != 1 or methods[0] not in (_LZMA, _LZMA2):
        raise Unlistable(f"7z: header coded with {methods[0].hex() if methods else 'nothing'}")
    size = folder.size
    if not 0 < size <= MAX_HEADER_BYTES:
        raise Unlistable(f"7z: encoded header of {size} bytes is over the cap")
    packed = read_packed(32 + streams.pack_position, streams.pack_sizes[0])
    method, properties = folder.coders[0]
    try:
        decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[_filter(method, properties)])
        return bytes(decoder.decompress(packed, max_length=size))
    except lzma.LZMAError as exc:
        raise ValueError(f"7z: encoded header does not decode ({exc})") from exc


def _filter(method: bytes, properties: bytes) -> dict[str, int]:
    if method == _LZMA2:
        if not properties:
            raise ValueError("7z: LZMA2 coder without properties")
        bits = properties[0] & 0x3F
        dictionary = 0xFFFFFFFF if bits == 40 else (2 | (bits & 1)) << (bits // 2 + 11)
        return {"id": lzma.FILTER_LZMA2, "dict_size": dictionary}
    if len(properties) < 5:
        raise ValueError("7z: LZMA coder without properties")
    first = properties[0]
    return {
        "id": lzma.FILTER_LZMA1,
        "lc": first % 9,
        "lp": (first // 9) % 5,
        "pb": first // 45,
        "dict_size": int.from_bytes(properties[1:5], "little"),
    }


def _streams_info(reader: _Reader) -> _Streams:
    streams = _Streams()
    while (kind := reader.byte()) != 0x00:
        if kind == 0x06:
            streams.pack_position, streams.pack_sizes = _pack_info(reader)
        elif kind == 0x07:
            streams.folders = _coders_info(reader)
        elif kind == 0x08:
            streams.sizes = _substreams(reader, streams.folders)
        else:
            raise ValueError(f"7z: unexpected property {kind} in streams info")
    if streams.folders and not streams.sizes:
        streams.sizes = [f.size for f in streams.folders]
    return streams


def _pack_info(reader: _Reader) -> tuple[int, list[int]]:
    position, count = reader.number(), reader.count()
    sizes: list[int] = []
    while (kind := reader.byte()) != 0x00:
        if kind == 0x09:
            sizes = [reader.number() for _ in range(count)]
        elif kind == 0x0A:
            _digests(reader, count)
        else:
            raise ValueError(f"7z: unexpected property {kind} in pack info")
    return position, sizes


def _coders_info(reader: _Reader) -> list[_Folder]:
    if reader.byte() != 0x0B:
        raise ValueError("7z: coders info without folders")
    count = reader.count()
    if reader.byte():
        raise Unlistable("7z: folders stored in an additional stream")
    folders = [_folder(reader) for _ in range(count)]
    while (kind := reader.byte()) != 0x00:
        if kind == 0x0C:
            for folder in folders:
                folder.unpack_sizes = [reader.number() for _ in range(folder.outputs)]
        elif kind == 0x0A:
            _digests(reader, count)
        else:
            raise ValueError(f"7z: unexpected property {kind} in coders info")
    return folders


def _folder(reader: _Reader) -> _Folder:
    folder, inputs, outputs = _Folder(), 0, 0
    for _ in range(min(reader.count(), 64)):
        flags = reader.byte()
        method = reader.take(flags & 0x0F)
        ins, outs = (reader.count(), reader.count()) if flags & 0x10 else (1, 1)
        properties = reader.take(reader.count()) if flags & 0x20 else b""
        folder.coders.append((method, properties))
        inputs, outputs = inputs + ins, outputs + outs
    for _ in range(outputs - 1):  # bind pairs: (input index, output index)
        reader.number()
        folder.bound.add(reader.number())
    packed = inputs - (outputs - 1)
    if packed > 1:
        for _ in range(packed):
            reader.number()
    folder.outputs = outputs
    return folder


def _substreams(reader: _Reader, folders: list[_Folder]) -> list[int]:
    counts = [1] * len(folders)
    sizes: list[int] = []
    kind = reader.byte()
    if kind == 0x0D:
        counts = [reader.count() for _ in folders]
        kind = reader.byte()
    if kind == 0x09:
        for folder, count in zip(folders, counts, strict=True):
            if count:
                parts = [reader.number() for _ in range(count - 1)]
                total = folder.size
                sizes += [*parts, max(0, total - sum(parts))]
        kind = reader.byte()
    else:
        sizes = [f.size for f, c in zip(folders, counts, strict=True) if c == 1]
    while kind != 0x00:
        if kind == 0x0A:
            _digests(reader, sum(counts))
        else:
            raise ValueError(f"7z: unexpected property {kind} in substreams info")
        kind = reader.byte()
    return sizes


def _digests(reader: _Reader, count: int) -> None:
    reader.take(4 * sum(reader.defined(count)))


def _header(reader: _Reader) -> Listing:
    streams = _Streams()
    while (kind := reader.byte()) != 0x00:
        if kind == 0x02:  # archive properties
            while reader.byte() != 0x00:
                reader.take(reader.number())
        elif kind == 0x03:  # additional streams
            _streams_info(reader)
        elif kind == 0x04:
            streams = _streams_info(reader)
        elif kind == 0x05:
            break
        else:
            raise ValueError(f"7z: unexpected property {kind} in the header")
    else:
        return Listing([], 0, streams.sizes, _encrypted(streams))
    return _files(reader, streams.sizes, _encrypted(streams))


def _encrypted(streams: _Streams) -> bool:
    return any(method == _AES for folder in streams.folders for method, _ in folder.coders)


def _files(reader: _Reader, sizes: list[int], encrypted: bool) -> Listing:
    count = reader.count()
    names: list[str] = []
    empty: list[bool] = [False] * count
    empty_file: list[bool] = []
    while (kind := reader.byte()) != 0x00:
        size = reader.number()
        body = _Reader(reader.take(size))
        if kind == 0x0E:
            empty = body.bits(count)
        elif kind == 0x0F:
            empty_file = body.bits(sum(empty))
        elif kind == 0x11 and body.byte() == 0:
            text = body.data[body.at :].decode("utf-16-le", "replace")
            names = text.split("\x00")[:count]
    streams = sum(empty)
    directories = sum(1 for index in range(streams) if not (empty_file[index] if index < len(empty_file) else False))
    return Listing(names, directories, sizes, encrypted)
