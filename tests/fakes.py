"""In-memory twins of AWS-backed parts, for fast unit tests.

Each twin passes the same contract suite as its DynamoDB original, so the two
cannot drift: `InMemoryRepository` that of `DynamoRepository`
(tests/test_repository_contract.py), `InMemoryRecordsStore` that of
`DynamoRecordsStore` (tests/test_records_store_contract.py).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws.metadata_gate import admit, admit_error, admit_warnings
from chalicelib.aws.records_store import (
    FINAL_STATES,
    INGESTING,
    QUEUED,
    OnFinal,
    Progress,
    Row,
    RowError,
    chunk_marker,
)
from chalicelib.aws.repository import (
    NO_FILTERS,
    Claim,
    Filters,
    Listed,
    candidate_from_entry,
    count_stats,
    document_from_item,
    item_from_document,
    pad_sequencer,
)
from chalicelib.aws.table import (
    Page,
    deadline_keys,
    doc_key,
    doc_pk,
    error_sk,
    row_sk,
    size_pk,
    summary_fields,
)
from chalicelib.errors import Conflict, StaleEvent
from chalicelib.models import BackfillRun, Candidate, Document, RunStatus, StaleSelection, Status
from chalicelib.search import search_text


class InMemoryRepository:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self.children: dict[tuple[str, str], dict[str, Any]] = {}  # (pk, sk) of items beside a document
        self._lock = threading.Lock()

    def create_pending(self, doc: Document) -> None:
        with self._lock:
            if doc.id in self._items:
                raise Conflict("A document with this id already exists")
            self._items[doc.id] = item_from_document(doc)

    def get(self, doc_id: str) -> Document | None:
        with self._lock:
            item = self._items.get(doc_id)
            return document_from_item(copy.deepcopy(item)) if item else None

    def begin_processing(self, claim: Claim) -> Document:
        with self._lock:
            item = self._items.get(claim.doc_id)
            seq = pad_sequencer(claim.obj.sequencer)
            if (item is None and claim.stale_below is not None) or (
                item is not None and not _may_begin(item, claim, seq)
            ):
                raise StaleEvent("Another attempt holds this document or this version is already done")
            if item is None:
                item = item_from_document(
                    Document(
                        id=claim.doc_id,
                        owner=claim.owner,
                        bucket=claim.obj.bucket,
                        key=claim.obj.key,
                        filename=claim.filename,
                        status=Status.PROCESSING,
                        created_at=claim.now,
                        updated_at=claim.now,
                    )
                )
                self._items[claim.doc_id] = item
            item.update(
                status=Status.PROCESSING.value,
                attempt=claim.attempt,
                lease_until=claim.now_epoch + claim.lease_seconds,
                updated_at=claim.now,
                bucket=claim.obj.bucket,
                s3_key=claim.obj.key,
                attempts=int(item.get("attempts") or 0) + 1,
            )
            if "gsi4pk" not in item:
                item.update(deadline_keys(Status.PROCESSING, claim.now_epoch + claim.lease_seconds, claim.doc_id))
            if claim.obj.etag:
                item["etag"] = claim.obj.etag
            if seq:
                item["sequencer"] = seq
            item.pop("error", None)
            event = "reprocessing" if claim.force else "processing_started"
            item.setdefault("timeline", []).append({"at": claim.now, "event": event})
            return document_from_item(copy.deepcopy(item))

    def complete(
        self,
        doc_id: str,
        attempt: str,
        metadata: dict[str, Any],
        warnings: list[str],
        now: str,
        *,
        version: int,
        content: Listed | None = None,
        text: str = "",
    ) -> str | None:
        admitted = admit(metadata)
        changes = {
            "metadata": copy.deepcopy(admitted.metadata),
            "extractor_version": version,
            "warnings": admit_warnings([*warnings, *admitted.notes]),
            "updated_at": now,
            "search": search_text(admitted.metadata, text),
            **summary_fields(admitted.metadata),
        }
        gone: tuple[str, ...] = ("error",)
        if content is not None:
            filed, unknown = content.filing(doc_id)
            changes.update(filed)
            gone += unknown
        return self._finish(doc_id, attempt, Status.PROCESSED, changes, {"at": now, "event": "processed"}, gone)

    def fail(
        self,
        doc_id: str,
        attempt: str,
        error: dict[str, str],
        warnings: list[str],
        now: str,
        *,
        version: int,
        metadata: dict[str, Any] | None = None,
    ) -> str | None:
        changes: dict[str, Any] = {"error": admit_error(error), "extractor_version": version, "updated_at": now}
        if metadata:
            admitted = admit(metadata)
            changes.update({"metadata": copy.deepcopy(admitted.metadata), **summary_fields(admitted.metadata)})
            warnings = [*warnings, *admitted.notes]
        changes["warnings"] = admit_warnings(warnings)
        event = {"at": now, "event": "failed", "detail": error.get("code", "")}
        return self._finish(doc_id, attempt, Status.FAILED, changes, event, ("gsi3pk", "gsi3sk", "checksum", "sha256"))

    def _finish(
        self,
        doc_id: str,
        attempt: str,
        status: Status,
        changes: dict[str, Any],
        event: dict[str, Any],
        gone: tuple[str, ...],
    ) -> str | None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is None or item.get("attempt") != attempt:
                raise StaleEvent("This attempt no longer holds the document")
            item.update(status=status.value, **changes)
            item.setdefault("timeline", []).append(event)
            pending = item.pop("pending_etag", None)
            for key in ("attempt", "lease_until", "gsi4pk", "gsi4sk", *gone):
                item.pop(key, None)
            return pending

    def list_for_owner(
        self, owner: str | None, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS
    ) -> Page:
        return self._query("gsi1pk", "gsi1sk", f"OWNER#{owner or '-'}", limit, start, filters)

    def list_all(self, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS) -> Page:
        return self._query("gsi2pk", "gsi2sk", "DOCS", limit, start, filters)

    def list_oldest_first(
        self, owner: str | None, everyone: bool, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS
    ) -> Page:
        pk, sk, value = ("gsi2pk", "gsi2sk", "DOCS") if everyone else ("gsi1pk", "gsi1sk", f"OWNER#{owner or '-'}")
        return self._query(pk, sk, value, limit, start, filters, ascending=True)

    def window(self, owner: str | None, everyone: bool, filters: Filters, most: int) -> tuple[list[Document], bool]:
        pk, sk, value = ("gsi2pk", "gsi2sk", "DOCS") if everyone else ("gsi1pk", "gsi1sk", f"OWNER#{owner or '-'}")
        docs = self._query(pk, sk, value, 10**9, None, filters).items
        return docs[:most], len(docs) <= most

    def _query(
        self,
        pk: str,
        sk: str,
        value: str,
        limit: int,
        start: dict[str, str] | None,
        filters: Filters,
        ascending: bool = False,
    ) -> Page:
        with self._lock:
            rows = sorted(
                (i for i in self._items.values() if i.get(pk) == value), key=lambda i: i[sk], reverse=not ascending
            )
            if start:
                rows = [r for r in rows if (r[sk] > start[sk] if ascending else r[sk] < start[sk])]
            docs = [(r, document_from_item(copy.deepcopy(r))) for r in rows]
            docs = [(r, d) for r, d in docs if filters.finds(d, r.get("search", ""))]
            page = docs[:limit]
            last = None
            if len(docs) > limit and page:
                tail = page[-1][0]
                last = {k: tail[k] for k in ("pk", "sk", pk, sk)}
            return Page([d for _, d in page], last)

    def overdue(self, kind: Status, now_epoch: int, limit: int) -> list[Document]:
        with self._lock:
            rows = sorted(
                (i for i in self._items.values() if i.get("gsi4pk") == f"DEADLINE#{kind.value}"),
                key=lambda i: i["gsi4sk"],
            )
            rows = [r for r in rows if r["gsi4sk"] < f"{now_epoch:012d}"][:limit]
            return [document_from_item(copy.deepcopy(r)) for r in rows]

    def expire_pending(self, doc_id: str, error: dict[str, str], now: str) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is None or item.get("status") != Status.PENDING.value:
                raise StaleEvent("The document is no longer pending")
            item.update(status=Status.FAILED.value, error=dict(error), updated_at=now)
            item.setdefault("timeline", []).append({"at": now, "event": "failed", "detail": error.get("code", "")})
            item.pop("gsi4pk", None)
            item.pop("gsi4sk", None)

    def postpone(self, doc_id: str, kind: Status, until_epoch: int) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is not None and "gsi4pk" in item and item.get("status") == kind.value:
                item.update(deadline_keys(kind, until_epoch, doc_id))

    def release(self, doc_id: str, attempt: str, forget_pending: bool = False) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is not None and item.get("attempt") == attempt:
                item.update(lease_until=0, gsi4sk=deadline_keys(Status.PROCESSING, 0, doc_id)["gsi4sk"])
                if forget_pending:
                    item.pop("pending_etag", None)

    def note_pending(self, doc_id: str, attempt: str, etag: str) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is None or item.get("attempt") != attempt or item.get("status") != Status.PROCESSING.value:
                raise StaleEvent("That attempt is no longer running")
            item["pending_etag"] = etag

    def find_candidates(self, owner: str | None, size: int) -> list[Candidate]:
        with self._lock:
            rows = sorted((i for i in self._items.values() if i.get("gsi3pk") == size_pk(owner, size)),
                          key=lambda i: i["gsi3sk"])  # fmt: skip
            return [candidate_from_entry(copy.deepcopy(r), size) for r in rows]

    def set_sha256(self, doc_id: str, sha256: str) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is not None and "gsi3pk" in item and isinstance(item.get("metadata"), dict):
                item["sha256"] = sha256
                item["metadata"]["sha256"] = sha256

    def delete(self, doc_id: str) -> int:
        with self._lock:
            gone = self._items.pop(doc_id, None)
            extra = [k for k in self.children if k[0] == doc_key(doc_id)["pk"]]
            for k in extra:
                del self.children[k]
            return (1 if gone else 0) + len(extra)

    def add_event(self, doc_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            item = self._items.get(doc_id)
            if item is not None:
                item.setdefault("timeline", []).append(dict(event))

    def stats(self, owner: str | None, everyone: bool) -> dict[str, Any]:
        with self._lock:
            rows = [i for i in self._items.values() if everyone or i.get("gsi1pk") == f"OWNER#{owner or '-'}"]
            return count_stats((r["status"], (r.get("metadata") or {}).get("family")) for r in rows)

    def get_many(self, doc_ids: list[str]) -> dict[str, Document]:
        with self._lock:
            return {d: document_from_item(copy.deepcopy(self._items[d])) for d in doc_ids if d in self._items}

    def stale_ids(self, selection: StaleSelection, start: dict[str, str] | None, page_size: int = 1000) -> Page:
        filters = Filters(selection.status, selection.family, selection.created_from, selection.created_to)
        with self._lock:
            rows = sorted((i for i in self._items.values() if i.get("gsi2pk") == "DOCS"), key=lambda i: i["gsi2sk"])
            rows.reverse()
            if start:
                rows = [r for r in rows if r["gsi2sk"] < start["gsi2sk"]]
            page, rest = rows[:page_size], rows[page_size:]
            ids = [r["id"] for r in page if _stale(document_from_item(copy.deepcopy(r)), selection, filters)]
            last = {k: page[-1][k] for k in ("pk", "sk", "gsi2pk", "gsi2sk")} if rest and page else None
            return Page(ids, last)


def _stale(doc: Document, selection: StaleSelection, filters: Filters) -> bool:
    final = doc.status in (Status.PROCESSED, Status.FAILED)
    older = doc.extractor_version is None or doc.extractor_version < selection.below
    expired = (doc.error or {}).get("code") == "expired"
    return final and older and not expired and filters.matches(doc)


def _may_begin(item: dict[str, Any], claim: Claim, seq: str | None) -> bool:
    free = item.get("status") != Status.PROCESSING.value or item.get("lease_until", 0) < claim.now_epoch
    if not free or item.get("status") == Status.DELETING.value:
        return False
    if claim.stale_below is not None:
        final = item.get("status") in (Status.PROCESSED.value, Status.FAILED.value)
        version = item.get("extractor_version")
        return final and (version is None or int(version) < claim.stale_below)
    if claim.force:
        return True
    etag_ok = (
        claim.obj.etag is None
        or "etag" not in item
        or item["etag"] != claim.obj.etag
        or item.get("status") in (Status.PENDING.value, Status.PROCESSING.value)
    )
    seq_ok = seq is None or "sequencer" not in item or item["sequencer"] <= seq
    return etag_ok and seq_ok


class InMemoryStorage:
    """S3Storage's twin over a dict of (bucket, key) -> bytes.

    Like S3, it keeps a full-object checksum of every object (CRC32, as an SDK
    upload sends it) unless put with `checksum=False` (as the emulator stores a
    browser's POST); `hashed` lists the objects read whole for a sha256.
    """

    def __init__(self, hash_max_bytes: int = 1 << 40) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.unchecksummed: set[tuple[str, str]] = set()
        self.hash_max_bytes = hash_max_bytes
        self.hashed: list[tuple[str, str]] = []

    def put(self, bucket: str, key: str, data: bytes, checksum: bool = True) -> None:
        self.objects[(bucket, key)] = data
        if checksum:
            self.unchecksummed.discard((bucket, key))
        else:
            self.unchecksummed.add((bucket, key))

    def head(self, bucket: str, key: str, checksum: bool = False) -> Any:
        import base64
        import zlib

        from chalicelib.aws.storage import ObjectInfo, stored_checksum
        from chalicelib.errors import ExtractionFailed

        data = self.objects.get((bucket, key))
        if data is None:
            raise ExtractionFailed("The object no longer exists", code="missing")
        answer = {}
        if checksum and (bucket, key) not in self.unchecksummed:
            crc = zlib.crc32(data).to_bytes(4, "big")
            answer = {"ChecksumCRC32": base64.b64encode(crc).decode(), "ChecksumType": "FULL_OBJECT"}
        return ObjectInfo(
            size=len(data),
            etag=_etag(data),
            content_type=None,
            version_id=None,
            metadata={},
            checksum=stored_checksum(answer),
        )

    def reader(self, bucket: str, key: str, size: int, etag: str | None = None) -> Any:
        from chalicelib.extraction.reader import bytes_reader

        return bytes_reader(self.objects[(bucket, key)])

    def put_rendition(self, bucket: str, key: str, put_args: dict[str, Any]) -> None:
        self.objects[(bucket, key)] = put_args["Body"]

    def sha256(self, bucket: str, key: str, size: int, etag: str | None = None) -> str | None:
        import hashlib

        if size > self.hash_max_bytes:
            return None
        self.hashed.append((bucket, key))
        return hashlib.sha256(self.objects[(bucket, key)]).hexdigest()


def _etag(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class InMemoryRecordsStore:
    """The records store in memory (tests/test_records_store_contract.py holds it to DynamoDB's behaviour)."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[tuple[str, int], Row] = field(default_factory=dict)
    errors: dict[tuple[str, int], RowError] = field(default_factory=dict)
    markers: set[tuple[str, str, str]] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)
    row_writes: int = 0
    on_final: OnFinal | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_document(self, doc_id: str) -> None:
        self.documents.add(doc_id)

    def begin(self, doc_id: str, run: str) -> None:
        with self._lock:
            if doc_id not in self.documents:
                raise KeyError(doc_id)
            self.records[doc_id] = {"state": QUEUED, "run": run, "written": 0, "failed": 0}

    def progress(self, doc_id: str) -> Progress | None:
        with self._lock:
            rec = self.records.get(doc_id)
            return Progress(**rec) if rec else None

    def count_chunk(self, doc_id: str, run: str, chunk: int, written: int, failed: int) -> bool:
        with self._lock:
            rec = self.records.get(doc_id)
            key = (doc_id, run, chunk_marker(chunk))
            if rec is None:
                raise KeyError(doc_id)
            if key in self.markers or rec["run"] != run or rec["state"] not in (QUEUED, INGESTING):
                return False
            self.markers.add(key)
            rec.update(state=INGESTING, written=rec["written"] + written, failed=rec["failed"] + failed)
            return True

    def is_counted(self, doc_id: str, run: str, chunk: int) -> bool:
        with self._lock:
            return (doc_id, run, chunk_marker(chunk)) in self.markers

    def set_total(self, doc_id: str, run: str, total: int, error: dict[str, str] | None = None) -> None:
        with self._lock:
            rec = self.records.get(doc_id)
            if rec and rec["run"] == run and rec["state"] in (QUEUED, INGESTING):
                rec["total"] = total
                if error:
                    rec["error"] = dict(error)

    def try_complete(self, doc_id: str) -> str | None:
        with self._lock:
            rec = self.records.get(doc_id)
            final = Progress(**rec).final_state() if rec else None
            transitioned = rec is not None and final is not None and rec["state"] not in FINAL_STATES
            if rec is not None and final is not None:
                rec["state"] = final
            progress = Progress(**rec) if rec is not None else None
        if transitioned and self.on_final is not None and progress is not None:
            self.on_final(doc_id, progress)
        return final

    def has_marker(self, doc_id: str, run: str, name: str) -> bool:
        with self._lock:
            return (doc_id, run, name) in self.markers

    def put_marker(self, doc_id: str, run: str, name: str) -> None:
        with self._lock:
            self.markers.add((doc_id, run, name))

    def forget(self, doc_id: str, numbers: list[int]) -> None:
        with self._lock:
            for n in numbers:
                self.rows.pop((doc_id, n), None)
                self.errors.pop((doc_id, n), None)

    def write(self, doc_id: str, rows: list[Row], errors: list[RowError]) -> list[RowError]:
        with self._lock:
            for row in rows:
                self.rows[(doc_id, row.number)] = row
                self.row_writes += 1
            for error in errors:
                self.errors[(doc_id, error.number)] = error
        return []

    def rows_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[Row]:
        numbers = sorted(n for d, n in self.rows if d == doc_id)
        after = int(start["sk"].split("#")[1]) if start else 0
        chosen = [n for n in numbers if n > after][: limit + 1]
        more = len(chosen) > limit
        chosen = chosen[:limit]
        last = {"pk": doc_pk(doc_id), "sk": row_sk(chosen[-1])} if more else None
        return Page([self.rows[(doc_id, n)] for n in chosen], last)

    def errors_page(self, doc_id: str, limit: int, start: dict[str, str] | None) -> Page[RowError]:
        numbers = sorted(n for d, n in self.errors if d == doc_id)
        after = int(start["sk"].split("#")[1]) if start else 0
        chosen = [n for n in numbers if n > after][: limit + 1]
        more = len(chosen) > limit
        chosen = chosen[:limit]
        last = {"pk": doc_pk(doc_id), "sk": error_sk(chosen[-1])} if more else None
        return Page([self.errors[(doc_id, n)] for n in chosen], last)


class InMemoryBackfillStore:
    """BackfillStore's twin (tests/test_backfill_store_contract.py holds both to one contract)."""

    def __init__(self) -> None:
        self.runs: dict[str, BackfillRun] = {}
        self.parts: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def create(self, run: BackfillRun) -> None:
        with self._lock:
            if run.id in self.runs:
                raise Conflict("A backfill with this id already exists")
            self.runs[run.id] = copy.deepcopy(run)
            self.runs[run.id].updated_at = run.created_at

    def get(self, run_id: str) -> BackfillRun | None:
        with self._lock:
            run = self.runs.get(run_id)
            return copy.deepcopy(run) if run else None

    def status(self, run_id: str) -> RunStatus | None:
        run = self.get(run_id)
        return run.status if run else None

    def page(self, limit: int, start: dict[str, str] | None) -> Page:
        with self._lock:
            runs = sorted(self.runs.values(), key=lambda r: (r.created_at, r.id), reverse=True)
            if start:
                runs = [r for r in runs if f"{r.created_at}#{r.id}" < start["gsi2sk"]]
            page, more = runs[:limit], len(runs) > limit
            last = None
            if more and page:
                tail = page[-1]
                last = {"pk": f"BACKFILL#{tail.id}", "sk": "RUN", "gsi2pk": "BACKFILLS"}
                last["gsi2sk"] = f"{tail.created_at}#{tail.id}"
            return Page([copy.deepcopy(r) for r in page], last)

    def _move(self, run_id: str, expected: tuple[RunStatus, ...]) -> BackfillRun:
        run = self.runs.get(run_id)
        if run is None or run.status not in expected:
            raise StaleEvent("The backfill is no longer in the expected state")
        return run

    def save_plan(self, run_id: str, plan: dict[str, Any], now: str) -> None:
        with self._lock:
            run = self._move(run_id, (RunStatus.PLANNING,))
            run.plan, run.updated_at = copy.deepcopy(plan), now

    def begin(self, run_id: str, execution_arn: str, selected: int | None, now: str) -> None:
        with self._lock:
            run = self._move(run_id, (RunStatus.PLANNING,))
            run.status, run.execution_arn, run.updated_at = RunStatus.RUNNING, execution_arn, now
            if selected is not None:
                run.selected = selected

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        now: str,
        expected: tuple[RunStatus, ...],
        error: str | None = None,
        selected: int | None = None,
    ) -> None:
        with self._lock:
            run = self._move(run_id, expected)
            run.status, run.finished_at, run.updated_at = status, now, now
            if error is not None:
                run.error = error
            if selected is not None:
                run.selected = selected

    def count_part(self, run_id: str, part_id: str, counts: dict[str, int], skipped_by: dict[str, int]) -> bool:
        with self._lock:
            if (run_id, part_id) in self.parts:
                return False
            run = self.runs.get(run_id)
            if run is None:
                raise StaleEvent("No such backfill")  # the DynamoDB transaction's condition fails likewise
            self.parts.add((run_id, part_id))
            for name, n in counts.items():
                run.counts[name] = run.counts.get(name, 0) + n
            for reason, n in skipped_by.items():
                run.skipped_by[reason] = run.skipped_by.get(reason, 0) + n
            return True

    def add(self, run_id: str, counter: str, n: int) -> None:
        """What the state machine's counting states do (ADD on the run record)."""
        with self._lock:
            run = self.runs[run_id]
            run.counts[counter] = run.counts.get(counter, 0) + n
