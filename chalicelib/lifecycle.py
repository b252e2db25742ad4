"""docpipe's own lifecycle events on EventBridge, for other systems to subscribe to.

Schema version 1 (source "docpipe"; see docs/events.md):
  detail-type DocumentProcessed | DocumentFailed | RecordsIngested
  detail {"schema_version": "1", "document": {id, owner, filename, key, status,
          mime_type, family, size, checksum, sha256, duplicate_of, error}, "records": {...}}
          (checksum: S3's stored checksum, where S3 keeps one; sha256 only where it was computed)
Publishing never fails the file's processing: botocore retries throttling and
5xx (standard mode), and a final failure is logged with the document id.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.aws.bus import EventBus
from chalicelib.contracts import (
    DOCUMENT_FAILED,
    DOCUMENT_PROCESSED,
    LIFECYCLE_SCHEMA_VERSION,
    LIFECYCLE_SOURCE,
    RECORDS_INGESTED,
)
from chalicelib.models import Document

log = logging.getLogger("docpipe.lifecycle")


def document_detail(
    doc: Document, metadata: dict[str, Any] | None = None, error: dict[str, str] | None = None
) -> dict[str, Any]:
    meta = metadata if metadata is not None else doc.metadata
    out: dict[str, Any] = {
        "id": doc.id,
        "owner": doc.owner,
        "filename": doc.filename,
        "key": doc.key,
        "status": "FAILED" if error else "PROCESSED",
    }
    for name in ("mime_type", "family", "size", "checksum", "sha256", "duplicate_of"):
        if meta.get(name) is not None:
            out[name] = meta[name]
    if error:
        out["error"] = error
    return out


class Lifecycle:
    def __init__(self, bus: EventBus | None) -> None:
        self._bus = bus

    def processed(self, doc: Document, metadata: dict[str, Any]) -> bool:
        return self._publish(DOCUMENT_PROCESSED, {"document": document_detail(doc, metadata)}, doc.id)

    def failed(self, doc: Document, error: dict[str, str]) -> bool:
        return self._publish(DOCUMENT_FAILED, {"document": document_detail(doc, error=error)}, doc.id)

    def records_ingested(self, doc: Document, records: dict[str, Any]) -> bool:
        return self._publish(RECORDS_INGESTED, {"document": document_detail(doc), "records": records}, doc.id)

    def _publish(self, detail_type: str, detail: dict[str, Any], doc_id: str) -> bool:
        if self._bus is None:
            return False
        try:
            self._bus.put(LIFECYCLE_SOURCE, detail_type, {"schema_version": LIFECYCLE_SCHEMA_VERSION, **detail})
        except Exception:
            log.exception("could not publish %s", detail_type, extra={"doc_id": doc_id})
            return False
        return True
