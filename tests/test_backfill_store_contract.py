"""One contract for backfill runs and their part counting: the in-memory twin and DynamoDB must both pass it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.aws.backfill_parts import BackfillParts
from chalicelib.aws.backfills import BackfillStore
from chalicelib.errors import Conflict, StaleEvent
from chalicelib.models import BackfillRun, RunStatus, Selection, StaleSelection, utcnow
from tests.fakes import InMemoryBackfillStore


class DynamoBackfills(BackfillStore):
    """The run records and the part counting, as the consumer holds them, side by side."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        super().__init__(dynamodb, table)
        self.count_part = BackfillParts(dynamodb, table).count_part


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryBackfillStore()
    stack = request.getfixturevalue("stack")
    aws = request.getfixturevalue("aws")
    return DynamoBackfills(aws["dynamodb"], stack.names.table)


def new_run(created_at: str | None = None) -> BackfillRun:
    selection = Selection("uploads/a/", StaleSelection(3, "FAILED", "pdf", "2026-01-01", None))
    return BackfillRun(uuid.uuid4().hex, RunStatus.PLANNING, created_at or utcnow(), "admin", selection, 7)


def test_a_created_run_reads_back_with_its_selection_and_zero_progress(store: Any) -> None:
    run = new_run()
    store.create(run)
    got = store.get(run.id)
    assert got.selection == run.selection and got.max_concurrency == 7 and got.created_by == "admin"
    assert got.status is RunStatus.PLANNING and store.status(run.id) is RunStatus.PLANNING
    assert got.progress() == {"listed": 0, "queued": 0, "processed": 0, "failed": 0, "skipped": 0, "abandoned": 0}
    assert store.get(uuid.uuid4().hex) is None and store.status(uuid.uuid4().hex) is None
    with pytest.raises(Conflict):
        store.create(run)


def test_a_run_moves_planning_to_running_to_one_final_status_only(store: Any) -> None:
    run = new_run()
    store.create(run)
    store.save_plan(run.id, {"cursor": {"pk": "x"}, "manifest": {"parts": 2}}, utcnow())
    assert store.get(run.id).plan == {"cursor": {"pk": "x"}, "manifest": {"parts": 2}}
    store.begin(run.id, "arn:execution", 12, utcnow())
    got = store.get(run.id)
    assert (got.status, got.execution_arn, got.selected) == (RunStatus.RUNNING, "arn:execution", 12)
    with pytest.raises(StaleEvent):
        store.save_plan(run.id, {}, utcnow())
    with pytest.raises(StaleEvent):
        store.begin(run.id, "arn:other", None, utcnow())
    store.finish(run.id, RunStatus.STOPPED, utcnow(), expected=(RunStatus.PLANNING, RunStatus.RUNNING))
    with pytest.raises(StaleEvent):  # what finishes later never overwrites the stop
        store.finish(run.id, RunStatus.SUCCEEDED, utcnow(), expected=(RunStatus.RUNNING,))
    got = store.get(run.id)
    assert got.status is RunStatus.STOPPED and got.finished_at


def test_an_empty_run_finishes_straight_from_planning_with_what_it_selected(store: Any) -> None:
    run = new_run()
    store.create(run)
    store.finish(run.id, RunStatus.SUCCEEDED, utcnow(), expected=(RunStatus.PLANNING,), selected=0)
    got = store.get(run.id)
    assert got.status is RunStatus.SUCCEEDED and got.selected == 0


def test_each_batch_part_is_counted_once(store: Any) -> None:
    run = new_run()
    store.create(run)
    counts = {"processed": 3, "failed": 1, "skipped": 2}
    assert store.count_part(run.id, "tok#0", counts, {"has_document": 1, "gone": 1})
    assert not store.count_part(run.id, "tok#0", counts, {"has_document": 1, "gone": 1})
    assert store.count_part(run.id, "tok#1", {"processed": 0, "failed": 0, "skipped": 1}, {"has_document": 1})
    got = store.get(run.id)
    assert (got.progress()["processed"], got.progress()["failed"], got.progress()["skipped"]) == (3, 1, 3)
    assert got.skipped_by == {"has_document": 2, "gone": 1}
    with pytest.raises(StaleEvent):
        store.count_part(uuid.uuid4().hex, "tok#0", counts, {})


def test_runs_are_listed_newest_first_in_pages(store: Any) -> None:
    stamp = utcnow()
    made = [new_run(f"2999-01-0{i}T00:00:00.000+00:00") for i in range(1, 4)]
    for run in made:
        store.create(run)
    first = store.page(2, None)
    assert [r.id for r in first.items] == [made[2].id, made[1].id] and first.last_key
    second = store.page(2, first.last_key)
    assert second.items[0].id == made[0].id
    assert stamp < made[0].created_at
