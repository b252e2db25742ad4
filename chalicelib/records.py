"""The CSV records consumer (on_sqs_message) and the rows' read side.

A "rows" message (see `csv_fanout`) carries one chunk: its document, run,
chunk number, first row number, the columns, the rows (a rejected row is
null) and the rejections `[row, line, reason]`. Handling a chunk:
1. the document must have a records run; a chunk of another run is stale
   and dropped, a chunk already counted is skipped;
2. rows are written with BatchWriteItem under `ROW#<row number>` and the
   rejections under `ROWERR#<row number>` (idempotent puts: a redelivery
   writes the same items again, never new ones);
3. the chunk is counted once (a conditional ADD, see records_store), and the
   final state is set when every row is accounted for. The rows stored are
   reported once per chunk, by the attempt that counted it, as the
   RowsIngested metric (a redelivered chunk adds nothing).
A "continue" message hands production on to `CsvFanOut.resume`; a "purge"
message is one step of deleting a document (`purge_step`, see
`chalicelib.deletion`). A chunk of a document that is being deleted, or is
gone, is acknowledged and dropped: its rows have nowhere to go.

A message that can never be handled (not JSON, not a known type, numbers
out of range, rows that do not match the columns, an unknown document) is
a poison message: it is reported in `batchItemFailures`, so SQS redelivers
it and moves it to the DLQ after maxReceiveCount; the rest of its batch is
handled normally.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import observability, paging
from chalicelib.aws.purge import PURGE, DocumentPurge
from chalicelib.aws.records_store import RecordsStore, Row, RowError

log = logging.getLogger("docpipe.records")

MAX_ROWS_PER_MESSAGE = 1_000_000
_DOC_ID = re.compile(r"^[0-9a-f]{32}$")
_RUN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


class PoisonMessage(ValueError):
    """A message whose body can never be handled."""


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    run: str
    chunk: int
    first_row: int
    columns: list[str]
    rows: list[list[str | None] | None]
    errors: list[RowError]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Chunk:
        try:
            chunk = cls(
                doc_id=str(data["doc_id"]),
                run=str(data["run"]),
                chunk=int(data["chunk"]),
                first_row=int(data["first_row"]),
                columns=[_text(c) for c in data["columns"]],
                rows=[None if r is None else [_cell(c) for c in r] for r in data["rows"]],
                errors=[RowError(int(n), int(line), _text(reason)) for n, line, reason in data["errors"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PoisonMessage(f"unreadable records message: {exc}") from exc
        chunk.validate()
        return chunk

    def validate(self) -> None:
        if not _DOC_ID.match(self.doc_id) or not _RUN.match(self.run):
            raise PoisonMessage("records message has an invalid document id or run")
        if self.chunk < 0 or self.first_row < 1 or len(self.rows) > MAX_ROWS_PER_MESSAGE:
            raise PoisonMessage("records message has a chunk or row number out of range")
        if len(set(self.columns)) != len(self.columns) or "" in self.columns:
            raise PoisonMessage("records message has invalid columns")
        if not self.columns and any(r is not None for r in self.rows):  # only rejected rows may come before a header
            raise PoisonMessage("records message has rows but no columns")
        if any(r is not None and len(r) != len(self.columns) for r in self.rows):
            raise PoisonMessage("records message has rows that do not match its columns")
        rejected = {self.first_row + i for i, r in enumerate(self.rows) if r is None}
        if {e.number for e in self.errors} != rejected or len(self.errors) != len(rejected):
            raise PoisonMessage("records message has rejections that do not match its rows")

    def stored_rows(self) -> list[Row]:
        return [
            Row(self.first_row + i, dict(zip(self.columns, cells, strict=True)))
            for i, cells in enumerate(self.rows)
            if cells is not None
        ]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _cell(value: Any) -> str | None:
    return None if value is None else _text(value)


Resume = Callable[[dict[str, Any], float], object]


class RecordsConsumer:
    """Handles records messages: rows into the store, continuations to the producer."""

    def __init__(
        self,
        store: RecordsStore,
        resume: Resume | None = None,
        clock: Callable[[], float] = time.monotonic,
        purge: Resume | None = None,
    ) -> None:
        self._store = store
        self._resume = resume
        self._clock = clock
        self._purge = purge

    def handle_chunk(self, chunk: Chunk) -> str:
        """Store and count one chunk; says what happened (stored, duplicate, stale)."""
        progress = self._store.progress(chunk.doc_id)
        if progress is None or not progress.run:  # deleted or being deleted: acknowledged, never dead-lettered
            self._forget(chunk)  # rows an earlier delivery wrote before it was stopped
            return "gone"
        if progress.run != chunk.run:
            log.info("dropping a chunk of a replaced run", extra={"doc_id": chunk.doc_id, "chunk": chunk.chunk})
            return "stale"
        if self._store.is_counted(chunk.doc_id, chunk.run, chunk.chunk):
            return "duplicate"
        rows = chunk.stored_rows()
        refused = self._store.write(chunk.doc_id, rows, chunk.errors)
        counted = self._store.count_chunk(
            chunk.doc_id, chunk.run, chunk.chunk, len(rows) - len(refused), len(chunk.errors) + len(refused)
        )
        if not counted:
            after = self._store.progress(chunk.doc_id)
            if after is None or not after.run:  # the document was marked for deletion while these rows were written
                self._forget(chunk)
                return "gone"
        else:
            observability.rows_ingested(len(rows) - len(refused))
        self._store.try_complete(chunk.doc_id)
        return "stored" if counted else "duplicate"

    def _forget(self, chunk: Chunk) -> None:
        log.info("dropping a chunk of a deleted document", extra={"doc_id": chunk.doc_id, "chunk": chunk.chunk})
        self._store.forget(chunk.doc_id, [chunk.first_row + i for i in range(len(chunk.rows))])

    def handle_message(self, body: str, deadline: float) -> str:
        data = parse_body(body)
        if data.get("type") == "continue":
            if self._resume is None:
                raise RuntimeError("this consumer cannot resume production")
            try:
                self._resume(data, deadline)
            except ValueError as exc:
                raise PoisonMessage(str(exc)) from exc
            return "resumed"
        if data.get("type") == PURGE:
            if self._purge is None:
                raise RuntimeError("this consumer cannot purge documents")
            if not _DOC_ID.match(str(data.get("doc_id", ""))):
                raise PoisonMessage("purge message has an invalid document id")
            return str(self._purge(data, deadline))
        return self.handle_chunk(Chunk.from_data(data))


STEP_MARGIN_SECONDS = 10.0
"""Time a purge step keeps back from its deadline to queue the next step."""


def purge_step(
    purge: DocumentPurge, doc_id: str, deadline: float, monotonic: Callable[[], float] = time.monotonic
) -> str:
    """One step of deleting a document (see `chalicelib.deletion`): deleted, continued, or not_deleting
    (a step for a document no longer being deleted, or already gone: nothing to do)."""
    if not purge.is_deleting(doc_id):
        return "not_deleting"
    removed, empty = purge.delete_items(doc_id, deadline - STEP_MARGIN_SECONDS, monotonic)
    if not empty:
        purge.send(doc_id)
        log.info("purge continues", extra={"doc_id": doc_id, "deleted": removed})
        return "continued"
    purge.remove(doc_id)
    log.info("document deleted", extra={"doc_id": doc_id, "deleted": removed})
    return "deleted"


def parse_body(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PoisonMessage("records message is not JSON") from exc
    if not isinstance(data, dict) or data.get("v") != 1 or data.get("type") not in ("rows", "continue", PURGE):
        raise PoisonMessage("records message is not a known records message")
    return data


def handle_batch(
    consumer: RecordsConsumer, records: list[dict[str, Any]], deadline: float | None = None
) -> dict[str, list[dict[str, str]]]:
    """Handle an SQS batch; report the messages that failed (ReportBatchItemFailures shape).

    Chunks go first and continuations last, so that a continuation, which
    may use the rest of the invocation, never delays a chunk past its time.
    """
    deadline = time.monotonic() + 600 if deadline is None else deadline
    ordered = sorted(records, key=lambda r: '"type":"continue"' in str(r.get("body", "")))
    failures = []
    for record in ordered:
        message_id = record.get("messageId", "")
        try:
            consumer.handle_message(str(record.get("body", "")), deadline)
        except PoisonMessage as exc:
            log.error("poison records message", extra={"message_id": message_id, "reason": str(exc)})
            failures.append({"itemIdentifier": message_id})
        except Exception:
            log.exception("records message failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    order = {r.get("messageId"): i for i, r in enumerate(records)}
    failures.sort(key=lambda f: order.get(f["itemIdentifier"], 0))
    return {"batchItemFailures": failures}


# -- the read side ---------------------------------------------------------------


class RecordsReader:
    """Pages through a document's stored rows; the caller must already own the document.

    Cursors are signed and scoped to the document and the caller, so an
    edited cursor, or one replayed on another document or by another user,
    is a 400 (`invalid_cursor`).
    """

    def __init__(self, store: RecordsStore, secret: str) -> None:
        self._store = store
        self._secret = secret

    def page(self, doc_id: str, caller_sub: str, limit: int, next_cursor: str | None) -> dict[str, Any]:
        scope = f"records:{doc_id}:{caller_sub}"
        start = paging.decode(next_cursor, scope, self._secret)
        page = self._store.rows_page(doc_id, limit, start)
        progress = self._store.progress(doc_id)
        return {
            "items": [{"row": r.number, "cells": r.cells} for r in page.items],
            "next": paging.encode(page.last_key, scope, self._secret),
            "records": _public_progress(progress),
        }

    def errors(self, doc_id: str, caller_sub: str, limit: int, next_cursor: str | None) -> dict[str, Any]:
        scope = f"record-errors:{doc_id}:{caller_sub}"
        start = paging.decode(next_cursor, scope, self._secret)
        page = self._store.errors_page(doc_id, limit, start)
        return {
            "items": [{"row": e.number, "line": e.line, "reason": e.reason} for e in page.items],
            "next": paging.encode(page.last_key, scope, self._secret),
        }


def _public_progress(progress: Any) -> dict[str, Any] | None:
    if progress is None:
        return None
    public = {"state": progress.state, "total": progress.total, "written": progress.written, "failed": progress.failed}
    if progress.error:
        public["error"] = progress.error
    return public
