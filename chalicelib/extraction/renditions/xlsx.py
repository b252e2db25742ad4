"""XLSX (Office Open XML spreadsheets): the first rows of the first sheet.

Only the standard library's `zipfile` and defusedxml's expat parser are
used: the workbook names the first sheet, its relationships give the part, the
sheet part is streamed until enough rows were seen, and only the shared
strings those rows refer to are kept (the shared-string part is streamed and
dropped once the highest index needed has passed). Every part is read through
a decompressed-byte cap, so a zip bomb costs `Budget.xml_bytes` at most, and
DTDs and entities are refused before anything expands. Values are shown as
stored: no number formats (a date is its serial number), no formulas.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from defusedxml.ElementTree import DefusedXMLParser

from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content, Items, Table
from chalicelib.extraction.renditions.table import shape

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CELL_REF = re.compile(r"^([A-Z]{1,3})[0-9]*$")
_SMALL_PART = 1024 * 1024
CHUNK = 64 * 1024


class _Enough(Exception):
    """Raised from a parser target once it has seen what it needs."""


def _stream(archive: zipfile.ZipFile, name: str, target: Any, cap: int) -> bool:
    """Feed a part to a defused parser; True when the whole part was parsed."""
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    read = 0
    try:
        with archive.open(name) as part:
            while read < cap:
                chunk = part.read(min(CHUNK, cap - read))
                if not chunk:
                    parser.close()
                    return True
                read += len(chunk)
                parser.feed(chunk)
    except _Enough:
        return True
    return False


class _Collect:
    """A parser target calling `on_start(tag, attrs)` for each element."""

    def __init__(self, on_start: Callable[[str, dict[str, str]], None]) -> None:
        self.on_start = on_start

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.on_start(tag, attrs)

    def end(self, tag: str) -> None:
        return None

    def data(self, text: str) -> None:
        return None

    def close(self) -> None:
        return None


def first_sheet(archive: zipfile.ZipFile) -> tuple[str, str]:
    """(part name, sheet name) of the workbook's first sheet."""
    sheets: list[tuple[str, str]] = []
    targets: dict[str, str] = {}

    def on_sheet(tag: str, attrs: dict[str, str]) -> None:
        if tag == f"{_MAIN}sheet":
            sheets.append((attrs.get(_REL_ID, ""), attrs.get("name", "")))
            raise _Enough

    def on_rel(tag: str, attrs: dict[str, str]) -> None:
        if tag.endswith("}Relationship") and "Id" in attrs and len(targets) < 10_000:
            targets[attrs["Id"]] = attrs.get("Target", "")

    names = set(archive.namelist())
    if "xl/workbook.xml" in names and "xl/_rels/workbook.xml.rels" in names:
        _stream(archive, "xl/workbook.xml", _Collect(on_sheet), _SMALL_PART)
        if sheets:
            _stream(archive, "xl/_rels/workbook.xml.rels", _Collect(on_rel), _SMALL_PART)
            target = targets.get(sheets[0][0], "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            if part in names:
                return part, sheets[0][1]
    fallback = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    if not fallback:
        raise ValueError("xlsx: the workbook has no worksheet part")
    return fallback[0], ""


class _Sheet:
    """Parser target keeping the first rows' cells: (column index, type, raw value)."""

    def __init__(self, max_rows: int, max_columns: int) -> None:
        self.rows: list[list[tuple[int, str, str]]] = []
        self.max_rows = max_rows
        self.max_columns = max_columns
        self.wide = False
        self._row: list[tuple[int, str, str]] | None = None
        self._cell: tuple[int, str] | None = None
        self._text: list[str] | None = None
        self._value: list[str] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == f"{_MAIN}row":
            self._row = []
        elif tag == f"{_MAIN}c" and self._row is not None:
            self._cell = (_column(attrs.get("r"), len(self._row)), attrs.get("t", "n"))
            self._value = []
        elif tag in (f"{_MAIN}v", f"{_MAIN}t") and self._cell is not None:
            self._text = []

    def data(self, text: str) -> None:
        if self._text is not None and sum(map(len, self._text)) < 32_768:
            self._text.append(text)

    def end(self, tag: str) -> None:
        if tag in (f"{_MAIN}v", f"{_MAIN}t") and self._text is not None:
            self._value.append("".join(self._text))
            self._text = None
        elif tag == f"{_MAIN}c" and self._cell is not None and self._row is not None:
            column, kind = self._cell
            if column < self.max_columns:
                self._row.append((column, kind, "".join(self._value)))
            else:
                self.wide = True
            self._cell = None
        elif tag == f"{_MAIN}row" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None
            if len(self.rows) >= self.max_rows:
                raise _Enough

    def close(self) -> None:
        return None


def _column(ref: str | None, position: int) -> int:
    found = _CELL_REF.match(ref or "")
    if not found:
        return position
    index = 0
    for letter in found.group(1):
        index = index * 26 + (ord(letter) - 64)
    return index - 1


def column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


class _SharedStrings:
    """Parser target keeping only the shared strings whose index is wanted."""

    def __init__(self, wanted: set[int]) -> None:
        self.wanted = wanted
        self.last = max(wanted) if wanted else -1
        self.found: dict[int, str] = {}
        self.index = -1
        self._parts: list[str] | None = None
        self._phonetic = 0
        self._in_t = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == f"{_MAIN}si":
            self.index += 1
            self._parts = [] if self.index in self.wanted else None
        elif tag == f"{_MAIN}rPh":
            self._phonetic += 1
        elif tag == f"{_MAIN}t":
            self._in_t = True

    def data(self, text: str) -> None:
        if self._in_t and self._parts is not None and not self._phonetic and sum(map(len, self._parts)) < 32_768:
            self._parts.append(text)

    def end(self, tag: str) -> None:
        if tag == f"{_MAIN}t":
            self._in_t = False
        elif tag == f"{_MAIN}rPh":
            self._phonetic -= 1
        elif tag == f"{_MAIN}si":
            if self._parts is not None:
                self.found[self.index] = "".join(self._parts)
            if self.index >= self.last:
                raise _Enough

    def close(self) -> None:
        return None


def _shared_strings(archive: zipfile.ZipFile, wanted: set[int], cap: int) -> dict[int, str]:
    if not wanted or "xl/sharedStrings.xml" not in archive.namelist():
        return {}
    target = _SharedStrings(wanted)
    _stream(archive, "xl/sharedStrings.xml", target, cap)
    return target.found


def _value(kind: str, raw: str, shared: dict[int, str]) -> str:
    if kind == "s":
        try:
            return shared.get(int(raw), "")
        except ValueError:
            return ""
    if kind == "b":
        return {"1": "TRUE", "0": "FALSE"}.get(raw, raw)
    return raw


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    if (document.get("metadata") or {}).get("encrypted") is True:
        return Content([Items("First sheet", [], "The workbook is encrypted: no cells are shown.")])
    reader.seek(0)
    with zipfile.ZipFile(cast(BinaryIO, reader)) as archive:
        part, sheet_name = first_sheet(archive)
        sheet = _Sheet(budget.rows, budget.columns)
        complete = _stream(archive, part, sheet, budget.xml_bytes)
        wanted = {int(raw) for row in sheet.rows for _, kind, raw in row if kind == "s" and raw.isdigit()}
        shared = _shared_strings(archive, wanted, budget.xml_bytes)
    width = max((column + 1 for row in sheet.rows for column, _, _ in row), default=0)
    rows = []
    for cells in sheet.rows:
        row = [""] * width
        for column, kind, raw in cells:
            row[column] = _value(kind, raw, shared)
        rows.append(shape(row, budget))
    notes = ["Values as stored: no number formats or formulas."]
    if len(sheet.rows) >= budget.rows:
        notes.insert(0, f"The first {len(rows):,} rows.")
    if sheet.wide:
        notes.append(f"Only the first {budget.columns} columns are shown.")
    if not complete:
        notes.append("The sheet was read only in part.")
    heading = f"First sheet: {sheet_name}" if sheet_name else "First sheet"
    header = [column_name(i) for i in range(width)] or None
    return Content([Table(heading, rows, header, " ".join(notes))])
