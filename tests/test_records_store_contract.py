"""One contract for the records store: the in-memory twin and DynamoDB (on the emulator) must both pass it."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.aws.records_store import (
    COMPLETE,
    COMPLETE_WITH_ERRORS,
    INGESTING,
    QUEUED,
    DynamoRecordsStore,
    RecordsStore,
    Row,
    RowError,
)
from chalicelib.aws.table import doc_key, dump
from tests.fakes import InMemoryRecordsStore


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.emulator)])
def fresh(request: pytest.FixtureRequest) -> tuple[RecordsStore, str]:
    """A store and a document it may keep records for."""
    doc_id = uuid.uuid4().hex
    if request.param == "memory":
        memory = InMemoryRecordsStore()
        memory.add_document(doc_id)
        return memory, doc_id
    stack = request.getfixturevalue("stack")
    aws = request.getfixturevalue("aws")
    aws["dynamodb"].put_item(TableName=stack.names.table, Item=dump({**doc_key(doc_id), "id": doc_id}))
    return DynamoRecordsStore(aws["dynamodb"], stack.names.table), doc_id


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
