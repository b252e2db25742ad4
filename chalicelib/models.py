"""Plain data that crosses layers: documents, statuses, object references, callers.

No AWS types here: the repository converts to and from DynamoDB items, the API
layer to and from JSON.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


class Status(enum.StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    DELETING = "DELETING"
    """Deletion was asked for: its file is gone, its rows are being removed, then the document goes."""

    @property
    def final(self) -> bool:
        return self in (Status.PROCESSED, Status.FAILED)


UPLOAD_URL_SECONDS = 900
UPLOAD_GRACE_SECONDS = 300  # an upload started just before the URL expired may still be arriving


def upload_deadline(created_at: str) -> int:
    """When an upload asked for at `created_at` (ISO 8601) can no longer arrive: its URL's expiry plus the grace."""
    return int(datetime.fromisoformat(created_at).timestamp()) + UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS


def first_sweep(now_epoch: int, created_at: str, lease_seconds: int) -> int:
    """When the sweeper first looks at an upload asked for now: after one lease, or at its deadline if sooner.

    A claim keeps this entry (changing an index key costs a delete and a put), so
    it must come no later than the lease of an attempt that starts at once: a
    crashed attempt is then found as soon as before. The few uploads still not
    finished by then are looked at again (`sweeper`).
    """
    return min(now_epoch + lease_seconds, upload_deadline(created_at))


def utcnow() -> str:
    """ISO 8601 with offset, millisecond precision: sortable as a string."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object version as an event announced it."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None


@dataclass(frozen=True)
class Content:
    """What is known of a file's bytes: its size, S3's checksum, and its sha256 once computed.

    `checksum` is S3's full-object (or composite) checksum as HeadObject reports
    it with ChecksumMode=ENABLED, spelled "<ALGORITHM>:<FULL_OBJECT|COMPOSITE>:<base64>";
    None where S3 (or the emulator) reports none.
    """

    size: int
    checksum: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A document of the same owner and size: possibly the same file uploaded earlier."""

    doc_id: str
    created_at: str
    content: Content


@dataclass
class Document:
    id: str
    owner: str | None
    bucket: str
    key: str
    filename: str
    status: Status
    created_at: str
    updated_at: str
    declared_size: int | None = None
    declared_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    records: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None
    attempt: str | None = None
    attempts: int = 0
    deadline: int | None = None
    extractor_version: int | None = None
    """The extraction that produced a PROCESSED/FAILED document (None: before versions were recorded)."""

    def to_public(self) -> dict[str, Any]:
        """The API view: no internal bookkeeping (attempt tokens, bucket)."""
        data = asdict(self)
        data["status"] = self.status.value
        for internal in ("attempt", "bucket", "etag", "attempts", "deadline"):
            data.pop(internal, None)
        if data["error"] is None:
            data.pop("error")
        if data["records"] is None:
            data.pop("records")
        return data

    def summary(self) -> dict[str, Any]:
        """The list view: enough for a table row."""
        meta = self.metadata
        out: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "status": self.status.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "owner": self.owner,
        }
        for key in ("mime_type", "family", "size"):
            if key in meta:
                out[key] = meta[key]
        if self.error:
            out["error"] = self.error
        if self.records:  # a CSV's rows: "Processed" with rows still being stored is not done yet
            out["records"] = {k: self.records[k] for k in ("state", "total", "written", "failed") if k in self.records}
        return out


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str | None
    groups: frozenset[str]
    admin: bool


class RunStatus(enum.StrEnum):
    """A backfill run: PLANNING (its manifest is being written) → RUNNING → one final status."""

    PLANNING = "PLANNING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    @property
    def final(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED)


@dataclass(frozen=True)
class StaleSelection:
    """Documents to extract again: final, recorded with an extractor version below `below`, and matching."""

    below: int
    status: str | None = None
    family: str | None = None
    created_from: str | None = None
    created_to: str | None = None


@dataclass(frozen=True)
class Selection:
    """What a backfill covers: objects under `missing_prefix` with no document, and/or stale documents."""

    missing_prefix: str | None = None
    stale: StaleSelection | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.missing_prefix is not None:
            out["missing"] = {"prefix": self.missing_prefix}
        if self.stale is not None:
            out["stale"] = {k: v for k, v in asdict(self.stale).items() if v is not None}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        missing, stale = data.get("missing"), data.get("stale")
        return cls(
            missing_prefix=missing["prefix"] if missing else None,
            stale=StaleSelection(**stale) if stale else None,
        )


PROGRESS = ("listed", "queued", "processed", "failed", "skipped")
COUNTERS = ("listed", "not_queued", "abandoned", "processed", "failed", "skipped")
"""Counted on the run record: the state machine counts the first three, the backfill queue's consumer the rest."""


@dataclass
class BackfillRun:
    id: str
    status: RunStatus
    created_at: str
    created_by: str
    selection: Selection
    max_concurrency: int
    updated_at: str = ""
    execution_arn: str | None = None
    selected: int | None = None
    """Stale documents written to the manifest (known once planning ends)."""
    counts: dict[str, int] = field(default_factory=dict)
    skipped_by: dict[str, int] = field(default_factory=dict)
    finished_at: str | None = None
    error: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    """Where planning stands (manifest upload, query cursor): internal, never shown."""

    def progress(self) -> dict[str, int]:
        """listed: items read from the listing or manifest; queued: handed to the backfill queue; then outcomes."""
        c = {name: int(self.counts.get(name, 0)) for name in COUNTERS}
        return {
            "listed": c["listed"],
            "queued": c["listed"] - c["not_queued"],
            "processed": c["processed"],
            "failed": c["failed"],
            "skipped": c["skipped"],
            "abandoned": c["abandoned"],
        }

    def to_public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at or self.created_at,
            "selection": self.selection.to_dict(),
            "max_concurrency": self.max_concurrency,
            "progress": self.progress(),
            "skipped_by": dict(sorted(self.skipped_by.items())),
            "finished_at": self.finished_at,
        }
        if self.selected is not None:
            out["selected"] = self.selected
        if self.error:
            out["error"] = self.error
        return out
