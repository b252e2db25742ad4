"""The records consumer and the read side (the store's own contract is tests/test_records_store_contract.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.aws.records_store import (
    COMPLETE,
    INGESTING,
    QUEUED,
    Row,
    RowError,
)
from chalicelib.errors import BadRequest
from chalicelib.records import Chunk, PoisonMessage, RecordsConsumer, RecordsReader, handle_batch
from tests.fakes import InMemoryRecordsStore

DOC = "c" * 32


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


def test_rows_stored_are_reported_once_per_chunk_as_the_rows_ingested_metric(
    started: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, consumer = started
    monkeypatch.setenv("DOCPIPE_LOG_JSON", "1")
    first = chunk_body(DOC, "run", 0, 1, [["1", "2"], None, ["3", "4"]], [[2, 3, "expected 2 fields, found 1"]])
    second = chunk_body(DOC, "run", 1, 4, [["5", "6"]])
    batch = [{"messageId": m, "body": b} for m, b in (("1", first), ("2", second), ("again", first))]
    assert handle_batch(consumer, batch) == {"batchItemFailures": []}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emitted = [line for line in lines if "RowsIngested" in line]
    assert [line["RowsIngested"] for line in emitted] == [2.0, 1.0]
    metric = emitted[0]["_aws"]["CloudWatchMetrics"][0]
    assert metric["Dimensions"] == [["Stage"]] and metric["Metrics"] == [{"Name": "RowsIngested", "Unit": "Count"}]


def test_a_chunk_of_a_replaced_run_is_dropped_without_failing(started: Any) -> None:
    store, consumer = started
    body = chunk_body(DOC, "an-old-run", 0, 1, [["1", "2"]])
    assert handle_batch(consumer, [{"messageId": "m", "body": body}]) == {"batchItemFailures": []}
    assert store.rows == {}


def test_rows_written_while_the_document_was_marked_for_deletion_are_removed_again() -> None:
    store = InMemoryRecordsStore()
    store.add_document(DOC)
    store.begin(DOC, "run")

    real_write = store.write

    def write_then_mark(doc_id: str, rows: list[Any], errors: list[Any]) -> list[Any]:
        refused = real_write(doc_id, rows, errors)
        store.records[DOC]["run"] = ""  # what marking DELETING does to the run, between write and count
        return refused

    store.write = write_then_mark  # type: ignore[method-assign]
    consumer = RecordsConsumer(store)
    body = chunk_body(DOC, "run", 0, 1, [["1", "2"], None], [[2, 3, "expected 2 fields, found 3"]])
    assert consumer.handle_message(body, 10**9) == "gone"
    assert store.rows == {} and store.errors == {}


def test_a_chunk_for_a_deleted_document_is_acknowledged_and_dropped_not_dead_lettered() -> None:
    store = InMemoryRecordsStore()
    consumer = RecordsConsumer(store)
    body = chunk_body(DOC, "run", 0, 1, [["1", "2"]])
    assert handle_batch(consumer, [{"messageId": "m", "body": body}]) == {"batchItemFailures": []}
    assert consumer.handle_message(body, 10**9) == "gone" and store.rows == {}


def test_a_purge_message_is_one_step_of_deleting_a_document() -> None:
    steps: list[tuple[str, float]] = []

    def step(message: dict[str, Any], deadline: float) -> str:
        steps.append((message["doc_id"], deadline))
        return "continued"

    consumer = RecordsConsumer(InMemoryRecordsStore(), purge=step)
    body = json.dumps({"v": 1, "type": "purge", "doc_id": DOC})
    assert handle_batch(consumer, [{"messageId": "p", "body": body}], deadline=99.0) == {"batchItemFailures": []}
    assert steps == [(DOC, 99.0)]
    bad = json.dumps({"v": 1, "type": "purge", "doc_id": "../x"})
    assert handle_batch(consumer, [{"messageId": "q", "body": bad}]) == {"batchItemFailures": [{"itemIdentifier": "q"}]}


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
