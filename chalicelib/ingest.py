"""The S3-event use case: an object arrived, learn what it is, record it.

Each object version is claimed with a conditional write (duplicates and stale
events are dropped there), read through ranged GETs, extracted, and finished
as PROCESSED or FAILED with a reason. Nothing here raises for a bad file;
only an unreachable table raises, so that Lambda retries the event.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as ConnectionLost

from chalicelib import observability
from chalicelib.aws.repository import Claim, Listed, Repository
from chalicelib.aws.storage import UNLINKABLE_WARNING, S3Storage, linkable, rendition_key, text_key
from chalicelib.config import Settings
from chalicelib.duplicates import DuplicateCheck, checksum_field
from chalicelib.errors import PLATFORM_CODES, ExtractionFailed, StaleEvent, TransientError
from chalicelib.extraction import bounds
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.sandbox import Session
from chalicelib.extraction.text import Text, read_text
from chalicelib.extraction.text import put_object_args as text_object
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.lifecycle import Lifecycle
from chalicelib.models import Content, Document, ObjectRef, Status, utcnow
from chalicelib.search import SEARCH_CHARS

log = logging.getLogger("docpipe.ingest")

MAX_FOLLOW_UPS = 3
_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "InternalServerError",
    }
)
_DROPPED_NAMESPACE = uuid.UUID("6f1c4a52-3d1e-4b8e-9a57-5b2d0c1f9e11")
_API_KEY = re.compile(r"^(?P<owner>[^/]+)/(?P<doc>[0-9a-f]{32})/(?P<name>[^/]+)$")
# Cognito subs are UUIDs: a file dropped under uploads/<sub>/ belongs to that user.
_OWNER_PREFIX = re.compile(r"^(?P<owner>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.")


@dataclass(frozen=True)
class Outcome:
    doc_id: str
    status: str  # PROCESSED, FAILED or SKIPPED
    reason: str | None = None


def dropped_document_id(bucket: str, key: str) -> str:
    """Files dropped straight into S3 get an id derived from where they landed."""
    return uuid.uuid5(_DROPPED_NAMESPACE, f"s3://{bucket}/{key}").hex


def document_id_for(bucket: str, key: str, uploads_prefix: str) -> str:
    """The id an object's document has, if it has one (what `IngestService._identify` finds, without a read)."""
    match = _API_KEY.match(key[len(uploads_prefix) :]) if key.startswith(uploads_prefix) else None
    return match["doc"] if match else dropped_document_id(bucket, key)


def objects_from_s3_event(event: dict[str, Any]) -> list[ObjectRef]:
    """Every record of a Lambda S3 event (keys arrive URL-encoded, '+' for space)."""
    refs = []
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        obj = s3.get("object", {})
        if "key" not in obj or "bucket" not in s3:
            continue
        refs.append(
            ObjectRef(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                size=obj.get("size"),
                etag=obj.get("eTag"),
                version_id=obj.get("versionId"),
                sequencer=obj.get("sequencer"),
            )
        )
    return refs


def objects_from_eventbridge(event: dict[str, Any]) -> list[ObjectRef]:
    """The object of an S3 "Object Created" EventBridge event (keys URL-encoded, as in notifications)."""
    detail = event.get("detail") or {}
    obj, bucket = detail.get("object") or {}, detail.get("bucket") or {}
    if not isinstance(obj.get("key"), str) or not isinstance(bucket.get("name"), str):
        return []
    etag = obj.get("etag") or obj.get("eTag")
    return [
        ObjectRef(
            bucket=bucket["name"],
            key=unquote_plus(obj["key"]),
            size=obj.get("size"),
            etag=str(etag).strip('"') if etag else None,
            version_id=obj.get("version-id"),
            sequencer=obj.get("sequencer"),
        )
    ]


class IngestService:
    def __init__(
        self,
        repository: Repository,
        storage: S3Storage,
        settings: Settings,
        lifecycle: Lifecycle | None = None,
        records: Callable[[], Any] | None = None,
        requeue: Callable[[str], None] | None = None,
    ) -> None:
        self._repo = repository
        self._storage = storage
        self._settings = settings
        self._lifecycle = lifecycle or Lifecycle(None)
        self._records = records  # the CSV fan-out, created only when a table arrives
        self._requeue_hook = requeue  # asks for a later run (ReprocessRequested) when this one has no time left
        self._duplicates = DuplicateCheck(repository, storage)

    def process(
        self,
        obj: ObjectRef,
        force: bool = False,
        deadline: float | None = None,
        follow: int = 0,
        stale_below: int | None = None,
    ) -> Outcome:
        """Claim, read, extract and record one object version.

        With `stale_below`, a re-extraction: the claim holds only for an
        existing final document recorded with an older extractor version.

        Raises `TransientError` (after giving the claim back) when a dependency
        kept failing, so that Lambda redelivers the event; every other outcome
        is recorded on the document.
        """
        if not obj.key.startswith(self._settings.uploads_prefix):
            log.warning("ignoring object outside the uploads prefix", extra={"key": obj.key})
            return Outcome("", "SKIPPED", "outside_prefix")
        deadline = time.monotonic() + 240 if deadline is None else deadline
        doc_id, filename, owner = self._identify(obj)
        claim = self._claim(doc_id, obj, filename, owner, force, stale_below)
        try:
            doc = self._repo.begin_processing(claim)
        except StaleEvent:
            if self._hand_to_running_attempt(doc_id, obj):
                return Outcome(doc_id, "SKIPPED", "queued_behind_running_attempt")
            claim = self._claim(doc_id, obj, filename, owner, force, stale_below)
            try:  # the running attempt may have finished in between: claim once more
                doc = self._repo.begin_processing(claim)
            except StaleEvent:
                log.info("skipping duplicate or stale event", extra={"doc_id": doc_id, "key": obj.key})
                return Outcome(doc_id, "SKIPPED", "stale_event")
        outcome, pending = self._run(doc, claim, deadline)
        return self._follow_newer(doc, outcome, pending, deadline, follow)

    def _claim(
        self, doc_id: str, obj: ObjectRef, filename: str, owner: str | None, force: bool, stale_below: int | None = None
    ) -> Claim:
        return Claim(
            doc_id=doc_id,
            obj=obj,
            filename=filename,
            attempt=uuid.uuid4().hex,
            now=utcnow(),
            now_epoch=int(time.time()),
            lease_seconds=self._settings.lease_seconds,
            force=force,
            owner=owner,
            stale_below=stale_below,
        )

    def _hand_to_running_attempt(self, doc_id: str, obj: ObjectRef) -> bool:
        """A newer version arrived while an attempt runs: note it, and that attempt processes it when done."""
        current = self._repo.get(doc_id)
        if current is None or current.status is not Status.PROCESSING or current.attempt is None:
            return False
        if obj.etag is None or obj.etag == current.etag:
            return False
        try:
            self._repo.note_pending(doc_id, current.attempt, obj.etag)
        except StaleEvent:
            return False
        log.info("a newer version waits for the running attempt", extra={"doc_id": doc_id})
        return True

    def _follow_newer(
        self, doc: Document, outcome: Outcome, pending: str | None, deadline: float, follow: int
    ) -> Outcome:
        """After an attempt: process the version that replaced the object meanwhile, if any.

        `pending` is the version noted while the attempt ran, taken by the
        attempt's finishing write.
        """
        changed = outcome.reason == "changed"
        if not (changed or pending):
            return outcome
        if follow >= MAX_FOLLOW_UPS or time.monotonic() > deadline - 30:
            self._requeue(doc.id)
            return Outcome(doc.id, "SKIPPED", "newer_version_requeued")
        newest = self._current_version(doc)
        if newest is None:
            return outcome
        return self.process(newest, force=True, deadline=deadline, follow=follow + 1)

    def _current_version(self, doc: Document) -> ObjectRef | None:
        """The object as it is stored now, or None when it is gone."""
        try:
            head = self._storage.head(doc.bucket, doc.key)
        except ExtractionFailed:
            return None
        return ObjectRef(doc.bucket, doc.key, head.size, head.etag, head.version_id)

    def _requeue(self, doc_id: str) -> None:
        if self._requeue_hook is not None:
            self._requeue_hook(doc_id)

    def _identify(self, obj: ObjectRef) -> tuple[str, str, str | None]:
        """(document id, file name, owner): an API upload's own record, else a dropped file.

        A dropped file is owned by the user whose id prefixes its key (S3 write
        access to that prefix is the proof); anywhere else it has no owner and
        only admins see it.
        """
        rest = obj.key[len(self._settings.uploads_prefix) :]
        match = _API_KEY.match(rest)
        if match:
            known = self._repo.get(match["doc"])
            if known is not None and known.key == obj.key and known.owner == match["owner"]:
                return known.id, known.filename, known.owner
        owned = _OWNER_PREFIX.match(rest)
        filename = obj.key.rsplit("/", 1)[-1] or obj.key
        return dropped_document_id(obj.bucket, obj.key), filename, owned["owner"] if owned else None

    def reprocess(self, doc_id: str, version: str | None, deadline: float | None = None) -> Outcome:
        """Run extraction again for a document, if nothing happened to it since the request."""
        doc = self._repo.get(doc_id)
        if doc is None or (version is not None and doc.updated_at != version):
            log.info("skipping a reprocess request that is no longer current", extra={"doc_id": doc_id})
            return Outcome(doc_id, "SKIPPED", "stale_request")
        ref = self._current_version(doc) or ObjectRef(doc.bucket, doc.key)  # gone: the run records it missing
        return self.process(ref, force=True, deadline=deadline)

    def reextract(self, doc: Document, below: int, deadline: float | None = None) -> Outcome:
        """Extract a final document again if it still records an extractor version below `below`.

        The condition is part of the claim, so two overlapping backfills (or a
        backfill and a live upload) never extract the same document twice.
        """
        ref = self._current_version(doc) or ObjectRef(doc.bucket, doc.key)  # gone: the run records it missing
        return self.process(ref, force=True, deadline=deadline, stale_below=below)

    def _run(self, doc: Document, claim: Claim, deadline: float) -> tuple[Outcome, str | None]:
        """The attempt's outcome, and the version noted while it ran (if any)."""
        # one worker for the file's reads: extraction, rendition, text; the doc id on every log line meanwhile
        with Session() as session, observability.invocation(doc_id=doc.id):
            return self._run_in(doc, claim, deadline, session)

    def _run_in(self, doc: Document, claim: Claim, deadline: float, session: Session) -> tuple[Outcome, str | None]:
        started = time.monotonic()
        warnings: list[str] = []
        error: dict[str, str] | None = None
        learned: dict[str, Any] | None = None  # what extraction knew before it failed
        try:
            try:
                metadata, warnings, reader, content = self._extract(doc, session)
            except ExtractionFailed as exc:
                if exc.code == "missing" and _first_sight(doc):
                    # announced but gone before it could be read: nothing to track
                    self._repo.delete(doc.id)
                    return Outcome(doc.id, "SKIPPED", "missing"), None
                if exc.code == "changed" or exc.code in PLATFORM_CODES:
                    raise
                error, learned = exc.to_dict(), exc.metadata
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception("unexpected error while processing", extra={"doc_id": doc.id})
                error = {"code": "internal", "message": "Unexpected error while processing the file"}
            if error is not None:
                now = utcnow()
                pending = self._repo.fail(
                    doc.id, claim.attempt, error, warnings, now, version=EXTRACTOR_VERSION, metadata=learned
                )
                log.info("document failed", extra={"doc_id": doc.id, "reason": error["code"]})
                self._lifecycle.failed(doc, error)
                observability.file_failed((learned or doc.metadata).get("family"), error["code"])
                return Outcome(doc.id, "FAILED", error["code"]), pending
            pending = self._finish(doc, claim, metadata, warnings, reader, session, content)
        except StaleEvent:
            # another attempt took the document over (this one outlived its lease): it reports
            log.warning("attempt superseded; its result is dropped", extra={"doc_id": doc.id})
            return Outcome(doc.id, "SKIPPED", "superseded"), None
        except ExtractionFailed as exc:
            changed = exc.code == "changed"  # the object as it is now is processed next: forget what was noted
            self._repo.release(doc.id, claim.attempt, forget_pending=changed)
            if changed:
                return Outcome(doc.id, "SKIPPED", "changed"), None
            raise TransientError(exc.message) from exc
        except Exception as exc:
            # give the claim back whatever failed, so the redelivered event (or the sweeper) may claim at once
            self._repo.release(doc.id, claim.attempt)
            if not is_transient(exc):
                log.exception("unexpected failure while finishing; the event will be retried", extra={"doc_id": doc.id})
                raise
            log.warning("transient failure; the event will be retried", extra={"doc_id": doc.id})
            raise TransientError(f"{type(exc).__name__} while processing") from exc
        self._lifecycle.processed(doc, metadata)
        observability.file_processed(metadata.get("family"), (time.monotonic() - started) * 1000)
        if metadata.get("family") == "tabular":
            self._fan_out(doc, metadata, deadline)
        return Outcome(doc.id, "PROCESSED"), pending

    def _finish(
        self,
        doc: Document,
        claim: Claim,
        metadata: dict[str, Any],
        warnings: list[str],
        reader: RangedReader,
        session: Session,
        content: Content,
    ) -> str | None:
        """Duplicates, text and rendition, then one conditional write; returns the version noted meanwhile."""
        duplicate, content = self._duplicates.find(doc, content, warnings)
        if duplicate:
            metadata["duplicate_of"] = duplicate
        if content.sha256:
            metadata["sha256"] = content.sha256
        now = utcnow()  # the page says the document was updated when it becomes PROCESSED
        found = self._render(doc, metadata, warnings, reader, session, now)
        text = found.text[:SEARCH_CHARS] if found is not None else ""  # the start of the text becomes searchable
        listed = Listed(doc.owner, doc.created_at, content)
        pending = self._repo.complete(
            doc.id, claim.attempt, metadata, warnings, now, version=EXTRACTOR_VERSION, content=listed, text=text
        )
        log.info("document processed", extra={"doc_id": doc.id, "family": metadata.get("family")})
        return pending

    def _fan_out(self, doc: Document, metadata: dict[str, Any], deadline: float) -> None:
        """Send a table's rows to the records queue (progress is tracked on the document as `records`)."""
        if self._records is None:
            return
        tab = metadata.get("mime_type") == "text/tab-separated-values" or doc.filename.lower().endswith(".tsv")
        size = int(metadata.get("size") or 0)
        try:
            self._records().start(doc.id, doc.bucket, doc.key, size, doc.etag, deadline, prefer_tab=tab)
        except Exception:
            log.exception("records ingestion could not start", extra={"doc_id": doc.id})
            self._repo.add_event(doc.id, {"at": utcnow(), "event": "records_failed"})

    def _render(
        self,
        doc: Document,
        metadata: dict[str, Any],
        warnings: list[str],
        reader: RangedReader,
        session: Session,
        now: str,
    ) -> Text | None:
        """Write the text and the HTML rendition; a failure here is a warning, never a failed document.

        Both read the file in the session it was extracted in (one worker, one
        cache), so the object is fetched once for all three.
        """
        found = self._text(doc, metadata, warnings, reader, session)
        try:
            from chalicelib.extraction.rendition import render

            public = {**doc.to_public(), "status": "PROCESSED", "updated_at": now, "metadata": metadata}
            public["warnings"] = list(warnings)
            limits = bounds.Limits.for_rendition(self._settings)
            page = render(public, reader, limits=limits, sandbox=self._settings.sandbox, session=session, text=found)
            key = rendition_key(doc.id, self._settings.renditions_prefix, self._settings.uploads_prefix)
            self._storage.put_rendition(doc.bucket, key, page.put_object_args())
            warnings.extend(page.warnings)
            metadata.setdefault("details", {})["rendition"] = True
        except Exception:
            log.exception("rendition failed", extra={"doc_id": doc.id})
            warnings.append("rendition: could not be written")
        return found

    def _text(
        self, doc: Document, metadata: dict[str, Any], warnings: list[str], reader: RangedReader, session: Session
    ) -> Text | None:
        """Store the document's plain text beside its rendition; note its language and word count."""
        limits = bounds.Limits.for_extraction(self._settings)
        found, problems = read_text(reader, metadata, limits, self._settings.sandbox, session)
        warnings.extend(problems)
        if found is None:
            return None
        key = text_key(doc.id, self._settings.renditions_prefix, self._settings.uploads_prefix)
        try:
            self._storage.put_rendition(doc.bucket, key, text_object(found))
        except Exception:
            log.exception("text could not be stored", extra={"doc_id": doc.id})
            warnings.append("text: could not be written")
            return found
        if found.language and not metadata.get("language"):
            metadata["language"] = found.language
        metadata.setdefault("word_count", found.word_count)
        metadata.setdefault("details", {})["text"] = {
            "bytes": found.size,
            "truncated": found.truncated,
            "language": found.language,
        }
        return found

    def _extract(self, doc: Document, session: Session) -> tuple[dict[str, Any], list[str], RangedReader, Content]:
        """Metadata, warnings, the reader (for text and rendition) and what is known of the bytes.

        The object is read only where the extractor looks (ranged GETs); its
        sha256 comes from the extraction when that read it whole, else later
        and only if a duplicate must be ruled out (`chalicelib.duplicates`).
        """
        from chalicelib.extraction.extract import extract

        info = self._storage.head(doc.bucket, doc.key, checksum=True)
        self._check_declared(doc, info.size)
        reader = self._storage.reader(doc.bucket, doc.key, info.size, info.etag)
        limits = bounds.Limits.for_extraction(self._settings)
        result = extract(
            reader, doc.filename, self._settings.head_bytes, limits, self._settings.sandbox, session.on(reader)
        )
        metadata = result.metadata
        if info.checksum:
            metadata["checksum"] = checksum_field(info.checksum)
        if doc.declared_type and doc.declared_type != metadata.get("mime_type"):
            metadata["declared_type_mismatch"] = True
        metadata.setdefault("details", {})["bytes_read"] = reader.bytes_fetched
        if not linkable(doc.key):
            result.warnings.append(UNLINKABLE_WARNING)
        return metadata, result.warnings, reader, Content(info.size, info.checksum, metadata.get("sha256"))

    def _check_declared(self, doc: Document, size: int) -> None:
        if doc.declared_size is not None and size != doc.declared_size:
            raise ExtractionFailed(
                f"The uploaded object is {size} bytes but {doc.declared_size} were declared", code="size_mismatch"
            )
        if size > self._settings.max_upload_bytes:  # uploads, files dropped for a user and unowned drops alike
            raise ExtractionFailed(
                f"The object is larger than the {self._settings.max_upload_bytes}-byte limit", code="too_large"
            )


def _first_sight(doc: Document) -> bool:
    """True when this attempt created the record (no upload was requested, nothing happened before)."""
    return doc.declared_size is None and [e.get("event") for e in doc.timeline] == ["processing_started"]


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx, timeouts and dropped connections: worth a retry, never a failed document."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _THROTTLING or int(status or 0) >= 500
    return isinstance(exc, (ConnectionLost, HTTPClientError, TimeoutError))
