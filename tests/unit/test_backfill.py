"""Backfill planning and batches over in-memory twins: every item ends final, once, and is counted once."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from chalicelib.backfill import BackfillService, parse_request
from chalicelib.backfill_worker import BackfillWorker, Batch, manifest_key
from chalicelib.config import ConfigurationError, Settings
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound, TransientError
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.ingest import IngestService, dropped_document_id
from chalicelib.models import BackfillRun, Caller, ObjectRef, RunStatus, Selection, StaleSelection, Status, utcnow
from tests.fakes import InMemoryBackfillStore, InMemoryRepository, InMemoryStorage
from tests.support import samples

BUCKET = "docpipe-uploads"
ADMIN = Caller("admin-sub", "admin", frozenset({"admins"}), True)
USER = Caller("user-sub", "demo", frozenset(), False)
FAR_AWAY = 1e12


class RecordingWorkflow:
    """The Workflow adapter's twin: what was started, stopped and answered."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.stopped: list[str] = []
        self.answers: dict[str, dict[str, Any]] = {}

    def execution_arn(self, name: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:docpipe-backfill:{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.started.setdefault(name, payload)
        return self.execution_arn(name)

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append(execution_arn)

    def report(self, token: str, output: dict[str, Any]) -> bool:
        if token in self.answers:
            return False
        self.answers[token] = output
        return True


class ListQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def url(self) -> str:
        return "https://sqs.us-east-1.amazonaws.com/123456789012/docpipe-backfill"

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.sent.append((body, delay_seconds))


class ListManifest:
    """ManifestWriter's twin: rows kept in a shared dict of key -> rows, checkpoints as row counts."""

    objects: dict[str, list[str]] = {}

    def __init__(self, key: str, state: dict[str, Any] | None) -> None:
        self.key = key
        self.rows_written: list[str] = list(state["rows_so_far"]) if state else []
        self.aborted = False

    @property
    def rows(self) -> int:
        return len(self.rows_written)

    def add(self, doc_id: str) -> None:
        self.rows_written.append(doc_id)

    def checkpoint(self) -> dict[str, Any]:
        return {"rows_so_far": list(self.rows_written)}

    def complete(self) -> int:
        ListManifest.objects[self.key] = list(self.rows_written)
        return self.rows

    def abort(self) -> None:
        self.aborted = True


class Parts:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env(
            {"DOCPIPE_BUCKET": BUCKET, "DOCPIPE_BACKFILL_STATE_MACHINE": "arn:aws:states:::stateMachine:bf"}
        )
        self.store = InMemoryBackfillStore()
        self.repo = InMemoryRepository()
        self.storage = InMemoryStorage()
        self.ingest = IngestService(self.repo, self.storage, self.settings)  # type: ignore[arg-type]
        self.workflow = RecordingWorkflow()
        self.queue = ListQueue()
        self.clock = itertools.count()
        self.manifests: list[ListManifest] = []
        self.worker = BackfillWorker(
            self.store,  # type: ignore[arg-type]
            self.store,
            self.repo,
            self.ingest,
            self.storage,  # type: ignore[arg-type]
            lambda: self.workflow,  # type: ignore[arg-type,return-value]
            self.queue,
            self._manifest,
            self.settings,
            clock=lambda: float(next(self.clock)),
        )
        self.service = BackfillService(self.store, self.queue, self.workflow, self.settings)  # type: ignore[arg-type]

    def _manifest(self, key: str, state: dict[str, Any] | None) -> ListManifest:
        manifest = ListManifest(key, state)
        self.manifests.append(manifest)
        return manifest

    def drop(self, key: str, data: bytes) -> ObjectRef:
        self.storage.put(BUCKET, key, data)
        info = self.storage.head(BUCKET, key)
        return ObjectRef(BUCKET, key, info.size, info.etag)

    def processed(self, key: str, data: bytes, version: int | None = None) -> str:
        """A document processed by an older extraction."""
        outcome = self.ingest.process(self.drop(key, data))
        item = self.repo._items[outcome.doc_id]
        if version is None:
            item.pop("extractor_version", None)
        else:
            item["extractor_version"] = version
        return outcome.doc_id

    def run(self, selection: Selection, status: RunStatus = RunStatus.RUNNING) -> BackfillRun:
        run = BackfillRun(uuid.uuid4().hex, status, utcnow(), "admin", selection, 2)
        self.store.create(run)
        return run

    def listed(self, *keys: str) -> list[dict[str, Any]]:
        out = []
        for key in keys:
            info = self.storage.head(BUCKET, key)
            out.append({"Key": key, "Etag": f'"{info.etag}"', "Size": info.size, "StorageClass": "STANDARD"})
        return out


@pytest.fixture
def parts() -> Parts:
    ListManifest.objects = {}
    return Parts()


def batch(run: BackfillRun, kind: str, items: list[Any], token: str = "token-1") -> dict[str, Any]:  # noqa: S107
    return {"run": run.id, "kind": kind, "items": items, "token": token}


# -- requests -------------------------------------------------------------------


def test_a_request_becomes_a_selection_with_the_current_version_as_threshold() -> None:
    settings = Settings.from_env({})
    selection, concurrency = parse_request(
        {"missing": True, "stale": {"family": "pdf", "status": "FAILED", "created_to": "2026-01-31"}}, settings
    )
    assert selection.missing_prefix == "uploads/" and concurrency == 4
    assert selection.stale == StaleSelection(EXTRACTOR_VERSION, "FAILED", "pdf", None, "2026-01-31")
    selection, concurrency = parse_request({"missing": {"prefix": "uploads/provider/"}, "max_concurrency": 9}, settings)
    assert (selection.missing_prefix, selection.stale, concurrency) == ("uploads/provider/", None, 9)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"missing": False},
        {"missing": {"prefix": "elsewhere/"}},
        {"missing": {"prefix": "uploads/", "recursive": True}},
        {"stale": {"status": "PROCESSING"}},
        {"stale": {"family": 3}},
        {"stale": {"extractor_version_below": 0}},
        {"stale": {"extractor_version_below": "1"}},
        {"stale": {}, "max_concurrency": True},
        {"stale": {}, "max_concurrency": 1.5},
    ],
)
def test_malformed_requests_are_rejected_with_a_reason(body: Any) -> None:
    with pytest.raises(BadRequest):
        parse_request(body, Settings.from_env({}))


# -- the admin API --------------------------------------------------------------------


def test_only_administrators_start_list_read_and_stop_runs(parts: Parts) -> None:
    for call in (
        lambda: parts.service.start(USER, {"missing": True}),
        lambda: parts.service.list(USER, {}),
        lambda: parts.service.get(USER, "a" * 32),
        lambda: parts.service.stop(USER, "a" * 32),
    ):
        with pytest.raises(Forbidden):
            call()


def test_starting_a_run_records_it_and_queues_its_planning(parts: Parts) -> None:
    run = parts.service.start(ADMIN, {"stale": {"family": "pdf"}})
    assert run["status"] == "PLANNING" and run["created_by"] == "admin"
    assert parts.queue.sent == [({"plan": run["id"]}, 0)]
    assert parts.service.get(ADMIN, run["id"])["selection"] == {"stale": {"below": EXTRACTOR_VERSION, "family": "pdf"}}
    with pytest.raises(NotFound):
        parts.service.get(ADMIN, "f" * 32)


def test_a_deployment_without_the_state_machine_says_so() -> None:
    parts = Parts(Settings.from_env({"DOCPIPE_BUCKET": BUCKET}))
    with pytest.raises(ConfigurationError, match="DOCPIPE_BACKFILL_STATE_MACHINE"):
        parts.service.start(ADMIN, {"missing": True})


def test_stopping_marks_the_run_stopped_and_stops_its_execution_once(parts: Parts) -> None:
    run = parts.run(Selection("uploads/"))
    parts.store.runs[run.id].execution_arn = "arn:execution"
    stopped = parts.service.stop(ADMIN, run.id)
    assert stopped["status"] == "STOPPED" and parts.workflow.stopped == ["arn:execution"]
    with pytest.raises(Conflict):
        parts.service.stop(ADMIN, run.id)


# -- planning ----------------------------------------------------------------------------


def test_planning_writes_the_stale_documents_to_a_manifest_and_starts_the_machine(parts: Parts) -> None:
    old = [parts.processed(f"uploads/old-{i}.txt", b"old %d" % i) for i in range(3)]
    current = parts.processed("uploads/current.txt", b"current", version=EXTRACTOR_VERSION)
    run = parts.run(Selection("uploads/", StaleSelection(EXTRACTOR_VERSION)), RunStatus.PLANNING)
    result = parts.worker.handle({"plan": run.id}, FAR_AWAY)
    assert result["selected"] == 3
    assert sorted(ListManifest.objects[manifest_key(run.id)]) == sorted(old) and current not in old
    payload = parts.workflow.started[run.id]
    # exactly what the state machine (infra/docpipe.yaml) reads (tests/unit/test_backfill_definition.py)
    assert set(payload) == {"run", "table", "queue", "bucket", "max_concurrency", "missing", "stale"}
    assert payload["missing"] == {"prefix": "uploads/"} and payload["stale"] == {"key": manifest_key(run.id)}
    assert payload["queue"] == parts.queue.url() and payload["max_concurrency"] == 2
    got = parts.store.get(run.id)
    assert got is not None and got.status is RunStatus.RUNNING and got.selected == 3


def test_planning_an_empty_selection_finishes_the_run_at_once_without_an_execution(parts: Parts) -> None:
    parts.processed("uploads/current.txt", b"current", version=EXTRACTOR_VERSION)
    run = parts.run(Selection(None, StaleSelection(EXTRACTOR_VERSION)), RunStatus.PLANNING)
    assert parts.worker.handle({"plan": run.id}, FAR_AWAY)["plan"] == "empty"
    got = parts.store.get(run.id)
    assert got is not None and got.status is RunStatus.SUCCEEDED and got.selected == 0
    assert parts.workflow.started == {} and parts.manifests[0].aborted


def test_planning_that_runs_out_of_time_continues_from_its_checkpoint(parts: Parts, monkeypatch) -> None:
    ids = [parts.processed(f"uploads/old-{i}.txt", b"old %d" % i) for i in range(5)]
    original = parts.repo.stale_ids
    monkeypatch.setattr(parts.repo, "stale_ids", lambda sel, start: original(sel, start, page_size=2))
    run = parts.run(Selection(None, StaleSelection(EXTRACTOR_VERSION)), RunStatus.PLANNING)
    deadline = 60.5  # the fake clock ticks once a call: planning stops after its second page
    assert parts.worker.handle({"plan": run.id}, deadline)["plan"] == "continues"
    assert parts.queue.sent == [({"plan": run.id}, 0)] and parts.workflow.started == {}
    assert parts.worker.handle({"plan": run.id}, FAR_AWAY)["plan"] == "started"
    assert sorted(ListManifest.objects[manifest_key(run.id)]) == sorted(ids)


def test_a_planning_message_delivered_again_after_the_start_starts_nothing_new(parts: Parts) -> None:
    run = parts.run(Selection("uploads/"), RunStatus.PLANNING)
    parts.worker.handle({"plan": run.id}, FAR_AWAY)
    parts.worker.handle({"plan": run.id}, FAR_AWAY)
    assert list(parts.workflow.started) == [run.id]


# -- batches --------------------------------------------------------------------------------


def test_missing_objects_are_indexed_and_objects_with_a_document_skipped_without_work(parts: Parts) -> None:
    parts.drop("uploads/a.pdf", samples.pdf())
    parts.drop("uploads/b.txt", b"hello")
    known = parts.processed("uploads/known.txt", b"known", version=EXTRACTOR_VERSION)
    run = parts.run(Selection("uploads/"))
    items = [*parts.listed("uploads/a.pdf", "uploads/b.txt", "uploads/known.txt"), {"Key": "uploads/dir/"}]
    result = parts.worker.handle(batch(run, "missing", items), FAR_AWAY)
    assert (result["processed"], result["skipped"], result["answered"]) == (2, 2, True)
    for key in ("uploads/a.pdf", "uploads/b.txt"):
        doc = parts.repo.get(dropped_document_id(BUCKET, key))
        assert doc is not None and doc.status is Status.PROCESSED and doc.extractor_version == EXTRACTOR_VERSION
    assert parts.repo.get(known) is not None
    got = parts.store.get(run.id)
    assert got is not None and got.skipped_by == {"has_document": 1, "not_a_file": 1}
    assert parts.workflow.answers["token-1"] == {"processed": 2, "failed": 0, "skipped": 2}


def test_an_object_deleted_since_the_listing_is_skipped_as_gone(parts: Parts) -> None:
    parts.drop("uploads/a.txt", b"a")
    items = parts.listed("uploads/a.txt")
    del parts.storage.objects[(BUCKET, "uploads/a.txt")]
    run = parts.run(Selection("uploads/"))
    parts.worker.handle(batch(run, "missing", items), FAR_AWAY)
    got = parts.store.get(run.id)
    assert got is not None and got.skipped_by == {"gone": 1}


def test_stale_documents_are_extracted_again_and_the_rest_skipped_with_a_reason(parts: Parts) -> None:
    old = parts.processed("uploads/old.txt", b"old", version=None)
    current = parts.processed("uploads/new.txt", b"new", version=EXTRACTOR_VERSION)
    run = parts.run(Selection(None, StaleSelection(EXTRACTOR_VERSION)))
    items = [{"doc_id": old}, {"doc_id": current}, {"doc_id": "0" * 32}]
    parts.worker.handle(batch(run, "stale", items), FAR_AWAY)
    doc = parts.repo.get(old)
    assert doc is not None and doc.extractor_version == EXTRACTOR_VERSION
    assert [e["event"] for e in doc.timeline] == ["processing_started", "processed", "reprocessing", "processed"]
    got = parts.store.get(run.id)
    assert got is not None and got.progress()["processed"] == 1
    assert got.skipped_by == {"already_current": 1, "deleted": 1}


def test_a_document_brought_up_to_date_meanwhile_is_not_extracted_twice(parts: Parts) -> None:
    old = parts.processed("uploads/old.txt", b"old", version=None)
    run = parts.run(Selection(None, StaleSelection(EXTRACTOR_VERSION)))
    first = parts.worker.handle(batch(run, "stale", [{"doc_id": old}], token="t1"), FAR_AWAY)
    doc = parts.repo.get(old)
    assert doc is not None
    # a second run that read the document before the first one finished: the claim itself refuses
    outcome = parts.ingest.reextract(doc, EXTRACTOR_VERSION)
    assert first["processed"] == 1 and (outcome.status, outcome.reason) == ("SKIPPED", "stale_event")


def test_a_batch_delivered_twice_is_counted_once(parts: Parts) -> None:
    parts.drop("uploads/a.txt", b"a")
    run = parts.run(Selection("uploads/"))
    message = batch(run, "missing", parts.listed("uploads/a.txt"))
    parts.worker.handle(message, FAR_AWAY)
    again = parts.worker.handle(message, FAR_AWAY)
    got = parts.store.get(run.id)
    assert got is not None and got.progress()["processed"] == 1 and got.progress()["skipped"] == 0
    assert again["answered"] is False


def test_batches_of_a_stopped_run_are_skipped_untouched(parts: Parts) -> None:
    parts.drop("uploads/a.txt", b"a")
    run = parts.run(Selection("uploads/"), RunStatus.STOPPED)
    parts.worker.handle(batch(run, "missing", parts.listed("uploads/a.txt")), FAR_AWAY)
    assert parts.repo.get(dropped_document_id(BUCKET, "uploads/a.txt")) is None
    got = parts.store.get(run.id)
    assert got is not None and got.skipped_by == {"stopped": 1}


def test_a_run_stopped_mid_batch_leaves_the_rest_of_the_batch_alone(parts: Parts, monkeypatch) -> None:
    keys = [f"uploads/f{i}.txt" for i in range(4)]
    for key in keys:
        parts.drop(key, key.encode())
    run = parts.run(Selection("uploads/"))
    process = parts.ingest.process

    def process_then_stop(*args: Any, **kwargs: Any) -> Any:
        parts.store.runs[run.id].status = RunStatus.STOPPED
        return process(*args, **kwargs)

    monkeypatch.setattr(parts.ingest, "process", process_then_stop)
    monkeypatch.setattr("chalicelib.backfill_worker.STATUS_EVERY_SECONDS", 0.0)
    parts.worker.handle(batch(run, "missing", parts.listed(*keys)), FAR_AWAY)
    got = parts.store.get(run.id)
    assert got is not None and got.progress()["processed"] == 1 and got.skipped_by == {"stopped": 3}
    docs = [parts.repo.get(dropped_document_id(BUCKET, k)) for k in keys]
    assert [d.status if d else None for d in docs] == [Status.PROCESSED, None, None, None]


def test_a_batch_that_runs_out_of_time_continues_in_a_new_part_and_answers_once(parts: Parts) -> None:
    keys = [f"uploads/f{i}.txt" for i in range(3)]
    for key in keys:
        parts.drop(key, key.encode())
    run = parts.run(Selection("uploads/"))
    message = batch(run, "missing", parts.listed(*keys))
    deadline = 91.5  # the fake clock ticks once a call: time for one item only
    first = parts.worker.handle(message, deadline)
    assert first["processed"] == 1 and first["continued"] == 2 and parts.workflow.answers == {}
    ((rest, delay),) = parts.queue.sent
    assert rest["part"] == 1 and rest["token"] == "token-1" and delay == 0
    second = parts.worker.handle(rest, FAR_AWAY)
    assert second["processed"] == 2 and second["answered"] is True
    got = parts.store.get(run.id)
    assert got is not None and got.progress()["processed"] == 3


def test_a_transient_failure_retries_the_rest_later_and_blames_no_file(parts: Parts, monkeypatch) -> None:
    keys = [f"uploads/f{i}.txt" for i in range(2)]
    for key in keys:
        parts.drop(key, key.encode())
    run = parts.run(Selection("uploads/"))
    calls = itertools.count()
    process = parts.ingest.process

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 1:
            raise TransientError("throttled")
        return process(*args, **kwargs)

    monkeypatch.setattr(parts.ingest, "process", flaky)
    parts.worker.handle(batch(run, "missing", parts.listed(*keys)), FAR_AWAY)
    ((rest, delay),) = parts.queue.sent
    assert [i["Key"] for i in rest["items"]] == ["uploads/f1.txt"] and rest["retries"] == 1 and delay == 15
    assert parts.repo.get(dropped_document_id(BUCKET, "uploads/f1.txt")) is None
    parts.worker.handle(rest, FAR_AWAY)
    got = parts.store.get(run.id)
    assert got is not None and got.progress()["processed"] == 2 and got.progress()["failed"] == 0


def test_a_message_that_is_not_a_backfill_message_is_refused() -> None:
    for message in ({}, {"kind": "everything", "items": []}, {"kind": "missing", "items": "x"}):
        with pytest.raises((ValueError, KeyError)):
            Batch.parse(message)
