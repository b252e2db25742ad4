"""Backfill and bulk re-extraction: bring what is already in the bucket, or out of date, through ingest.

Two selections, alone or together:
- missing: objects under a prefix that have no document (a bucket that held
  files before docpipe was deployed on it, or events that were lost);
- stale: final documents recorded with an extractor version below a threshold
  (the current one by default), narrowed by family, status and created range.

An admin starts a run (`BackfillService`); its planning message goes to the
backfill queue, where `BackfillWorker.plan` streams the stale selection from
DynamoDB into an S3 manifest (never into memory) and starts the state machine
(infra/backfill.asl.json). Its Distributed Maps read the S3 listing and the
manifest and hand batches to the same queue with a task token; `BackfillWorker`
runs each item through the idempotent ingest path (the claim protocol makes
overlapping runs, retries and live uploads harmless) and answers the token.
The queue has its own consumer and concurrency, so live uploads keep priority.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib import paging
from chalicelib.access import require_admin
from chalicelib.aws.backfills import BackfillStore
from chalicelib.aws.repository import Repository
from chalicelib.aws.storage import S3Storage
from chalicelib.aws.workflow import Workflow
from chalicelib.config import ConfigurationError, Settings
from chalicelib.errors import BadRequest, Conflict, ExtractionFailed, NotFound, StaleEvent
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.ingest import IngestService, Outcome, document_id_for, is_transient
from chalicelib.models import BackfillRun, Caller, Document, ObjectRef, RunStatus, Selection, StaleSelection, utcnow

log = logging.getLogger("docpipe.backfill")

DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY = 100
PLAN_MARGIN_SECONDS = 60.0
"""Planning stops (and continues in a new message) this long before the Lambda deadline."""
ITEM_MARGIN_SECONDS = 90.0
"""An item is started only if this much time is left: one extraction, rendition and write fit in it."""
STATUS_EVERY_SECONDS = 2.0
"""How often a batch looks at its run again, at most (a stopped run's remaining items are skipped)."""
MAX_RETRY_DELAY = 900
_BODY_KEYS = frozenset({"missing", "stale", "max_concurrency"})
_STALE_KEYS = frozenset({"family", "status", "created_from", "created_to", "extractor_version_below"})


class BackfillQueue(Protocol):
    def url(self) -> str: ...
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


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


# -- requests ------------------------------------------------------------------


def parse_request(body: Any, settings: Settings) -> tuple[Selection, int]:
    """A POST /admin/backfills body as a selection and a max concurrency, or a clear 400."""
    from chalicelib.documents import parse_filters

    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object", code="invalid_body")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise BadRequest(f"Unknown field: {unknown[0]}", code="invalid_body")
    missing, stale = body.get("missing"), body.get("stale")
    if missing is None and stale is None:
        raise BadRequest("Select something: missing (objects without a document) and/or stale", code="invalid_body")
    prefix = _missing_prefix(missing, settings) if missing is not None else None
    stale_selection = None
    if stale is not None:
        if not isinstance(stale, dict) or set(stale) - _STALE_KEYS:
            raise BadRequest(f"stale takes only {', '.join(sorted(_STALE_KEYS))}", code="invalid_body")
        if stale.get("status") not in (None, "PROCESSED", "FAILED"):
            raise BadRequest("stale.status must be PROCESSED or FAILED", code="invalid_body")
        params = {k: v for k, v in stale.items() if k != "extractor_version_below" and v is not None}
        if not all(isinstance(v, str) for v in params.values()):
            raise BadRequest("stale filters are strings", code="invalid_body")
        filters = parse_filters(params)
        below = _int_field(stale, "extractor_version_below", EXTRACTOR_VERSION, 1, EXTRACTOR_VERSION)
        stale_selection = StaleSelection(
            below, filters.status, filters.family, filters.created_from, filters.created_to
        )
    concurrency = _int_field(body, "max_concurrency", DEFAULT_MAX_CONCURRENCY, 1, MAX_CONCURRENCY)
    return Selection(prefix, stale_selection), concurrency


def _missing_prefix(missing: Any, settings: Settings) -> str:
    if missing is True or missing == {}:
        return settings.uploads_prefix
    prefix = missing.get("prefix") if isinstance(missing, dict) and set(missing) <= {"prefix"} else None
    if not isinstance(prefix, str) or not prefix.startswith(settings.uploads_prefix) or len(prefix) > 1024:
        raise BadRequest(
            f'missing must be true or {{"prefix": "{settings.uploads_prefix}..."}} (a prefix under the uploads prefix)',
            code="invalid_body",
        )
    return prefix


def _int_field(data: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}", code="invalid_body")
    return value


# -- the admin API ---------------------------------------------------------------


class BackfillService:
    def __init__(
        self, store: BackfillStore, queue: BackfillQueue, workflow: Callable[[], Workflow], settings: Settings
    ) -> None:
        self._store = store
        self._queue = queue
        self._workflow = workflow
        self._settings = settings

    def start(self, caller: Caller, body: Any) -> dict[str, Any]:
        require_admin(caller, "start a backfill")
        selection, concurrency = parse_request(body, self._settings)
        if not self._settings.backfill_state_machine:
            raise ConfigurationError("DOCPIPE_BACKFILL_STATE_MACHINE is not set: backfills are not deployed")
        now = utcnow()
        run = BackfillRun(
            uuid.uuid4().hex, RunStatus.PLANNING, now, caller.username or caller.sub, selection, concurrency
        )
        self._store.create(run)
        self._queue.send({"plan": run.id})
        log.info("backfill requested", extra={"run": run.id, "selection": selection.to_dict()})
        return run.to_public()

    def list(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        require_admin(caller, "list backfills")
        unknown = sorted(set(params) - {"limit", "next"})
        if unknown:
            raise BadRequest(f"Unknown query parameter: {unknown[0]}", code="unknown_parameter")
        secret = self._settings.signing_secret
        start = paging.decode(params.get("next"), "backfills", secret)
        page = self._store.page(paging.parse_limit(params.get("limit")), start)
        return {"items": [r.to_public() for r in page.items], "next": paging.encode(page.last_key, "backfills", secret)}

    def get(self, caller: Caller, run_id: str) -> dict[str, Any]:
        require_admin(caller, "read backfills")
        return self._run(run_id).to_public()

    def stop(self, caller: Caller, run_id: str) -> dict[str, Any]:
        """STOPPED at once: no new batch is handed over, queued ones are skipped; items in progress finish."""
        require_admin(caller, "stop a backfill")
        run = self._run(run_id)
        if run.status.final:
            raise Conflict(f"The backfill already ended ({run.status.value})", code="backfill_finished")
        try:
            self._store.finish(run.id, RunStatus.STOPPED, utcnow(), expected=(RunStatus.PLANNING, RunStatus.RUNNING))
        except StaleEvent as exc:
            raise Conflict("The backfill ended meanwhile", code="backfill_finished") from exc
        if run.execution_arn:
            self._workflow().stop(run.execution_arn, f"stopped by {caller.username or caller.sub}")
        log.info("backfill stopped", extra={"run": run.id})
        return self._run(run_id).to_public()

    def _run(self, run_id: str) -> BackfillRun:
        run = self._store.get(run_id) if _plausible_id(run_id) else None
        if run is None:
            raise NotFound("No such backfill")
        return run


def _plausible_id(run_id: str) -> bool:
    return len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id)


# -- the backfill queue's consumer ------------------------------------------------


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
        repository: Repository,
        ingest: IngestService,
        storage: S3Storage,
        workflow: Callable[[], Workflow],
        queue: BackfillQueue,
        manifest: ManifestFactory,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._repo = repository
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
            page = self._repo.stale_ids(run.selection.stale, cursor)
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
        self._store.count_part(batch.run_id, batch.part_id, tally.counts(), dict(tally.skipped))
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
        known = self._repo.get_many([doc_id for *_, doc_id in listed])
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
        docs = self._repo.get_many([d for d in ids if d])
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
