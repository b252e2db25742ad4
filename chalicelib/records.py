"""CSV records arriving through SQS, stored as rows beside their document.

A message carries one chunk: `{"doc_id", "chunk", "first_row", "columns",
"rows"}`. Each row is written under `ROW#<row number>` in the document's
partition, so a redelivered message overwrites the same items and writes
nothing twice. A message that cannot be parsed is reported as a failure so
that SQS redelivers it and, after maxReceiveCount, moves it to the DLQ.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.repository import doc_key

log = logging.getLogger("docpipe.records")

BATCH = 25
MAX_ATTEMPTS = 8


class PoisonMessage(ValueError):
    """A message whose body can never be stored."""


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    chunk: int
    first_row: int
    columns: list[str]
    rows: list[list[str | None]]

    @classmethod
    def parse(cls, body: str) -> Chunk:
        try:
            data = json.loads(body)
            chunk = cls(
                doc_id=str(data["doc_id"]),
                chunk=int(data["chunk"]),
                first_row=int(data["first_row"]),
                columns=[str(c) for c in data["columns"]],
                rows=[list(r) for r in data["rows"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PoisonMessage(f"unreadable records message: {exc}") from exc
        if len(chunk.doc_id) != 32 or chunk.first_row < 1:
            raise PoisonMessage("records message has an invalid document id or row number")
        return chunk


def row_item(doc_id: str, row_number: int, columns: list[str], values: list[str | None]) -> dict[str, Any]:
    cells = {}
    for index, value in enumerate(values):
        name = columns[index] if index < len(columns) else f"column_{index + 1}"
        if value is not None and value != "":
            cells[name] = {"S": str(value)}
    return {
        "pk": {"S": doc_key(doc_id)["pk"]},
        "sk": {"S": f"ROW#{row_number:010d}"},
        "row": {"N": str(row_number)},
        "cells": {"M": cells},
    }


class RecordWriter:
    def __init__(self, dynamodb: Any, table: str, sleep: Any = time.sleep) -> None:
        self._db = dynamodb
        self._table = table
        self._sleep = sleep

    def write(self, chunk: Chunk) -> int:
        items = [
            row_item(chunk.doc_id, chunk.first_row + offset, chunk.columns, row)
            for offset, row in enumerate(chunk.rows)
        ]
        for start in range(0, len(items), BATCH):
            self._write_batch(items[start : start + BATCH])
        return len(items)

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(MAX_ATTEMPTS):
            resp = self._db.batch_write_item(RequestItems={self._table: requests})
            requests = resp.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            self._sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"{len(requests)} rows still unprocessed after {MAX_ATTEMPTS} attempts")


def handle_batch(writer: RecordWriter, records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Write every message; report the ones that failed (ReportBatchItemFailures shape)."""
    failures = []
    for record in records:
        message_id = record.get("messageId", "")
        try:
            writer.write(Chunk.parse(record.get("body", "")))
        except PoisonMessage as exc:
            log.error("poison records message", extra={"message_id": message_id, "reason": str(exc)})
            failures.append({"itemIdentifier": message_id})
        except Exception:
            log.exception("records message failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
