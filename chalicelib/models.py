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

    @property
    def final(self) -> bool:
        return self in (Status.PROCESSED, Status.FAILED)


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
