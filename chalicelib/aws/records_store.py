"""Where CSV records live: row items beside their document, and exact progress counters.

Layout (the key scheme is in `table`): the document's `records` map holds
{state, total, written, failed[, error]}, and `records_run`, `records_chunks`
the bookkeeping; ROW# items hold one stored row (`row`, `cells`), ROWERR#
items one rejected row (`row`, `line`, `reason`), MARK# items say a
production leg was done.

Value rule: a CSV cell is text, so every cell is stored as a DynamoDB string
exactly as decoded (never a number: no float ever touches a value); an empty
cell is stored as NULL, so every row keeps every column and `""` cannot be
confused with a missing column.

Counting is idempotent and atomic: one conditional UpdateItem on the
document ADDs a chunk's figures to `records.written` / `records.failed` and
its number to the `records_chunks` number set, on condition that the set
does not hold it yet (and the run is current). A redelivered chunk fails the
condition and counts nothing; no transaction is needed, and the set stays
small (a chunk is up to 256 KiB of rows: a 512 MiB file has at most a few
thousand). The final transition (COMPLETE or
COMPLETE_WITH_ERRORS) is a conditional write on the exact figures read, taken
once `total` is known and `written + failed == total`; whoever gets there
last (the producer setting `total`, or the consumer counting the last chunk)
makes it. `run` identifies one ingestion of the file: a re-ingestion starts a
new run and messages of the old one are ignored.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.aws.batch_write import BATCH_WRITE_MAX, batch_write, delete_requests, put_requests
from chalicelib.aws.table import (
    DOC_SK,
    Page,
    conditional_failed,
    doc_key,
    doc_pk,
    dump,
    error_code,
    error_sk,
    load,
    load_value,
    marker_sk,
    row_sk,
)

QUEUED = "QUEUED"
INGESTING = "INGESTING"
COMPLETE = "COMPLETE"
COMPLETE_WITH_ERRORS = "COMPLETE_WITH_ERRORS"
FINAL_STATES = frozenset({COMPLETE, COMPLETE_WITH_ERRORS})

RUN_ATTR = "records_run"
"""Document attribute: the current run's id (beside `records`, out of the API's view)."""
COUNTED_CHUNKS = "records_chunks"
"""Document attribute: the number set of this run's counted chunks (beside `records`, out of the API's view)."""


@dataclass(frozen=True)
class Row:
    """A stored row: its 1-based number among the data rows, and its cells (None = empty)."""

    number: int
    cells: dict[str, str | None]


@dataclass(frozen=True)
class RowError:
    """A rejected row: its number, the physical line it started on, and why."""

    number: int
    line: int
    reason: str


@dataclass(frozen=True)
class Progress:
    state: str
    run: str
    written: int = 0
    failed: int = 0
    total: int | None = None
    error: dict[str, str] | None = None

    def final_state(self) -> str | None:
        """The state to end in, once every row is accounted for."""
        if self.state in FINAL_STATES:
            return self.state
        if self.total is None or self.written + self.failed < self.total:
            return None
        return COMPLETE_WITH_ERRORS if (self.failed or self.error) else COMPLETE

    def with_state(self, state: str) -> Progress:
        return dataclasses.replace(self, state=state)

    def public(self) -> dict[str, Any]:
        """The `records` map the API and lifecycle events show."""
        out: dict[str, Any] = {"state": self.state, "written": self.written, "failed": self.failed}
        if self.total is not None:
            out["total"] = self.total
        if self.error:
            out["error"] = self.error
        return out


class RecordsStore(Protocol):
    def begin(self, doc_id: str, run: str) -> None: ...
    def progress(self, doc_id: str) -> Progress | None: ...
    def write(self, doc_id: str, rows: list[Row], errors: list[RowError]) -> list[RowError]: ...
    def forget(self, doc_id: str, numbers: list[int]) -> None: ...
    def has_marker(self, doc_id: str, run: str, name: str) -> bool: ...
    def put_marker(self, doc_id: str, run: str, name: str) -> None: ...
    def count_chunk(self, doc_id: str, run: str, chunk: int, written: int, failed: int) -> bool: ...
    def is_counted(self, doc_id: str, run: str, chunk: int) -> bool: ...
    def set_total(self, doc_id: str, run: str, total: int, error: dict[str, str] | None = None) -> None: ...
    def try_complete(self, doc_id: str) -> str | None: ...
    def rows_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[Row]: ...
    def errors_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[RowError]: ...


OnFinal = Callable[[str, "Progress"], None]
"""Called once, by the store call that moved a document's records to a final state."""


def chunk_marker(chunk: int) -> str:
    return f"CHUNK#{chunk:08d}"


def leg_marker(leg: int) -> str:
    return f"LEG#{leg:06d}"


# -- DynamoDB ----------------------------------------------------------------


def row_item(doc_id: str, row: Row) -> dict[str, Any]:
    """A stored row as attribute values: every cell a string, an empty one NULL."""
    return dump({**doc_key(doc_id, row_sk(row.number)), "row": row.number, "cells": row.cells})


def error_item(doc_id: str, error: RowError) -> dict[str, Any]:
    return dump(
        {**doc_key(doc_id, error_sk(error.number)), "row": error.number, "line": error.line, "reason": error.reason}
    )


def _row_from(item: dict[str, Any]) -> Row:
    return Row(int(item["row"]), dict(item["cells"]))


def _error_from(item: dict[str, Any]) -> RowError:
    return RowError(int(item["row"]), int(item["line"]), item["reason"])


def _progress_from(records: dict[str, Any], run: str) -> Progress:
    def number(name: str) -> int | None:
        value = records.get(name)
        return None if value is None else int(value)

    error = records.get("error")
    return Progress(
        state=records["state"],
        run=run,
        written=number("written") or 0,
        failed=number("failed") or 0,
        total=number("total"),
        error={k: str(v) for k, v in error.items()} if error else None,
    )


class DynamoRecordsStore:
    """The records store on DynamoDB (low-level client; thread-safe)."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        workers: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        on_final: OnFinal | None = None,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._workers = workers
        self._sleep = sleep
        self._on_final = on_final

    def _key(self, doc_id: str, sk: str = DOC_SK) -> dict[str, Any]:
        return dump(doc_key(doc_id, sk))

    # -- progress -----------------------------------------------------------
    def begin(self, doc_id: str, run: str) -> None:
        """Start (or restart) the ingestion of a document's records as `run`."""
        self._db.update_item(
            TableName=self._table,
            Key=self._key(doc_id),
            UpdateExpression="SET #records = :initial, #run = :run REMOVE #chunks",
            ConditionExpression="attribute_exists(pk) AND #status <> :deleting",  # never for a document being deleted
            ExpressionAttributeNames={
                "#records": "records",
                "#run": RUN_ATTR,
                "#chunks": COUNTED_CHUNKS,
                "#status": "status",
            },
            ExpressionAttributeValues=dump(
                {":initial": {"state": QUEUED, "written": 0, "failed": 0}, ":run": run, ":deleting": "DELETING"}
            ),
        )

    def progress(self, doc_id: str) -> Progress | None:
        resp = self._db.get_item(
            TableName=self._table,
            Key=self._key(doc_id),
            ConsistentRead=True,
            ProjectionExpression="#records, #run",
            ExpressionAttributeNames={"#records": "records", "#run": RUN_ATTR},
        )
        item = load(resp.get("Item", {}))
        records = item.get("records")
        return _progress_from(records, item.get(RUN_ATTR, "")) if records else None

    def count_chunk(self, doc_id: str, run: str, chunk: int, written: int, failed: int) -> bool:
        """Count a chunk's rows once; False when it was already counted (or the run is over)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(doc_id),
                UpdateExpression="SET #r.#state = :ingesting ADD #r.#written :w, #r.#failed :f, #chunks :chunk",
                ConditionExpression=(
                    "#run = :run AND #r.#state IN (:queued, :ingesting) AND NOT contains(#chunks, :n)"
                ),
                ExpressionAttributeNames={
                    "#r": "records",
                    "#state": "state",
                    "#written": "written",
                    "#failed": "failed",
                    "#run": RUN_ATTR,
                    "#chunks": COUNTED_CHUNKS,
                },
                ExpressionAttributeValues=dump(
                    {
                        ":ingesting": INGESTING,
                        ":queued": QUEUED,
                        ":w": written,
                        ":f": failed,
                        ":run": run,
                        ":chunk": {chunk},
                        ":n": chunk,
                    }
                ),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def is_counted(self, doc_id: str, run: str, chunk: int) -> bool:
        resp = self._db.get_item(
            TableName=self._table,
            Key=self._key(doc_id),
            ConsistentRead=True,
            ProjectionExpression="#run, #chunks",
            ExpressionAttributeNames={"#run": RUN_ATTR, "#chunks": COUNTED_CHUNKS},
        )
        item = load(resp.get("Item", {}))
        return item.get(RUN_ATTR) == run and chunk in {int(n) for n in item.get(COUNTED_CHUNKS, ())}

    def set_total(self, doc_id: str, run: str, total: int, error: dict[str, str] | None = None) -> None:
        """The producer is done: `total` rows (stored or rejected) make up this run."""
        sets = "#r.#total = :total" + (", #r.#error = :error" if error else "")
        values: dict[str, Any] = {":total": total, ":run": run, ":queued": QUEUED, ":ingesting": INGESTING}
        names = {"#r": "records", "#total": "total", "#run": RUN_ATTR, "#state": "state"}
        if error:
            values[":error"] = dict(error)
            names["#error"] = "error"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(doc_id),
                UpdateExpression="SET " + sets,
                ConditionExpression="#run = :run AND #r.#state IN (:queued, :ingesting)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dump(values),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def try_complete(self, doc_id: str) -> str | None:
        """Make the final transition if every row is accounted for; the final state, or None."""
        progress = self.progress(doc_id)
        final = progress.final_state() if progress else None
        if progress is None or final is None or progress.state in FINAL_STATES:
            return final
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(doc_id),
                UpdateExpression="SET #r.#state = :final",
                ConditionExpression=(
                    "#run = :run AND #r.#state IN (:queued, :ingesting) AND #r.#total = :t"
                    " AND #r.#written = :w AND #r.#failed = :f"
                ),
                ExpressionAttributeNames={
                    "#r": "records",
                    "#state": "state",
                    "#run": RUN_ATTR,
                    "#total": "total",
                    "#written": "written",
                    "#failed": "failed",
                },
                ExpressionAttributeValues=dump(
                    {
                        ":final": final,
                        ":run": progress.run,
                        ":queued": QUEUED,
                        ":ingesting": INGESTING,
                        ":t": progress.total,
                        ":w": progress.written,
                        ":f": progress.failed,
                    }
                ),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            again = self.progress(doc_id)
            return again.state if again and again.state in FINAL_STATES else None
        if self._on_final is not None:
            self._on_final(doc_id, progress.with_state(final))  # exactly once: this update made the transition
        return final

    # -- markers ------------------------------------------------------------
    def has_marker(self, doc_id: str, run: str, name: str) -> bool:
        resp = self._db.get_item(
            TableName=self._table,
            Key=self._key(doc_id, marker_sk(run, name)),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in resp

    def put_marker(self, doc_id: str, run: str, name: str) -> None:
        self._db.put_item(TableName=self._table, Item=self._key(doc_id, marker_sk(run, name)))

    # -- rows -----------------------------------------------------------------
    def forget(self, doc_id: str, numbers: list[int]) -> None:
        """Delete these rows and their row errors again (a chunk written for a document being deleted)."""
        keys = [dump(doc_key(doc_id, sk(n))) for n in numbers for sk in (row_sk, error_sk)]
        batch_write(self._db, self._table, delete_requests(keys))

    def write(self, doc_id: str, rows: list[Row], errors: list[RowError]) -> list[RowError]:
        """Store rows and row errors (idempotent puts); returns rows DynamoDB refused, as errors."""
        items = [row_item(doc_id, r) for r in rows] + [error_item(doc_id, e) for e in errors]
        batches = [items[i : i + BATCH_WRITE_MAX] for i in range(0, len(items), BATCH_WRITE_MAX)]
        refused: list[RowError] = []
        if self._workers > 1 and len(batches) > 1:
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for found in pool.map(lambda b: self._write_batch(doc_id, b), batches):
                    refused.extend(found)
        else:
            for batch in batches:
                refused.extend(self._write_batch(doc_id, batch))
        return refused

    def _write_batch(self, doc_id: str, items: list[dict[str, Any]]) -> list[RowError]:
        try:
            batch_write(self._db, self._table, put_requests(items), self._sleep)
        except ClientError as exc:
            if error_code(exc) != "ValidationException":
                raise
            return self._write_one_by_one(doc_id, items)
        return []

    def _write_one_by_one(self, doc_id: str, items: list[dict[str, Any]]) -> list[RowError]:
        """A batch DynamoDB rejects as a whole: find the rows at fault, keep the others."""
        refused = []
        for item in items:
            try:
                self._db.put_item(TableName=self._table, Item=item)
            except ClientError as exc:
                if error_code(exc) != "ValidationException" or not load_value(item["sk"]).startswith("ROW#"):
                    raise
                number = int(load_value(item["row"]))
                refused.append(RowError(number, 0, f"rejected by the database: {exc.response['Error']['Message']}"))
        if refused:
            batch_write(self._db, self._table, put_requests([error_item(doc_id, e) for e in refused]), self._sleep)
        return refused

    def rows_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[Row]:
        items, last = self._page(doc_id, "ROW#", limit, start)
        return Page([_row_from(i) for i in items], last)

    def errors_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[RowError]:
        items, last = self._page(doc_id, "ROWERR#", limit, start)
        return Page([_error_from(i) for i in items], last)

    def _page(
        self, doc_id: str, prefix: str, limit: int, start: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """One page in row order; asks for one extra item so the last page carries no cursor."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": dump({":pk": doc_pk(doc_id), ":prefix": prefix}),
            "Limit": limit + 1,
        }
        if start:
            if start.get("pk") != doc_pk(doc_id) or not start.get("sk", "").startswith(prefix):
                raise ValueError("the start key belongs to another listing")
            params["ExclusiveStartKey"] = dump({"pk": start["pk"], "sk": start["sk"]})
        items = [load(i) for i in self._db.query(**params).get("Items", [])]
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, {"pk": items[-1]["pk"], "sk": items[-1]["sk"]}
