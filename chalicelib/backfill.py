"""Backfill and bulk re-extraction: bring what is already in the bucket, or out of date, through ingest.

Two selections, alone or together:
- missing: objects under a prefix that have no document (a bucket that held
  files before docpipe was deployed on it, or events that were lost);
- stale: final documents recorded with an extractor version below a threshold
  (the current one by default), narrowed by family, status and created range.

An admin starts a run (`BackfillService`, here); its planning message goes to
the backfill queue, where `backfill_worker.BackfillWorker.plan` streams the
stale selection from DynamoDB into an S3 manifest (never into memory) and
starts the state machine (BackfillStateMachine in infra/docpipe.yaml). Its
Distributed Maps read the S3 listing and the manifest and hand batches to the
same queue with a task token; `BackfillWorker` runs each item through the
idempotent ingest path (the claim protocol makes overlapping runs, retries and
live uploads harmless) and answers the token.
The queue has its own consumer and concurrency, so live uploads keep priority.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

from chalicelib import paging
from chalicelib.access import require_admin
from chalicelib.aws.backfills import BackfillStore
from chalicelib.config import ConfigurationError, Settings
from chalicelib.documents import parse_filters
from chalicelib.errors import BadRequest, Conflict, NotFound, StaleEvent
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.models import BackfillRun, Caller, RunStatus, Selection, StaleSelection, utcnow

log = logging.getLogger("docpipe.backfill")

DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY = 100
_BODY_KEYS = frozenset({"missing", "stale", "max_concurrency"})
_STALE_KEYS = frozenset({"family", "status", "created_from", "created_to", "extractor_version_below"})


class BackfillQueue(Protocol):
    def url(self) -> str: ...
    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None: ...


class ExecutionStopper(Protocol):
    def stop(self, execution_arn: str, cause: str) -> None: ...


# -- requests ------------------------------------------------------------------


def parse_request(body: Any, settings: Settings) -> tuple[Selection, int]:
    """A POST /admin/backfills body as a selection and a max concurrency, or a clear 400."""
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
        self, store: BackfillStore, queue: BackfillQueue, executions: ExecutionStopper, settings: Settings
    ) -> None:
        self._store = store
        self._queue = queue
        self._executions = executions
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
            self._executions.stop(run.execution_arn, f"stopped by {caller.username or caller.sub}")
        log.info("backfill stopped", extra={"run": run.id})
        return self._run(run_id).to_public()

    def _run(self, run_id: str) -> BackfillRun:
        run = self._store.get(run_id) if _plausible_id(run_id) else None
        if run is None:
            raise NotFound("No such backfill")
        return run


def _plausible_id(run_id: str) -> bool:
    return len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id)
