"""The CSV records producer: stream a CSV/TSV object, pack its rows into SQS messages.

Why it is built this way:
- The object is streamed (one ranged GET from a byte offset, read in blocks),
  never loaded whole and never written to /tmp. Encoding, dialect and header
  come from `extractors.tabular.sniff` on the first 64 KiB.
- Physical lines are cut at the byte level (CR, LF, CRLF in the file's own
  encoding, UTF-16/32 included) and handed one by one to `csv.reader`, which
  asks for the next line only while a record is unfinished; so after each
  record the bytes consumed are exactly the offset of the next record, quoted
  newlines included. That offset is what a continuation resumes from.
- Python's csv field size limit stays in force, and one record may not exceed
  `max_record_bytes`: either is a row error (with the row and line numbers and
  the reason), never a crash and never unbounded memory.
- Rows are packed into messages up to the queue's MaximumMessageSize (read
  from the queue, capped by `message_bytes`), and messages into
  SendMessageBatch calls of at most 10 entries and `batch_bytes` in all.
  Each message names its document, run, chunk number and first row, so the
  consumer's writes (keyed by document and row number) and counts (one
  marker per chunk) make a redelivery harmless.
- Near the deadline the producer stops at a record boundary and queues a
  continuation message (type "continue") on the same records queue, carrying
  the byte offset, the next row, line and chunk numbers and the sniffed format;
  the consumer resumes production from there (see `CsvFanOut.resume`).

Row numbering: every record after the header that is not blank is numbered
1, 2, 3...; a rejected record keeps its number (and is reported), so stored
rows keep the positions they had in the file. Blank lines are skipped.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Protocol

from chalicelib.aws.records_store import RecordsStore
from chalicelib.aws.sqs import utf8_len
from chalicelib.config import FanOutSettings
from chalicelib.extraction.encoding import Encoding
from chalicelib.extraction.extractors.tabular import CsvFormat, sniff
from chalicelib.extraction.lines import Lines, blocks, decoding_codec, strip_bom

log = logging.getLogger("docpipe.csv_fanout")

MESSAGE_VERSION = 1

ROWS = "rows"

CONTINUE = "continue"

MAX_COLUMN_NAME = 255

MAX_REASON = 300

_XML_UNSAFE = re.compile("[\ufffe\uffff\ud800-\udfff]")
"""Characters an SQS message body may not carry (JSON escapes the C0 controls itself)."""

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class Continuation:
    """Where production resumes: the byte offset of the next record and the numbering state."""

    doc_id: str
    run: str
    bucket: str
    key: str
    etag: str | None
    size: int
    offset: int
    line: int
    next_row: int
    chunk: int
    leg: int
    failed: int
    fmt: CsvFormat
    columns: list[str]

    def to_message(self) -> str:
        data = asdict(self)
        data["fmt"]["notes"] = list(self.fmt.notes)
        return _ENCODE({"v": MESSAGE_VERSION, "type": CONTINUE, **data})

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Continuation:
        """Rebuild from a parsed message body; ValueError when it is not a valid continuation."""
        try:
            fmt_data = dict(data["fmt"])
            encoding = Encoding(**fmt_data.pop("encoding"))
            codecs.lookup(encoding.codec)
            fmt = CsvFormat(encoding=encoding, **{**fmt_data, "notes": tuple(fmt_data.get("notes", ()))})
            cont = cls(
                doc_id=str(data["doc_id"]),
                run=str(data["run"]),
                bucket=str(data["bucket"]),
                key=str(data["key"]),
                etag=None if data["etag"] is None else str(data["etag"]),
                size=int(data["size"]),
                offset=int(data["offset"]),
                line=int(data["line"]),
                next_row=int(data["next_row"]),
                chunk=int(data["chunk"]),
                leg=int(data["leg"]),
                failed=int(data["failed"]),
                fmt=fmt,
                columns=[str(c) for c in data["columns"]],
            )
        except (KeyError, TypeError, ValueError, LookupError) as exc:
            raise ValueError(f"invalid continuation: {exc}") from exc
        if not (0 <= cont.offset <= cont.size and cont.next_row >= 1 and cont.leg >= 1 and cont.columns):
            raise ValueError("invalid continuation: numbers out of range")
        return cont


@dataclass
class FanOutResult:
    doc_id: str
    run: str
    rows: int = 0
    """Rows numbered in this leg (stored or rejected)."""
    failed: int = 0
    messages: int = 0
    requests: int = 0
    done: bool = False
    total: int | None = None
    continuation: Continuation | None = None
    error: dict[str, str] | None = None
    legs: list[int] = field(default_factory=list)


class Sender(Protocol):
    """Sends message bodies in batches; `confirmed_row` is the last row of the last message known sent."""

    max_message_bytes: int
    confirmed_row: int
    requests: int
    messages: int

    def add(self, body: str, last_row: int) -> None: ...
    def flush(self) -> None: ...


def unique_columns(header: list[str]) -> list[str]:
    """Header cells as map keys: trimmed, never empty, at most 255 characters, no duplicates."""
    seen: set[str] = set()
    columns = []
    for index, cell in enumerate(header):
        base = cell.replace("\ufeff", "").strip()[:MAX_COLUMN_NAME] or f"column_{index + 1}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base[: MAX_COLUMN_NAME - 8]}_{n}"
        seen.add(name)
        columns.append(name)
    return columns


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


@dataclass
class _Chunk:
    """The message being filled: row JSON texts (null for a rejected row) and the rejections."""

    number: int
    first_row: int
    rows: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    size: int = 0


class _Production:
    """One leg of production: reads records from `lines`, sends chunks, stops at the deadline."""

    def __init__(
        self,
        cont: Continuation,
        sender: Sender,
        settings: FanOutSettings,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self.cont = cont
        self.sender = sender
        self.settings = settings
        self.deadline = deadline
        self.clock = clock
        self.columns = cont.columns
        self.fmt = cont.fmt
        self.next_row = cont.next_row
        self.failed = cont.failed
        self.chunk_no = cont.chunk
        self.envelope = 0
        self.chunk: _Chunk | None = None
        self.aborted: dict[str, str] | None = None
        self._set_columns(cont.columns)

    def _set_columns(self, columns: list[str]) -> None:
        self.columns = columns
        probe = self._body(_Chunk(10**8, 10**10, errors=[]))
        self.envelope = utf8_len(probe) + 2
        self.columns_bytes = utf8_len(_ENCODE(columns))

    def _body(self, chunk: _Chunk) -> str:
        head = _ENCODE(
            {
                "v": MESSAGE_VERSION,
                "type": ROWS,
                "doc_id": self.cont.doc_id,
                "run": self.cont.run,
                "chunk": chunk.number,
                "first_row": chunk.first_row,
                "columns": self.columns,
            }
        )
        return head[:-1] + ',"errors":[' + ",".join(chunk.errors) + '],"rows":[' + ",".join(chunk.rows) + "]}"

    def run(self, lines: Lines) -> Continuation | None:
        """Read to the end (None) or to the deadline (the continuation to queue)."""
        reader = csv.reader(lines, **self.cont.fmt.reader_options())
        line_of_record = self.cont.line + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                reason = (
                    f"record longer than {self.settings.max_record_bytes} bytes"
                    if lines.oversized
                    else f"unreadable record: {exc}"
                )
                lines.skip_rest_of_record()  # a quoted field still open: its lines belong to this record
                if not self.columns and self.fmt.has_header:
                    # the header itself is unreadable: the rows that follow get numbered columns
                    self.fmt = dataclasses.replace(self.fmt, has_header=False)
                self._reject(line_of_record, reason)
            else:
                self._accept(row, line_of_record)
            lines.record_done()
            line_of_record = self.cont.line + lines.lines + 1
            if self.aborted:
                break
            if self.clock() >= self.deadline:
                return self._continuation(lines)
        self._close_chunk()
        return None

    def _continuation(self, lines: Lines) -> Continuation:
        self._close_chunk()
        c = self.cont
        return Continuation(
            doc_id=c.doc_id,
            run=c.run,
            bucket=c.bucket,
            key=c.key,
            etag=c.etag,
            size=c.size,
            offset=lines.consumed,
            line=c.line + lines.lines,
            next_row=self.next_row,
            chunk=self.chunk_no,
            leg=c.leg + 1,
            failed=self.failed,
            fmt=self.fmt,
            columns=self.columns,
        )

    def _accept(self, row: list[str], line: int) -> None:
        if _blank(row):
            return
        if not self.columns:
            if self.fmt.has_header:
                self._set_columns(unique_columns(row))
                return
            self._set_columns([f"column_{i + 1}" for i in range(len(row))])
        if len(row) != len(self.columns):
            self._reject(line, f"expected {len(self.columns)} fields, found {len(row)}")
            return
        text = _ENCODE([cell or None for cell in row])
        if _XML_UNSAFE.search(text):
            text = _XML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        size = utf8_len(text)
        if size + self.columns_bytes > self.settings.max_row_bytes or self.envelope + size > self._budget():
            self._reject(line, f"row of {size} bytes is larger than a stored row may be")
            return
        self._add(text, size, None)

    def _reject(self, line: int, reason: str) -> None:
        number = self.next_row
        error = _ENCODE([number, line, reason[:MAX_REASON]])
        self._add("null", 4, error)
        self.failed += 1
        if self.failed > self.settings.max_row_errors:
            self.aborted = {
                "code": "too_many_errors",
                "message": f"more than {self.settings.max_row_errors} rows were rejected; ingestion stopped",
            }

    def _budget(self) -> int:
        return self.sender.max_message_bytes

    def _add(self, text: str, size: int, error: str | None) -> None:
        extra = size + 1 + (utf8_len(error) + 1 if error else 0)
        chunk = self.chunk
        if chunk is not None and self.envelope + chunk.size + extra > self._budget():
            self._close_chunk()
            chunk = None
        if chunk is None:
            chunk = self.chunk = _Chunk(self.chunk_no, self.next_row)
            self.chunk_no += 1
        chunk.rows.append(text)
        if error:
            chunk.errors.append(error)
        chunk.size += extra
        self.next_row += 1

    def _close_chunk(self) -> None:
        if self.chunk is None:
            return
        chunk, self.chunk = self.chunk, None
        self.sender.add(self._body(chunk), chunk.first_row + len(chunk.rows) - 1)


def fan_out(
    cont: Continuation,
    open_stream: Callable[[int], BinaryIO],
    sender: Sender,
    store: RecordsStore,
    settings: FanOutSettings,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> FanOutResult:
    """Produce one leg from `cont` (offset 0 and empty columns for the first leg; see `start_fan_out`).

    Sends every chunk, then either queues the next continuation (deadline
    reached) or records the total. A failure to read or send ends the run:
    the total becomes the rows already sent and `records.error` says why, so
    the state still becomes final (COMPLETE_WITH_ERRORS).
    """
    result = FanOutResult(cont.doc_id, cont.run, legs=[cont.leg])
    production = _Production(cont, sender, settings, deadline, clock)
    stream: BinaryIO | None = None
    codec = decoding_codec(cont.fmt.encoding)
    try:
        stream = open_stream(cont.offset)
        head, offset = b"", cont.offset
        if cont.offset == 0 and cont.fmt.encoding.bom:
            head, offset = strip_bom(stream, codec)
        lines = Lines(
            blocks(stream, settings.read_block, head), offset, codec, settings.max_record_bytes, cont.fmt.quotechar
        )
        nxt = production.run(lines)
        if nxt is not None:
            sender.add(nxt.to_message(), production.next_row - 1)
        sender.flush()
    except Exception as exc:
        log.exception("records production failed", extra={"doc_id": cont.doc_id})
        error = {"code": "production_failed", "message": _describe(exc)}
        sent = max(cont.next_row - 1, sender.confirmed_row)
        _finish(result, production, sender, store, sent, error)
        return result
    finally:
        if stream is not None:
            stream.close()
    result.rows = production.next_row - cont.next_row
    result.failed = production.failed - cont.failed
    if nxt is not None:
        result.continuation = nxt
        _count(result, sender)
        return result
    _finish(result, production, sender, store, production.next_row - 1, production.aborted)
    return result


def _count(result: FanOutResult, sender: Sender) -> None:
    result.messages = sender.messages
    result.requests = sender.requests


def _finish(
    result: FanOutResult,
    production: _Production,
    sender: Sender,
    store: RecordsStore,
    total: int,
    error: dict[str, str] | None,
) -> None:
    cont = production.cont
    store.set_total(cont.doc_id, cont.run, total, error)
    store.try_complete(cont.doc_id)
    result.done = True
    result.total = total
    result.error = error
    _count(result, sender)


def _describe(exc: Exception) -> str:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    if code in ("PreconditionFailed", "412"):
        return "The object changed while its records were read"
    if code in ("NoSuchKey", "404", "NotFound"):
        return "The object no longer exists"
    return "Reading or queuing the records failed"


def first_leg(
    doc_id: str,
    bucket: str,
    key: str,
    etag: str | None,
    size: int,
    sample: bytes,
    prefer_tab: bool = False,
    run: str | None = None,
) -> Continuation:
    """The starting point: format sniffed from the first bytes, nothing read yet."""
    fmt = sniff(sample, complete=len(sample) >= size, prefer_tab=prefer_tab)
    return Continuation(
        doc_id=doc_id,
        run=run or uuid.uuid4().hex,
        bucket=bucket,
        key=key,
        etag=etag,
        size=size,
        offset=0,
        line=0,
        next_row=1,
        chunk=0,
        leg=0,
        failed=0,
        fmt=fmt,
        columns=[],
    )
