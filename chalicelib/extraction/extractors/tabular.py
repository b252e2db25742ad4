"""CSV and TSV: encoding, dialect, header, columns and a streamed row count.

The format logic is reusable by the CSV ingestion path: `sniff(sample)`
decides the encoding and dialect from the file's first bytes (the encoding
as `encoding.sniff_encoding` names it; the delimiter as `delimited.choose`
scores it, the same score detection uses; `csv.Sniffer`'s quoting and
escaping when it splits on that delimiter too), and `iter_rows(file, fmt)` streams rows from a seekable binary file
through a text wrapper, never holding the file in memory. Python's csv field
size limit stays in force: a huge field is a bad row, counted, not a crash.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.delimited import DELIMITERS, Fit, choose
from chalicelib.extraction.encoding import SAMPLE_BYTES, Encoding, decode_sample, sniff_encoding
from chalicelib.extraction.extractors.base import Extraction, Source, compact

MAX_COLUMNS_LISTED = 200
MAX_COLUMN_NAME = 256
MAX_BAD_ROWS = 10_000
"""Stop counting after this many rows the csv module rejects: it is not CSV."""

_ENCODING_OVERRIDES = {"latin-1": "iso-8859-1"}


@dataclass(frozen=True)
class CsvFormat:
    """Everything needed to read the rows again: encoding, dialect, header."""

    encoding: Encoding
    delimiter: str = ","
    quotechar: str = '"'
    doublequote: bool = True
    escapechar: str | None = None
    skipinitialspace: bool = False
    has_header: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def reader_options(self) -> dict[str, Any]:
        return {
            "delimiter": self.delimiter,
            "quotechar": self.quotechar,
            "doublequote": self.doublequote,
            "escapechar": self.escapechar,
            "skipinitialspace": self.skipinitialspace,
            "strict": False,
        }


def sniff(sample: bytes, complete: bool = False, prefer_tab: bool = False) -> CsvFormat:
    """Decide encoding, dialect and header from the first bytes of a file.

    `complete` says the sample is the whole file; `prefer_tab` breaks ties
    toward tab (a .tsv name or text/tab-separated-values).
    """
    encoding = sniff_encoding(sample, complete=complete)
    text = decode_sample(sample, encoding).lstrip("\ufeff")
    if not complete:
        text = _whole_lines(text)
    notes: list[str] = []
    order = "\t" + DELIMITERS.replace("\t", "") if prefer_tab else DELIMITERS
    chosen = choose(text, order)
    dialect = _sniffed_dialect(text, chosen)
    if dialect is None:
        notes.append("dialect guessed by delimiter scoring")
        dialect = _dialect(chosen.delimiter if chosen else order[0])
    return CsvFormat(
        encoding=encoding,
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar or '"',
        # the sniffer says False when it saw no doubled quote; RFC 4180 says True
        doublequote=bool(dialect.doublequote) or dialect.escapechar is None,
        escapechar=dialect.escapechar,
        skipinitialspace=bool(dialect.skipinitialspace),
        has_header=_has_header(text, dialect),
        notes=tuple(notes),
    )


def _whole_lines(text: str) -> str:
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[: cut + 1] if cut > 0 else text


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    escapechar = None
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL


def _dialect(delimiter: str) -> type[csv.Dialect]:
    return type("Scored", (_Dialect,), {"delimiter": delimiter})


def _sniffed_dialect(text: str, chosen: Fit | None) -> type[csv.Dialect] | None:
    """csv.Sniffer's dialect (its quoting and escaping) when it splits on the delimiter the scoring chose."""
    if chosen is None or not text.strip():
        return None
    try:
        found = _Sniffer().sniff(text[:SAMPLE_BYTES], delimiters=DELIMITERS)
    except csv.Error:
        return None
    return found if found.delimiter == chosen.delimiter else None


class _Sniffer(csv.Sniffer):
    """`csv.Sniffer` whose delimiter guess tallies only the candidate delimiters.

    When no quoting reveals the delimiter, the standard library's
    `_guess_delimiter` counts every one of the 127 ASCII characters on every
    line (most of a CSV's sniffing, 0.3-5 ms a file), though only a character
    among `delimiters` can be chosen and each character's tally, mode and
    consistency are its own. Here the same steps run for the candidates
    alone, in the same order, so the answer is the same
    (tests/unit/extractors/test_tabular.py compares it with the standard
    library's on random text and the corpus's files).
    """

    def _guess_quote_and_delimiter(self, data: str, delimiters: str | None) -> tuple[str, bool, str | None, bool | int]:
        """The standard library's, which looks for a pair of like quotes with four regular expressions over the
        sample: without two of either quote character none can match, and its answer is then "none found"."""
        if data.count('"') < 2 and data.count("'") < 2:
            return ("", False, None, 0)
        return super()._guess_quote_and_delimiter(data, delimiters)  # type: ignore[misc]

    def _guess_delimiter(self, data: str, delimiters: str | None) -> tuple[str, bool | int]:
        if delimiters is None or not delimiters.isascii() or "\x7f" in delimiters:
            return super()._guess_delimiter(data, delimiters)  # type: ignore[misc]
        lines = [line for line in data.split("\n") if line]
        candidates = [chr(code) for code in range(127) if chr(code) in delimiters]
        chunk = min(10, len(lines))
        tallies: dict[str, dict[int, int]] = {}  # character -> {times on a line: lines}
        modes: dict[str, tuple[int, int]] = {}
        found: dict[str, tuple[int, int]] = {}
        start, rounds = 0, 0
        while start < len(lines):
            rounds += 1
            for line in lines[start : start + chunk]:
                for char in candidates:
                    tally = tallies.setdefault(char, {})
                    times = line.count(char)
                    tally[times] = tally.get(times, 0) + 1
            for char, tally in tallies.items():
                items = list(tally.items())
                if len(items) == 1 and items[0][0] == 0:
                    continue
                mode = max(items, key=lambda item: item[1]) if len(items) > 1 else items[0]
                if len(items) > 1:
                    items.remove(mode)
                    mode = (mode[0], mode[1] - sum(item[1] for item in items))
                modes[char] = mode
            total = float(min(chunk * rounds, len(lines)))
            consistency = 1.0
            while not found and consistency >= 0.9:
                for char, (times, lines_at) in modes.items():
                    if times > 0 and lines_at > 0 and lines_at / total >= consistency and char in delimiters:
                        found[char] = (times, lines_at)
                consistency -= 0.01
            if len(found) == 1:
                return self._with_space(lines, next(iter(found)))
            start += chunk
        if not found:
            return ("", 0)
        if len(found) > 1:
            for char in self.preferred:
                if char in found:
                    return self._with_space(lines, char)
        return self._with_space(lines, max((mode, char) for char, mode in found.items())[1])

    @staticmethod
    def _with_space(lines: list[str], delimiter: str) -> tuple[str, bool]:
        return delimiter, lines[0].count(delimiter) == lines[0].count(f"{delimiter} ")


def _has_header(text: str, dialect: type[csv.Dialect]) -> bool:
    """csv.Sniffer's header heuristic, applied with the dialect already decided."""

    class _Decided(csv.Sniffer):
        def sniff(self, sample: str, delimiters: str | None = None) -> type[csv.Dialect]:
            return dialect

    if not text.strip():
        return False
    try:
        return _Decided().has_header(text[:SAMPLE_BYTES])
    except (csv.Error, ValueError, TypeError):
        return False


def iter_rows(binary_file: BinaryIO, fmt: CsvFormat) -> Iterator[list[str] | csv.Error]:
    """Stream the rows of a seekable binary file (header included).

    A row the csv module rejects (a field over the size limit, ...) is
    yielded as the `csv.Error` itself and reading goes on with the next line.
    """
    binary_file.seek(0)
    buffered = io.BufferedReader(_Unclosed(binary_file), buffer_size=64 * 1024)
    text = io.TextIOWrapper(buffered, encoding=fmt.encoding.codec, errors="replace", newline="")
    try:
        reader = csv.reader(text, **fmt.reader_options())
        while True:
            try:
                for row in reader:  # the reader goes on after a rejected row: the loop is entered again
                    if row and row[0].startswith("\ufeff"):
                        row[0] = row[0][1:]
                    yield row
                return
            except csv.Error as exc:
                yield exc
    finally:
        text.detach()


class _Unclosed(io.RawIOBase):
    """A raw view of a binary file that the wrappers may close without closing the file."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass
class _Tally:
    rows: int = 0
    blank: int = 0
    ragged: int = 0
    bad: int = 0
    widths: Counter[int] = field(default_factory=Counter)
    first: list[str] | None = None


def _tally(source: Source, fmt: CsvFormat) -> _Tally:
    """Rows, blank rows, rejected rows and widths (at most 1000 distinct), counted with locals in the loop."""
    tally = _Tally()
    widths = tally.widths
    rows = blank = bad = 0
    for row in iter_rows(source.file, fmt):
        if not isinstance(row, list):  # a csv.Error the reader raised for this row
            bad += 1
            if bad >= MAX_BAD_ROWS:
                raise ExtractionFailed("csv: too many unreadable rows", code="corrupt")
            continue
        width = len(row)
        if width > 1 or (width == 1 and row[0].strip()):
            if tally.first is None:
                tally.first = row
            rows += 1
            if width in widths:
                widths[width] += 1
            elif len(widths) < 1000:
                widths[width] = 1
        else:
            blank += 1
    tally.rows, tally.blank, tally.bad = rows, blank, bad
    return tally


def extract(source: Source) -> Extraction:
    source.reader.seek(0)
    sample = source.reader.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ExtractionFailed("csv: empty file", code="corrupt")
    prefer_tab = source.mime_type == "text/tab-separated-values" or source.filename.lower().endswith(".tsv")
    fmt = sniff(sample, complete=len(sample) >= source.size, prefer_tab=prefer_tab)
    tally = _tally(source, fmt)
    width = tally.widths.most_common(1)[0][0] if tally.widths else 0
    tally.ragged = sum(count for w, count in tally.widths.items() if w != width)
    header = tally.first if fmt.has_header and tally.first else None
    fields = {
        "encoding": _ENCODING_OVERRIDES.get(fmt.encoding.name, fmt.encoding.name),
        "delimiter": fmt.delimiter,
        "has_header": fmt.has_header,
        "column_count": width or None,
        "columns": [name[:MAX_COLUMN_NAME] for name in header[:MAX_COLUMNS_LISTED]] if header else None,
        "row_count": tally.rows - (1 if header else 0),
    }
    details: dict[str, Any] = {
        "quotechar": fmt.quotechar,
        "doublequote": fmt.doublequote,
        "escapechar": fmt.escapechar,
        "bom": fmt.encoding.bom,
        "encoding_confident": fmt.encoding.confident,
        "ragged_rows": tally.ragged,
        "bad_rows": tally.bad,
        "blank_rows": tally.blank,
        "columns_truncated": bool(header and len(header) > MAX_COLUMNS_LISTED) or None,
    }
    fields = compact(fields)
    fields["delimiter"] = fmt.delimiter  # compact() would strip a tab away
    warnings = [f"csv: {note}" for note in fmt.notes]
    if tally.ragged:
        warnings.append(f"csv: {tally.ragged} rows do not have {width} fields")
    if tally.bad:
        warnings.append(f"csv: {tally.bad} rows could not be read")
    return Extraction(fields=fields, details=compact(details), warnings=warnings)
