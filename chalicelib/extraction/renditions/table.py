"""CSV and TSV: the first rows as a table.

The dialect, encoding and header come from the same `sniff` the extractor and
the record ingestion use (the header decision recorded in the metadata wins),
and rows are streamed by `iter_rows`, so the page shows the file the way the
rest of the pipeline reads it. Rows, columns and
cell lengths are capped; a row the csv module rejects is skipped and counted.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from typing import Any, BinaryIO, cast

from chalicelib.extraction.encoding import SAMPLE_BYTES
from chalicelib.extraction.extractors.tabular import iter_rows, sniff
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.renditions.base import Budget, Content, Table, cut


def shape(row: list[str], budget: Budget) -> list[str]:
    """A row cut to the column and cell budgets (a cut cell ends with an ellipsis)."""
    cells = []
    for cell in row[: budget.columns]:
        text, cut_off = cut(cell, budget.cell_chars)
        cells.append(text + "…" if cut_off else text)
    return cells


def describe(shown: int, total: int | None, wide: bool, budget: Budget) -> str | None:
    notes = []
    if total is not None and total > shown:
        notes.append(f"The first {shown:,} of {total:,} rows.")
    elif total is None and shown >= budget.rows:
        notes.append(f"The first {shown:,} rows.")
    if wide:
        notes.append(f"Only the first {budget.columns} columns are shown.")
    return " ".join(notes) or None


def content(reader: RangedReader, document: dict[str, Any], budget: Budget) -> Content:
    metadata = document.get("metadata") or {}
    reader.seek(0)
    sample = reader.read(SAMPLE_BYTES)
    prefer_tab = metadata.get("mime_type") == "text/tab-separated-values" or metadata.get("delimiter") == "\t"
    fmt = sniff(sample, complete=len(sample) >= reader.size, prefer_tab=prefer_tab)
    if isinstance(metadata.get("has_header"), bool):  # what extraction decided, so the page agrees with it
        fmt = replace(fmt, has_header=metadata["has_header"])
    header: list[str] | None = None
    rows: list[list[str]] = []
    wide = False
    bad = 0
    for row in iter_rows(cast(BinaryIO, reader), fmt):
        if isinstance(row, csv.Error):
            bad += 1
            if bad > budget.rows:
                break
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        wide = wide or len(row) > budget.columns
        if fmt.has_header and header is None:
            header = shape(row, budget)
            continue
        rows.append(shape(row, budget))
        if len(rows) >= budget.rows or reader.tell() > budget.read_bytes:
            break
    total = metadata.get("row_count") if isinstance(metadata.get("row_count"), int) else None
    note = describe(len(rows), total, wide, budget)
    if bad:
        note = " ".join(filter(None, [note, f"{bad} unreadable rows are left out."]))
    return Content([Table("Rows", rows, header, note)])
