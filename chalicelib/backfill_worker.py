"""The backfill queue's consumer: planning legs and batches, each item brought to a final outcome once.

Planning streams the stale selection from DynamoDB into an S3 manifest (over
as many Lambda invocations as it takes) and starts the state machine. A batch
(sent by the state machine with a task token) is pre-filtered in one read,
then each item goes through the idempotent ingest path; outcomes are counted
once per batch part and the token answered. A batch that runs out of time,
or hits a transient failure, continues as the next part in a new message.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.aws.backfills import BackfillStore
from chalicelib.aws.document_reads import DocumentReads
from chalicelib.aws.faults import is_transient
from chalicelib.aws.storage import S3Storage
from chalicelib.aws.workflow import Workflow
from chalicelib.backfill import BackfillQueue
from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed
from chalicelib.ingest import IngestService, Outcome, document_id_for
from chalicelib.models import BackfillRun, Document, ObjectRef, RunStatus, utcnow

log = logging.getLogger("docpipe.backfill")

PLAN_MARGIN_SECONDS = 60.0
"""Planning stops (and continues in a new message) this long before the Lambda deadline."""
ITEM_MARGIN_SECONDS = 90.0
"""An item is started only if this much time is left: one extraction, rendition and write fit in it."""
STATUS_EVERY_SECONDS = 2.0
"""How often a batch looks at its run again, at most (a stopped run's remaining items are skipped)."""
MAX_RETRY_DELAY = 900


class PartCounter(Protocol):
    def count_part(self, run_id: str, part_id: str, counts: dict[str, int], skipped_by: dict[str, int]) -> bool: ...


class Manifest(Protocol):
    @property
    def rows(self) -> int: ...

    def add(self, doc_id: str) -> None: ...
    def checkpoint(self) -> dict[str, Any]: ...
    def complete(self) -> int: ...
    def abort(self) -> None: ...


ManifestFactory = Callable[[str, dict[str, Any] | None], Manifest]


def manifest_key(run_id: str) -> str:
    """Outside the uploads prefix, so writing it starts no ingest."""
    return f"backfills/{run_id}/manifest.csv"


@dataclass
class Tally:
    """Outcomes of one batch part."""

    processed: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "PROCESSED":
            self.processed += 1
        elif outcome.status == "FAILED":
            self.failed += 1
        else:
            self.skip("already_done" if outcome.reason == "stale_event" else outcome.reason or "skipped")

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def counts(self) -> dict[str, int]:
        return {"processed": self.processed, "failed": self.failed, "skipped": sum(self.skipped.values())}


@dataclass
class Batch:
    run_id: str
    kind: str
    items: list[Any]
    token: str
    part: int = 0
    retries: int = 0

    @classmethod
    def parse(cls, message: dict[str, Any]) -> Batch:
        if message.get("kind") not in ("missing", "stale") or not isinstance(message.get("items"), list):
            raise ValueError("not a backfill batch")
        return cls(
            str(message["run"]),
            str(message["kind"]),
            message["items"],
            str(message["token"]),
            int(message.get("part", 0)),
            int(message.get("retries", 0)),
        )

    @property
    def part_id(self) -> str:
        return f"{hashlib.sha256(self.token.encode()).hexdigest()[:32]}#{self.part}"

    def rest(self, items: list[Any], retry: bool) -> dict[str, Any]:
        """The message that carries on with `items` as the next part of this batch."""
        return {
            "run": self.run_id,
            "kind": self.kind,
            "items": items,
            "token": self.token,
            "part": self.part + 1,
            "retries": self.retries + 1 if retry else 0,
        }


class BackfillWorker:
    def __init__(
        self,
        store: BackfillStore,
        parts: PartCounter,
        documents: DocumentReads,
        ingest: IngestService,
        storage: S3Storage,
        workflow: Callable[[], Workflow],
        queue: BackfillQueue,
        manifest: ManifestFactory,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._parts = parts
        self._documents = documents
        self._ingest = ingest
        self._storage = storage
        self._workflow = workflow
        self._queue = queue
        self._manifest = manifest
        self._settings = settings
        self._clock = clock

    def handle(self, message: dict[str, Any], deadline: float) -> dict[str, Any]:
        if "plan" in message:
            return self.plan(str(message["plan"]), deadline)
        return self.batch(Batch.parse(message), deadline)

    # -- planning ----------------------------------------------------------------
    def plan(self, run_id: str, deadline: float) -> dict[str, Any]:
        """Write the stale manifest (over as many legs as it takes), then start the state machine."""
        run = self._store.get(run_id)
        if run is None or run.status.final:
            if run is not None and run.plan.get("manifest"):
                self._manifest(manifest_key(run.id), run.plan["manifest"]).abort()
            return {"run": run_id, "plan": "ended"}
        if run.status is RunStatus.RUNNING:  # a redelivery after the run began: make sure it was started
            self._start(run)
            return {"run": run_id, "plan": "started"}
        selected = None
        if run.selection.stale is not None:
            selected = self._write_manifest(run, deadline)
            if selected is None:
                return {"run": run_id, "plan": "continues"}
        if run.selection.missing_prefix is None and not selected:
            self._store.finish(run.id, RunStatus.SUCCEEDED, utcnow(), expected=(RunStatus.PLANNING,), selected=selected)
            log.info("backfill selected nothing", extra={"run": run.id})
            return {"run": run_id, "plan": "empty"}
        self._store.begin(run.id, self._workflow().execution_arn(run.id), selected, utcnow())
        started = self._store.get(run.id)
        if started is not None and started.status is RunStatus.RUNNING:
            self._start(started)
        return {"run": run_id, "plan": "started", "selected": selected}

    def _write_manifest(self, run: BackfillRun, deadline: float) -> int | None:
        """Rows written, or None when time ran out (a planning message carries on from the checkpoint)."""
        assert run.selection.stale is not None
        writer = self._manifest(manifest_key(run.id), run.plan.get("manifest"))
        cursor = run.plan.get("cursor")
        while True:
            page = self._documents.stale_ids(run.selection.stale, cursor)
            for doc_id in page.items:
                writer.add(doc_id)
            cursor = page.last_key
            if cursor is None:
                break
            if self._clock() > deadline - PLAN_MARGIN_SECONDS:
                self._store.save_plan(run.id, {"manifest": writer.checkpoint(), "cursor": cursor}, utcnow())
                self._queue.send({"plan": run.id})
                log.info("backfill planning continues", extra={"run": run.id, "rows": writer.rows})
                return None
        if writer.rows == 0:
            writer.abort()
            return 0
        return writer.complete()

    def _start(self, run: BackfillRun) -> None:
        payload: dict[str, Any] = {
            "run": run.id,
            "table": self._settings.table,
            "queue": self._queue.url(),
            "bucket": self._settings.bucket,
            "max_concurrency": run.max_concurrency,
        }
        if run.selection.missing_prefix is not None:
            payload["missing"] = {"prefix": run.selection.missing_prefix}
        if run.selected:
            payload["stale"] = {"key": manifest_key(run.id)}
        self._workflow().start(run.id, payload)

    # -- batches -------------------------------------------------------------------
    def batch(self, batch: Batch, deadline: float) -> dict[str, Any]:
        """Bring every item of a batch to a final outcome, count them once, answer the token."""
        run = self._store.get(batch.run_id)
        tally = Tally()
        rest: list[Any] = []
        retry = False
        if run is None or run.status is not RunStatus.RUNNING:
            tally.skip("stopped", len(batch.items))
        else:
            rest, retry = self._work(run, batch, tally, deadline)
        self._parts.count_part(batch.run_id, batch.part_id, tally.counts(), dict(tally.skipped))
        if rest:
            delay = min(MAX_RETRY_DELAY, 15 * 2**batch.retries) if retry else 0
            self._queue.send(batch.rest(rest, retry), delay_seconds=delay)
            return {"run": batch.run_id, "part": batch.part, "continued": len(rest), **tally.counts()}
        answered = self._workflow().report(batch.token, tally.counts())
        return {"run": batch.run_id, "part": batch.part, "answered": answered, **tally.counts()}

    def _work(self, run: BackfillRun, batch: Batch, tally: Tally, deadline: float) -> tuple[list[Any], bool]:
        """Process the batch's items; returns those left for a later part, and whether that is a retry."""
        todo = self._candidates(run, batch, tally)
        checked = self._clock()
        for i, (_, work) in enumerate(todo):
            now = self._clock()
            if now > deadline - ITEM_MARGIN_SECONDS:
                return [it for it, _ in todo[i:]], False
            if now - checked > STATUS_EVERY_SECONDS:
                checked = now
                if self._store.status(run.id) is not RunStatus.RUNNING:
                    tally.skip("stopped", len(todo) - i)
                    return [], False
            try:
                tally.add(work(deadline))
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("backfill item failed unexpectedly", extra={"run": run.id})
                    tally.skip("error")
                    continue
                log.warning("backfill item hit a transient failure; retried later", extra={"run": run.id})
                return [it for it, _ in todo[i:]], True
        return [], False

    def _candidates(self, run: BackfillRun, batch: Batch, tally: Tally) -> list[tuple[Any, Any]]:
        if batch.kind == "missing":
            return self._missing(batch.items, tally)
        return self._stale(run, batch.items, tally)

    def _missing(self, items: list[Any], tally: Tally) -> list[tuple[Any, Any]]:
        """Objects from the listing; those whose document already has this version are skipped in one read."""
        bucket, prefix = self._settings.bucket, self._settings.uploads_prefix
        listed: list[tuple[Any, str, str | None, str]] = []
        for item in items:
            key = item.get("Key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not key.startswith(prefix) or key.endswith("/"):
                tally.skip("not_a_file")
                continue
            etag = str(item.get("Etag") or item.get("ETag") or "").strip('"') or None
            listed.append((item, key, etag, document_id_for(bucket, key, prefix)))
        known = self._documents.get_many([doc_id for *_, doc_id in listed])
        todo = []
        for item, key, etag, doc_id in listed:
            doc = known.get(doc_id)
            if _indexed(doc, key, etag):
                tally.skip("has_document")
            else:
                todo.append((item, self._index(bucket, key, doc)))
        return todo

    def _index(self, bucket: str, key: str, doc: Document | None) -> Callable[[float], Outcome]:
        def work(deadline: float) -> Outcome:
            try:
                info = self._storage.head(bucket, key)
            except ExtractionFailed:
                return Outcome(doc.id if doc else "", "SKIPPED", "gone")
            if _indexed(doc, key, info.etag):
                return Outcome(doc.id if doc else "", "SKIPPED", "has_document")
            return self._ingest.process(
                ObjectRef(bucket, key, info.size, info.etag, info.version_id), deadline=deadline
            )

        return work

    def _stale(self, run: BackfillRun, items: list[Any], tally: Tally) -> list[tuple[Any, Any]]:
        """Documents from the manifest that are still final and still older than the run's threshold."""
        assert run.selection.stale is not None
        below = run.selection.stale.below
        ids = [str(i.get("doc_id", "")) if isinstance(i, dict) else "" for i in items]
        docs = self._documents.get_many([d for d in ids if d])
        todo = []
        for item, doc_id in zip(items, ids, strict=True):
            doc = docs.get(doc_id)
            if doc is None:
                tally.skip("deleted")
            elif not doc.status.final:
                tally.skip("in_progress")
            elif doc.extractor_version is not None and doc.extractor_version >= below:
                tally.skip("already_current")
            else:
                todo.append((item, self._reextract(doc, below)))
        return todo

    def _reextract(self, doc: Document, below: int) -> Callable[[float], Outcome]:
        def work(deadline: float) -> Outcome:
            outcome = self._ingest.reextract(doc, below, deadline)
            if outcome.status == "SKIPPED" and outcome.reason == "stale_event":
                return Outcome(doc.id, "SKIPPED", "already_current")
            return outcome

        return work


def _indexed(doc: Document | None, key: str, etag: str | None) -> bool:
    """The object's current version already has a final document."""
    return doc is not None and doc.key == key and doc.status.final and etag is not None and doc.etag == etag
