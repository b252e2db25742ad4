"""The records consumer and the records store contract.

The `test_store_*` functions are the contract every RecordsStore passes: here
against the in-memory twin, and in tests/integration/test_records_on_emulator.py
(which imports them) against DynamoDB on the emulator.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.aws.records_store import (
    COMPLETE,
    COMPLETE_WITH_ERRORS,
    INGESTING,
    QUEUED,
    InMemoryRecordsStore,
    RecordsStore,
    Row,
    RowError,
)
from chalicelib.errors import BadRequest
from chalicelib.records import Chunk, PoisonMessage, RecordsConsumer, RecordsReader, handle_batch

DOC = "c" * 32


@pytest.fixture
def fresh() -> tuple[RecordsStore, str]:
    store = InMemoryRecordsStore()
    doc_id = uuid.uuid4().hex
    store.add_document(doc_id)
    return store, doc_id


def chunk_body(doc_id: str, run: str, chunk: int, first_row: int, rows: list[Any], errors: list[Any] = ()) -> str:  # type: ignore[assignment]
    return json.dumps(
        {
            "v": 1,
            "type": "rows",
            "doc_id": doc_id,
            "run": run,
            "chunk": chunk,
            "first_row": first_row,
            "columns": ["a", "b"],
            "errors": list(errors),
            "rows": rows,
        }
    )


# -- the store contract ------------------------------------------------------------


def test_store_begins_a_run_in_the_queued_state(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.begin(doc, "run1")
    progress = store.progress(doc)
    assert progress is not None
    assert (progress.state, progress.run, progress.written, progress.failed, progress.total) == (
        QUEUED,
        "run1",
        0,
        0,
        None,
    )


def test_store_counts_a_chunk_once_however_often_it_is_counted(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.begin(doc, "run1")
    assert store.count_chunk(doc, "run1", 0, 10, 2) is True
    assert store.count_chunk(doc, "run1", 0, 10, 2) is False
    assert store.count_chunk(doc, "run1", 1, 5, 0) is True
    progress = store.progress(doc)
    assert progress is not None and (progress.state, progress.written, progress.failed) == (INGESTING, 15, 2)
    assert store.is_counted(doc, "run1", 0) and not store.is_counted(doc, "run1", 2)


def test_store_ignores_counts_of_a_replaced_run(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.begin(doc, "old")
    store.begin(doc, "new")
    assert store.count_chunk(doc, "old", 0, 10, 0) is False
    store.set_total(doc, "old", 10)
    progress = store.progress(doc)
    assert progress is not None and (progress.written, progress.total) == (0, None)


def test_store_completes_only_when_the_total_is_known_and_reached(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.begin(doc, "r")
    store.count_chunk(doc, "r", 0, 10, 0)
    assert store.try_complete(doc) is None
    store.set_total(doc, "r", 15)
    assert store.try_complete(doc) is None
    store.count_chunk(doc, "r", 1, 5, 0)
    assert store.try_complete(doc) == COMPLETE
    assert store.try_complete(doc) == COMPLETE
    assert store.count_chunk(doc, "r", 2, 1, 0) is False  # nothing counts once final


def test_store_completes_with_errors_when_rows_failed_or_production_stopped(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.begin(doc, "r")
    store.count_chunk(doc, "r", 0, 3, 1)
    store.set_total(doc, "r", 4)
    assert store.try_complete(doc) == COMPLETE_WITH_ERRORS
    store.begin(doc, "again")
    store.set_total(doc, "again", 0, {"code": "production_failed", "message": "gone"})
    assert store.try_complete(doc) == COMPLETE_WITH_ERRORS
    progress = store.progress(doc)
    assert progress is not None and progress.error == {"code": "production_failed", "message": "gone"}


def test_store_writes_rows_and_errors_and_pages_through_them_in_order(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    rows = [Row(n, {"a": str(n), "b": None if n % 2 else "x"}) for n in range(1, 61) if n != 7]
    assert store.write(doc, rows, [RowError(7, 8, "expected 2 fields, found 3")]) == []
    assert store.write(doc, rows[:30], []) == []  # idempotent
    seen: list[Row] = []
    start = None
    while True:
        page = store.rows_page(doc, 25, start)
        seen += page.items
        start = page.last_key
        if start is None:
            break
    assert seen == rows
    errors = store.errors_page(doc, 10, None)
    assert errors.items == [RowError(7, 8, "expected 2 fields, found 3")] and errors.last_key is None


def test_store_markers_are_per_run(fresh: tuple[RecordsStore, str]) -> None:
    store, doc = fresh
    store.put_marker(doc, "r1", "LEG#000001")
    assert store.has_marker(doc, "r1", "LEG#000001") and not store.has_marker(doc, "r2", "LEG#000001")


# -- the consumer ---------------------------------------------------------------------


@pytest.fixture
def started() -> tuple[InMemoryRecordsStore, RecordsConsumer]:
    store = InMemoryRecordsStore()
    store.add_document(DOC)
    store.begin(DOC, "run")
    return store, RecordsConsumer(store)


def test_a_chunk_stores_its_rows_under_their_numbers_and_its_rejections(started: Any) -> None:
    store, consumer = started
    body = chunk_body(DOC, "run", 0, 5, [["1", "2"], None, ["3", None]], [[6, 9, "expected 2 fields, found 1"]])
    assert handle_batch(consumer, [{"messageId": "m", "body": body}]) == {"batchItemFailures": []}
    assert store.rows[(DOC, 5)].cells == {"a": "1", "b": "2"} and store.rows[(DOC, 7)].cells == {"a": "3", "b": None}
    assert store.errors[(DOC, 6)] == RowError(6, 9, "expected 2 fields, found 1")
    progress = store.progress(DOC)
    assert progress is not None and (progress.written, progress.failed) == (2, 1)


def test_a_batch_with_poison_messages_writes_the_good_ones_once_and_reports_the_bad(started: Any) -> None:
    store, consumer = started
    good1 = chunk_body(DOC, "run", 0, 1, [["1", "2"]] * 3)
    good2 = chunk_body(DOC, "run", 1, 4, [["3", "4"]] * 2)
    batch = [
        {"messageId": "good-1", "body": good1},
        {"messageId": "bad-json", "body": "{not json"},
        {"messageId": "good-2", "body": good2},
        {"messageId": "bad-shape", "body": chunk_body(DOC, "run", 2, 6, [["only one"]])},
        {"messageId": "again", "body": good1},
    ]
    result = handle_batch(consumer, batch)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-json"}, {"itemIdentifier": "bad-shape"}]}
    assert sorted(n for _, n in store.rows) == [1, 2, 3, 4, 5] and store.row_writes == 5
    progress = store.progress(DOC)
    assert progress is not None and progress.written == 5


def test_a_chunk_of_a_replaced_run_is_dropped_without_failing(started: Any) -> None:
    store, consumer = started
    body = chunk_body(DOC, "an-old-run", 0, 1, [["1", "2"]])
    assert handle_batch(consumer, [{"messageId": "m", "body": body}]) == {"batchItemFailures": []}
    assert store.rows == {}


def test_a_chunk_for_a_document_without_records_is_poison() -> None:
    consumer = RecordsConsumer(InMemoryRecordsStore())
    body = chunk_body(DOC, "run", 0, 1, [["1", "2"]])
    assert handle_batch(consumer, [{"messageId": "m", "body": body}]) == {
        "batchItemFailures": [{"itemIdentifier": "m"}]
    }


def test_the_last_chunk_counted_makes_the_state_final(started: Any) -> None:
    store, consumer = started
    store.set_total(DOC, "run", 3)
    handle_batch(consumer, [{"messageId": "a", "body": chunk_body(DOC, "run", 1, 3, [["x", "y"]])}])
    progress = store.progress(DOC)
    assert progress is not None and progress.state == INGESTING
    handle_batch(consumer, [{"messageId": "b", "body": chunk_body(DOC, "run", 0, 1, [["x", "y"]] * 2)}])
    progress = store.progress(DOC)
    assert progress is not None and progress.state == COMPLETE


def test_a_continuation_is_handed_to_the_producer_after_the_chunks() -> None:
    store = InMemoryRecordsStore()
    store.add_document(DOC)
    store.begin(DOC, "run")
    calls: list[str] = []

    def resume(message: dict[str, Any], deadline: float) -> None:
        calls.append(f"resume {message['offset']}")

    consumer = RecordsConsumer(store, resume)
    cont = json.dumps({"v": 1, "type": "continue", "offset": 99})
    batch = [{"messageId": "c", "body": cont}, {"messageId": "r", "body": chunk_body(DOC, "run", 0, 1, [["1", "2"]])}]
    assert handle_batch(consumer, batch) == {"batchItemFailures": []}
    assert calls == ["resume 99"] and (DOC, 1) in store.rows


def test_a_continuation_without_a_producer_fails_and_is_retried() -> None:
    consumer = RecordsConsumer(InMemoryRecordsStore())
    body = json.dumps({"v": 1, "type": "continue"})
    assert handle_batch(consumer, [{"messageId": "c", "body": body}]) == {
        "batchItemFailures": [{"itemIdentifier": "c"}]
    }


@pytest.mark.parametrize(
    "change",
    [
        {"doc_id": "short"},
        {"run": "has spaces"},
        {"first_row": 0},
        {"chunk": -1},
        {"columns": ["a", "a"]},
        {"columns": []},
        {"rows": [["1", 2]]},
        {"rows": [None]},
        {"errors": [[1, 1, "reason"]]},
        {"v": 2},
        {"type": "other"},
    ],
)
def test_unusable_bodies_are_poison(change: dict[str, Any]) -> None:
    data = {**json.loads(chunk_body(DOC, "run", 0, 1, [["1", "2"]])), **change}
    consumer = RecordsConsumer(InMemoryRecordsStore())
    with pytest.raises(PoisonMessage):
        consumer.handle_message(json.dumps(data), 0.0)


def test_a_chunk_lists_its_stored_rows_with_their_numbers() -> None:
    chunk = Chunk.from_data(json.loads(chunk_body(DOC, "r", 3, 10, [["1", None], None], [[11, 20, "why"]])))
    assert chunk.stored_rows() == [Row(10, {"a": "1", "b": None})]


# -- the read side ------------------------------------------------------------------


def test_rows_are_paged_with_a_signed_cursor_scoped_to_document_and_caller(started: Any) -> None:
    store, _ = started
    store.write(DOC, [Row(n, {"a": str(n), "b": None}) for n in range(1, 6)], [])
    reader = RecordsReader(store, "secret")
    first = reader.page(DOC, "alice", 2, None)
    assert [r["row"] for r in first["items"]] == [1, 2] and first["next"]
    assert first["items"][0] == {"row": 1, "cells": {"a": "1", "b": None}}
    second = reader.page(DOC, "alice", 2, first["next"])
    third = reader.page(DOC, "alice", 2, second["next"])
    assert [r["row"] for r in second["items"] + third["items"]] == [3, 4, 5] and third["next"] is None
    assert first["records"]["state"] == QUEUED
    with pytest.raises(BadRequest):
        reader.page(DOC, "mallory", 2, first["next"])
    with pytest.raises(BadRequest):
        reader.page("e" * 32, "alice", 2, first["next"])
    with pytest.raises(BadRequest):
        reader.page(DOC, "alice", 2, first["next"][:-2] + "AA")


def test_row_errors_are_listed_with_their_line_and_reason(started: Any) -> None:
    store, _ = started
    store.write(DOC, [], [RowError(2, 3, "expected 2 fields, found 1")])
    listed = RecordsReader(store, "s").errors(DOC, "alice", 10, None)
    assert listed == {"items": [{"row": 2, "line": 3, "reason": "expected 2 fields, found 1"}], "next": None}
