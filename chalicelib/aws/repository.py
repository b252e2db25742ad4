"""Documents in one DynamoDB table, with guarded state transitions.

The key scheme and its indexes are in `table`: a document is pk = DOC#<id>,
sk = DOC, listed newest first through by_owner (a user's documents) and
all_docs (the admin view), compared for duplicates through by_size, and swept
through by_deadline; the items that belong to it share its partition and are
deleted with it.

Every transition is a conditional write: processing starts only when no live
attempt holds the document (or its lease ran out), never for an object version
already finished, never for an event older than the one already seen; it ends
only if the attempt token still matches. That is what makes duplicate and
out-of-order S3 deliveries harmless.

What a document stores passes `metadata_gate` first (keys, sizes, numbers
DynamoDB holds and reads back). Reads survive an item written before that, or
by hand: a page that holds an item botocore cannot read is read key by key and
that item left out with a logged error; `get` of such a document answers it
without its metadata, so it can still be seen and deleted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.aws.batch_write import batch_write, delete_requests
from chalicelib.aws.metadata_gate import admit, admit_error, admit_warnings
from chalicelib.aws.table import (
    ALL_DOCS,
    BY_DEADLINE,
    BY_OWNER,
    BY_SIZE,
    NO_OWNER,
    SUMMARY,
    Page,
    conditional_failed,
    cursor_key,
    deadline_keys,
    deadline_pk,
    doc_key,
    doc_pk,
    dump,
    from_dynamo_value,
    index_keys,
    load,
    load_value,
    owner_pk,
    size_keys,
    size_pk,
    summary_fields,
    to_dynamo_value,
)
from chalicelib.errors import Conflict, StaleEvent
from chalicelib.models import Candidate, Content, Document, ObjectRef, Status
from chalicelib.search import name_key, search_text

log = logging.getLogger("docpipe.repository")

UNREADABLE_METADATA = "metadata: the stored metadata of this document cannot be read; reprocess it to rebuild it"
DOCUMENT_ATTRIBUTES = [
    "id",
    "owner",
    "bucket",
    "s3_key",
    "filename",
    "status",
    "created_at",
    "updated_at",
    "declared_size",
    "declared_type",
    "error",
    "warnings",
    "records",
    "timeline",
    "etag",
    "attempt",
    "attempts",
    "lease_until",
    "extractor_version",
    *SUMMARY,
]
"""Every attribute `document_from_item` reads but `metadata`: what a document without its metadata is read from."""

MAX_FILTER_ROUNDS = 10
MAX_CANDIDATES = 50
SEARCH_ROUNDS = 5
SEARCH_ROUND_ITEMS = 200
"""A search (`q`) reads at most SEARCH_ROUNDS x SEARCH_ROUND_ITEMS documents per request, then hands back a cursor."""
SUMMARY_FIELDS = ("id", "filename", "status", "created_at", "updated_at", "owner", "error", "records", "declared_size")
_SEQ_WIDTH = 40


def pad_sequencer(sequencer: str | None) -> str | None:
    """S3 sequencers are hex of varying length: left-pad so strings compare as numbers."""
    if not sequencer:
        return None
    return sequencer.upper().rjust(_SEQ_WIDTH, "0")


@dataclass(frozen=True)
class Claim:
    """Everything begin_processing needs to know about an arriving object."""

    doc_id: str
    obj: ObjectRef
    filename: str
    attempt: str
    now: str
    now_epoch: int
    lease_seconds: int
    force: bool = False
    owner: str | None = None
    stale_below: int | None = None
    """A re-extraction: claim only an existing final document recorded with an extractor version below this."""


@dataclass(frozen=True)
class Filters:
    """What a listing may be narrowed by; all optional, combined with AND.

    Created bounds are inclusive prefixes of ISO 8601 timestamps: `created_to=2026-01-03`
    includes the whole day ("~" sorts after every character of a timestamp).
    """

    status: str | None = None
    family: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    name_prefix: str | None = None
    query: str | None = None
    """Normalised (`chalicelib.search.parse_query`): a piece of the name, title, author or text."""

    def matches(self, doc: Document) -> bool:
        return (
            (self.status is None or doc.status.value == self.status)
            and (self.family is None or doc.metadata.get("family") == self.family)
            and (self.created_from is None or doc.created_at >= self.created_from)
            and (self.created_to is None or doc.created_at <= self.created_to + "~")
            and (self.name_prefix is None or doc.filename.startswith(self.name_prefix))
        )

    def finds(self, doc: Document, searchable: str) -> bool:
        """`matches`, and the search: `searchable` is what the document item holds (`search`)."""
        if not self.matches(doc):
            return False
        return self.query is None or self.query in name_key(doc.filename) or self.query in searchable


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Listed:
    """A processed document's bytes as the by_size index files them: under its owner and size."""

    owner: str | None
    created_at: str
    content: Content

    def filing(self, doc_id: str) -> tuple[dict[str, str], tuple[str, ...]]:
        """What the finishing write sets (by_size keys, the checksums known) and the checksum attributes it removes."""
        known = {"checksum": self.content.checksum, "sha256": self.content.sha256}
        keys = size_keys(self.owner, self.content.size, doc_id, self.created_at)
        return {**keys, **{k: v for k, v in known.items() if v}}, tuple(k for k, v in known.items() if not v)


class Repository(Protocol):
    def create_pending(self, doc: Document) -> None: ...
    def overdue(self, kind: Status, now_epoch: int, limit: int) -> list[Document]: ...
    def expire_pending(self, doc_id: str, error: dict[str, str], now: str) -> None: ...
    def postpone(self, doc_id: str, kind: Status, until_epoch: int) -> None: ...
    def release(self, doc_id: str, attempt: str, forget_pending: bool = False) -> None: ...
    def note_pending(self, doc_id: str, attempt: str, etag: str) -> None: ...
    def get(self, doc_id: str) -> Document | None: ...
    def begin_processing(self, claim: Claim) -> Document: ...
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
    ) -> str | None: ...
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
    ) -> str | None: ...
    def list_for_owner(
        self, owner: str | None, limit: int, start: dict[str, str] | None, filters: Filters = ...
    ) -> Page[Document]: ...
    def list_all(self, limit: int, start: dict[str, str] | None, filters: Filters = ...) -> Page[Document]: ...
    def list_oldest_first(
        self, owner: str | None, everyone: bool, limit: int, start: dict[str, str] | None, filters: Filters = ...
    ) -> Page[Document]: ...
    def window(self, owner: str | None, everyone: bool, filters: Filters, most: int) -> tuple[list[Document], bool]: ...
    def find_candidates(self, owner: str | None, size: int) -> list[Candidate]: ...
    def set_sha256(self, doc_id: str, sha256: str) -> None: ...
    def delete(self, doc_id: str) -> int: ...
    def add_event(self, doc_id: str, event: dict[str, Any]) -> None: ...
    def stats(self, owner: str | None, everyone: bool) -> dict[str, Any]: ...


def document_from_item(item: dict[str, Any]) -> Document:
    owner = item.get("owner")
    return Document(
        id=item["id"],
        owner=None if owner in (None, NO_OWNER) else owner,
        bucket=item.get("bucket", ""),
        key=item.get("s3_key", ""),
        filename=item.get("filename", ""),
        status=Status(item["status"]),
        created_at=item["created_at"],
        updated_at=item.get("updated_at", item["created_at"]),
        declared_size=from_dynamo_value(item.get("declared_size")),
        declared_type=item.get("declared_type"),
        metadata=from_dynamo_value(item.get("metadata") or summary_fields(item)),
        error=item.get("error"),
        warnings=list(item.get("warnings") or []),
        records=from_dynamo_value(item.get("records")),
        timeline=from_dynamo_value(item.get("timeline") or []),
        etag=item.get("etag"),
        attempt=item.get("attempt"),
        attempts=int(item.get("attempts") or 0),
        deadline=int(item["lease_until"]) if item.get("lease_until") is not None else None,
        extractor_version=int(item["extractor_version"]) if item.get("extractor_version") is not None else None,
    )


def candidate_from_entry(entry: dict[str, Any], size: int) -> Candidate:
    """A by_size index entry (keys, checksum, sha256) as a duplicate candidate."""
    created_at, _, doc_id = str(entry["gsi3sk"]).rpartition("#")
    content = Content(size=size, checksum=entry.get("checksum"), sha256=entry.get("sha256"))
    return Candidate(doc_id=doc_id, created_at=created_at, content=content)


def _documents(items: Any) -> list[Document]:
    """Documents from items; an item that is not a readable document is left out with a logged error."""
    docs = []
    for item in items:
        try:
            docs.append(document_from_item(item))
        except (KeyError, ValueError, TypeError):
            log.error("left out an unreadable document item: %s", item.get("pk"), exc_info=True)
    return docs


_UNRELATED_TO_ITEMS = (ClientError, BotoCoreError)
"""Errors that say nothing about one item: AWS refused the call, or the transport failed."""


def item_from_document(doc: Document) -> dict[str, Any]:
    item: dict[str, Any] = {
        **doc_key(doc.id),
        **index_keys(doc.id, doc.owner, doc.created_at),
        "id": doc.id,
        "owner": doc.owner or NO_OWNER,
        "bucket": doc.bucket,
        "s3_key": doc.key,
        "filename": doc.filename,
        "name_key": name_key(doc.filename),
        "status": doc.status.value,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
        "metadata": to_dynamo_value(doc.metadata),
        **to_dynamo_value(summary_fields(doc.metadata)),
        "warnings": list(doc.warnings),
        "timeline": to_dynamo_value(doc.timeline),
    }
    optional = {
        "declared_size": doc.declared_size,
        "declared_type": doc.declared_type,
        "error": doc.error,
        "records": to_dynamo_value(doc.records) if doc.records is not None else None,
        "etag": doc.etag,
        "attempt": doc.attempt,
        "extractor_version": doc.extractor_version,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    if doc.status is Status.PENDING and doc.deadline is not None:
        item.update(deadline_keys(Status.PENDING, doc.deadline, doc.id))
    return item


class _Expr:
    """Builds update/condition expressions with every name and value placeholdered."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def n(self, name: str) -> str:
        token = f"#{name}"
        self.names[token] = name
        return token

    def v(self, label: str, value: Any) -> str:
        token = f":{label}"
        self.values[token] = value
        return token


class DynamoRepository:
    def __init__(self, dynamodb: Any, table: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = dynamodb
        self._table = table
        self._sleep = sleep

    # -- writes ------------------------------------------------------------
    def create_pending(self, doc: Document) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=dump(item_from_document(doc)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise Conflict("A document with this id already exists") from exc
            raise

    def begin_processing(self, claim: Claim) -> Document:
        update, condition, expr = begin_expression(claim)
        try:
            resp = self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(claim.doc_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=dump(expr.values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise StaleEvent("Another attempt holds this document or this version is already done") from exc
            raise
        return document_from_item(load(resp["Attributes"]))

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
        """PROCESSED, by the extraction numbered `version` (recorded as extractor_version); the start of the
        document's `text` becomes searchable (`chalicelib.search`).

        With `content`, the document is filed in by_size with its checksum and
        sha256, where later uploads of its owner look for duplicates. Returns
        the version noted while this attempt ran (`note_pending`), if any.
        """
        event = {"at": now, "event": "processed"}
        admitted = admit(metadata)
        extra: dict[str, Any] = {
            "metadata": to_dynamo_value(admitted.metadata),
            "extractor_version": version,
            "search": search_text(admitted.metadata, text),
            **to_dynamo_value(summary_fields(admitted.metadata)),
        }
        gone: tuple[str, ...] = ("error",)
        if content is not None:
            filed, unknown = content.filing(doc_id)
            extra.update(filed)
            gone += unknown
        notes = [*warnings, *admitted.notes]
        return self._finish(doc_id, attempt, Status.PROCESSED, extra, notes, event, now, gone)

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
        """FAILED with a reason, by the extraction numbered `version`, keeping what was learned (`metadata`).

        Returns the version noted while this attempt ran (`note_pending`), if any.
        """
        event = {"at": now, "event": "failed", "detail": error.get("code", "")}
        extra: dict[str, Any] = {"error": admit_error(error), "extractor_version": version}
        if metadata:
            admitted = admit(metadata)
            extra.update(
                {"metadata": to_dynamo_value(admitted.metadata), **to_dynamo_value(summary_fields(admitted.metadata))}
            )
            warnings = [*warnings, *admitted.notes]
        gone = ("gsi3pk", "gsi3sk", "checksum", "sha256")  # a failed file is nobody's duplicate
        return self._finish(doc_id, attempt, Status.FAILED, extra, warnings, event, now, gone)

    def _finish(
        self,
        doc_id: str,
        attempt: str,
        status: Status,
        extra: dict[str, Any],
        warnings: list[str],
        event: dict[str, Any],
        now: str,
        gone: tuple[str, ...],
    ) -> str | None:
        """One conditional write ends the attempt and takes the version noted meanwhile (ReturnValues).

        Folding that into this write (rather than a second update afterwards)
        is safe: `note_pending` needs this attempt to still hold the document,
        so nothing can be noted once this write has removed `attempt`.
        """
        expr = _Expr()
        sets = [
            f"{expr.n('status')} = {expr.v('status', status.value)}",
            f"{expr.n('updated_at')} = {expr.v('now', now)}",
            f"{expr.n('warnings')} = {expr.v('warnings', admit_warnings(warnings))}",
            f"{expr.n('timeline')} = list_append(if_not_exists({expr.n('timeline')}, {expr.v('empty', [])}), "
            f"{expr.v('event', [event])})",
        ]
        sets += [f"{expr.n(k)} = {expr.v(k, v)}" for k, v in extra.items()]
        removes = [expr.n(k) for k in ("attempt", "lease_until", "gsi4pk", "gsi4sk", "pending_etag", *gone)]
        update = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
        condition = f"{expr.n('attempt')} = {expr.v('attempt', attempt)}"
        try:
            resp = self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=dump(expr.values),
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise StaleEvent("This attempt no longer holds the document") from exc
            raise
        old = resp.get("Attributes", {}).get("pending_etag")
        return str(load_value(old)) if old else None

    # -- the sweeper's view --------------------------------------------------
    def overdue(self, kind: Status, now_epoch: int, limit: int) -> list[Document]:
        """Documents of this kind whose deadline passed, oldest deadline first.

        A query on the sparse, keys-only by_deadline index finds them; each is
        then read as it is now (consistently). Overdue documents are the rare
        ones, so the index stays small and cheap to write on every claim.
        """
        resp = self._db.query(
            TableName=self._table,
            IndexName=BY_DEADLINE,
            KeyConditionExpression="gsi4pk = :k AND gsi4sk < :now",
            ExpressionAttributeValues=dump({":k": deadline_pk(kind), ":now": f"{now_epoch:012d}"}),
            Limit=limit,
        )
        found = (self.get(str(load(i)["pk"]).removeprefix("DOC#")) for i in resp.get("Items", []))
        return [d for d in found if d is not None]

    def expire_pending(self, doc_id: str, error: dict[str, str], now: str) -> None:
        """PENDING → FAILED when nothing was uploaded in time; an upload that won the race makes it a StaleEvent."""
        event = {"at": now, "event": "failed", "detail": error.get("code", "")}
        values = {
            ":failed": Status.FAILED.value,
            ":pending": Status.PENDING.value,
            ":error": error,
            ":now": now,
            ":empty": [],
            ":event": [event],
        }
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET #s = :failed, #e = :error, updated_at = :now, "
                "#t = list_append(if_not_exists(#t, :empty), :event) REMOVE gsi4pk, gsi4sk",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status", "#e": "error", "#t": "timeline"},
                ExpressionAttributeValues=dump(values),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise StaleEvent("The document is no longer pending") from exc
            raise

    def postpone(self, doc_id: str, kind: Status, until_epoch: int) -> None:
        """Move a document's sweep deadline (not its lease): the sweeper looks again after until_epoch.

        Only while the document is still of this kind and has an entry (a finished one has none and gets
        none back); an entry filed under another kind moves here (an upload's, once its attempt runs).
        """
        keys = deadline_keys(kind, until_epoch, doc_id)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET gsi4pk = :pk, gsi4sk = :sk",
                ConditionExpression="attribute_exists(gsi4pk) AND #s = :status",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=dump({":sk": keys["gsi4sk"], ":pk": keys["gsi4pk"], ":status": kind.value}),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    # -- handing work on ------------------------------------------------------
    def release(self, doc_id: str, attempt: str, forget_pending: bool = False) -> None:
        """Give up a claim after a transient failure: the next delivery (or the sweeper) may claim at once.

        `forget_pending` also drops the version noted meanwhile, for a caller
        that goes on to process the object as it is now anyway.
        """
        forget = " REMOVE pending_etag" if forget_pending else ""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET lease_until = :zero, gsi4sk = :sk" + forget,
                ConditionExpression="attempt = :a",
                ExpressionAttributeValues=dump(
                    {":zero": 0, ":sk": deadline_keys(Status.PROCESSING, 0, doc_id)["gsi4sk"], ":a": attempt}
                ),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def note_pending(self, doc_id: str, attempt: str, etag: str) -> None:
        """Record that a newer version arrived while `attempt` runs; that attempt processes it when done."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET pending_etag = :e",
                ConditionExpression="attempt = :a AND #s = :processing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=dump({":e": etag, ":a": attempt, ":processing": Status.PROCESSING.value}),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise StaleEvent("That attempt is no longer running") from exc
            raise

    # -- reads -------------------------------------------------------------
    def get(self, doc_id: str) -> Document | None:
        try:
            resp = self._db.get_item(TableName=self._table, Key=dump(doc_key(doc_id)), ConsistentRead=True)
        except _UNRELATED_TO_ITEMS:
            raise
        except Exception:
            log.error("document %s cannot be read; answering it without its metadata", doc_id, exc_info=True)
            return self._without_metadata(doc_id)
        item = resp.get("Item")
        return document_from_item(load(item)) if item else None

    def _without_metadata(self, doc_id: str) -> Document | None:
        names = {f"#a{i}": name for i, name in enumerate(DOCUMENT_ATTRIBUTES)}
        resp = self._db.get_item(
            TableName=self._table,
            Key=dump(doc_key(doc_id)),
            ConsistentRead=True,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        item = resp.get("Item")
        if not item:
            return None
        doc = document_from_item(load(item))
        doc.warnings.append(UNREADABLE_METADATA)
        return doc

    def _readable_query(self, params: dict[str, Any], index_keys: tuple[str, ...] = ()) -> dict[str, Any]:
        """One Query; when botocore cannot read its response (an item in it is unreadable), the same page
        read key by key, leaving that item out with a logged error, instead of failing the whole page."""
        try:
            resp: dict[str, Any] = self._db.query(**params)
            return resp
        except _UNRELATED_TO_ITEMS:
            raise
        except Exception:
            log.error("a page holds an item that cannot be read; reading it key by key", exc_info=True)
        keys = self._db.query(**_keys_only(params, index_keys))
        items = []
        for key in keys.get("Items", []):
            try:
                found = self._db.get_item(TableName=self._table, Key={"pk": key["pk"], "sk": key["sk"]})
            except _UNRELATED_TO_ITEMS:
                raise
            except Exception:
                log.error("left out an unreadable item: %s", load_value(key["pk"]), exc_info=True)
                continue
            if "Item" in found:
                items.append(found["Item"])
        return {"Items": items, "LastEvaluatedKey": keys.get("LastEvaluatedKey")}

    def list_for_owner(
        self, owner: str | None, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS
    ) -> Page[Document]:
        return self._query(BY_OWNER, "gsi1pk", owner_pk(owner), limit, start, filters)

    def list_all(self, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS) -> Page[Document]:
        return self._query(ALL_DOCS, "gsi2pk", "DOCS", limit, start, filters)

    def list_oldest_first(
        self, owner: str | None, everyone: bool, limit: int, start: dict[str, str] | None, filters: Filters = NO_FILTERS
    ) -> Page[Document]:
        index, key, value = _listing(owner, everyone)
        return self._query(index, key, value, limit, start, filters, ascending=True)

    def window(self, owner: str | None, everyone: bool, filters: Filters, most: int) -> tuple[list[Document], bool]:
        """Up to `most` matching documents, newest first, with the fields a listing shows, and whether they are
        all that match. Reads every item of the partition up to there: `chalicelib.search.SORT_WINDOW` bounds it."""
        index, key, value = _listing(owner, everyone)
        sort_key = {"gsi1pk": "gsi1sk", "gsi2pk": "gsi2sk"}[key]
        params = listing_params(self._table, index, key, sort_key, value, filters)
        names = params["ExpressionAttributeNames"]
        fields = [f"#p_{f}" for f in (*SUMMARY_FIELDS, *SUMMARY)]  # what the listing index projects
        names.update({f"#p_{f}": f for f in (*SUMMARY_FIELDS, *SUMMARY)})
        params["ProjectionExpression"] = ", ".join(fields)
        found: list[Document] = []
        while len(found) < most:
            resp = self._readable_query(params, (key, sort_key))
            found += [document_from_item(load(i)) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return found[:most], len(found) <= most
            params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return found[:most], False

    def _query(
        self,
        index: str,
        key: str,
        value: str,
        limit: int,
        start: dict[str, str] | None,
        filters: Filters,
        ascending: bool = False,
    ) -> Page[Document]:
        """One page, newest first (or oldest first), served by a GSI query (never a Scan).

        The created range is part of the key condition; the other filters are
        a FilterExpression, so a round may return fewer items than asked: up to
        MAX_FILTER_ROUNDS queries fill the page. A search (`q`) matches few
        items, so it reads SEARCH_ROUND_ITEMS per round for up to SEARCH_ROUNDS
        rounds and then answers with what it found and a cursor. One item more
        than the page is read so the last page carries no cursor.
        """
        sort_key = {"gsi1pk": "gsi1sk", "gsi2pk": "gsi2sk"}[key]
        params = listing_params(self._table, index, key, sort_key, value, filters)
        params["ScanIndexForward"] = ascending
        rounds = SEARCH_ROUNDS if filters.query else MAX_FILTER_ROUNDS
        found: list[dict[str, Any]] = []
        exclusive = dump(start) if start else None
        for _ in range(rounds):
            if exclusive:
                params["ExclusiveStartKey"] = exclusive
            params["Limit"] = max(limit + 1 - len(found), SEARCH_ROUND_ITEMS if filters.query else 0)
            resp = self._readable_query(params, (key, sort_key))
            found += [load(i) for i in resp.get("Items", [])]
            exclusive = resp.get("LastEvaluatedKey")
            if len(found) > limit or not exclusive:
                break
        more = len(found) > limit or bool(exclusive)
        found = found[:limit]
        last: dict[str, str] | None = None
        if more and found:
            last = {k: str(found[-1][k]) for k in ("pk", "sk", key, sort_key)}
        elif more and exclusive:
            last = cursor_key(exclusive)
        return Page(_documents(found), last)

    # -- duplicates, deletion, timeline, stats ----------------------------
    def find_candidates(self, owner: str | None, size: int) -> list[Candidate]:
        """The owner's processed documents of exactly this size (at most MAX_CANDIDATES, oldest first)."""
        resp = self._db.query(
            TableName=self._table,
            IndexName=BY_SIZE,
            KeyConditionExpression="gsi3pk = :k",
            ExpressionAttributeValues=dump({":k": size_pk(owner, size)}),
            Limit=MAX_CANDIDATES,
        )
        return [candidate_from_entry(load(i), size) for i in resp.get("Items", [])]

    def set_sha256(self, doc_id: str, sha256: str) -> None:
        """Keep a sha256 computed for a processed document; its by_size entry carries it from then on."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET sha256 = :h, #m.sha256 = :h",
                ConditionExpression="attribute_exists(gsi3pk) AND attribute_type(#m, :map)",
                ExpressionAttributeNames={"#m": "metadata"},
                ExpressionAttributeValues=dump({":h": sha256, ":map": "M"}),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def delete(self, doc_id: str) -> int:
        """Delete the document and every item in its partition (rows, markers); returns items deleted."""
        deleted = 0
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dump({":pk": doc_pk(doc_id)}),
            "ProjectionExpression": "pk, sk",
        }
        while True:
            resp = self._db.query(**params)
            keys = resp.get("Items", [])
            batch_write(self._db, self._table, delete_requests(keys), self._sleep)
            deleted += len(keys)
            if not resp.get("LastEvaluatedKey"):
                return deleted
            params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def add_event(self, doc_id: str, event: dict[str, Any]) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression="SET #t = list_append(if_not_exists(#t, :empty), :e)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#t": "timeline"},
                ExpressionAttributeValues=dump({":empty": [], ":e": [to_dynamo_value(event)]}),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def stats(self, owner: str | None, everyone: bool) -> dict[str, Any]:
        """Counts by status and family, from the listing GSI (status and family only are read)."""
        index, key, value = _listing(owner, everyone)
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ProjectionExpression": "#s, #f",
            "ExpressionAttributeNames": {"#k": key, "#s": "status", "#f": "family"},
            "ExpressionAttributeValues": dump({":v": value}),
        }
        rows = []
        while True:
            resp = self._db.query(**params)
            rows += [load(i) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                break
            params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return count_stats((r.get("status", ""), r.get("family")) for r in rows)


def _keys_only(params: dict[str, Any], index_keys: tuple[str, ...]) -> dict[str, Any]:
    """The same Query projecting only the keys; names only the old projection used are dropped (DynamoDB
    refuses an ExpressionAttributeNames entry that no expression uses)."""
    keys = {**params, "ProjectionExpression": ", ".join(("pk", "sk", *index_keys))}
    names = params.get("ExpressionAttributeNames")
    if names:
        used = " ".join(str(params.get(e, "")) for e in ("KeyConditionExpression", "FilterExpression"))
        kept = {k: v for k, v in names.items() if re.search(re.escape(k) + r"\b", used)}
        if kept:
            keys["ExpressionAttributeNames"] = kept
        else:
            keys.pop("ExpressionAttributeNames")
    return keys


def _listing(owner: str | None, everyone: bool) -> tuple[str, str, str]:
    """The index, its partition key attribute and value listing one owner's documents, or everyone's."""
    return (ALL_DOCS, "gsi2pk", "DOCS") if everyone else (BY_OWNER, "gsi1pk", owner_pk(owner))


def listing_params(table: str, index: str, key: str, sort_key: str, value: str, filters: Filters) -> dict[str, Any]:
    """A newest-first query of one listing partition: the created range in the key condition, the rest a filter."""
    expr = _Expr()
    condition = f"{expr.n(key)} = {expr.v('pk', value)}"
    low, high = filters.created_from, filters.created_to
    if low and high:
        condition += f" AND {expr.n(sort_key)} BETWEEN {expr.v('lo', low)} AND {expr.v('hi', high + '~')}"
    elif low:
        condition += f" AND {expr.n(sort_key)} >= {expr.v('lo', low)}"
    elif high:
        condition += f" AND {expr.n(sort_key)} <= {expr.v('hi', high + '~')}"
    clauses = []
    if filters.status:
        clauses.append(f"{expr.n('status')} = {expr.v('status', filters.status)}")
    if filters.family:
        clauses.append(f"{expr.n('family')} = {expr.v('family', filters.family)}")
    if filters.name_prefix:
        clauses.append(f"begins_with({expr.n('filename')}, {expr.v('prefix', filters.name_prefix)})")
    if filters.query:
        # normalised on both sides (chalicelib.search); items written before name_key existed match by filename
        q = expr.v("q", filters.query)
        found_in = (expr.n(a) for a in ("name_key", "search", "filename"))
        clauses.append("(" + " OR ".join(f"contains({attr}, {q})" for attr in found_in) + ")")
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": expr.names,
        "ExpressionAttributeValues": dump(expr.values),
        "ScanIndexForward": False,
    }
    if clauses:
        params["FilterExpression"] = " AND ".join(clauses)
    return params


def count_stats(pairs: Any) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_family: dict[str, int] = {}
    total = 0
    for status, family in pairs:
        total += 1
        by_status[status] = by_status.get(status, 0) + 1
        if family:
            by_family[family] = by_family.get(family, 0) + 1
    return {"total": total, "by_status": by_status, "by_family": by_family}


def begin_expression(claim: Claim) -> tuple[str, str, _Expr]:
    """The conditional upsert that claims a document for one processing attempt."""
    expr = _Expr()
    obj = claim.obj
    event = {"at": claim.now, "event": "reprocessing" if claim.force else "processing_started"}
    sets = {
        "status": expr.v("processing", Status.PROCESSING.value),
        "attempt": expr.v("attempt", claim.attempt),
        "lease_until": expr.v("lease", claim.now_epoch + claim.lease_seconds),
        "updated_at": expr.v("now", claim.now),
        "bucket": expr.v("bucket", obj.bucket),
        "s3_key": expr.v("key", obj.key),
    }
    if obj.etag:
        sets["etag"] = expr.v("etag", obj.etag)
    seq = pad_sequencer(obj.sequencer)
    if seq:
        sets["sequencer"] = expr.v("seq", seq)
    create_only = {
        "id": claim.doc_id,
        "filename": claim.filename,
        "name_key": name_key(claim.filename),
        "created_at": claim.now,
        "owner": claim.owner or NO_OWNER,
        **index_keys(claim.doc_id, claim.owner, claim.now),
        # The sweeper's entry is written only where there is none (a dropped file, a finished document taken up
        # again); an upload keeps the entry its request wrote, due no later than this lease (`models.first_sweep`),
        # since moving it would change by_deadline's key: a delete and a put, two write units on every document
        # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes).
        # The sweeper reads the document before acting and waits for a lease still running (`sweeper`).
        **deadline_keys(Status.PROCESSING, claim.now_epoch + claim.lease_seconds, claim.doc_id),
    }
    clauses = [f"{expr.n(k)} = {v}" for k, v in sets.items()]
    clauses += [f"{expr.n(k)} = if_not_exists({expr.n(k)}, {expr.v('c_' + k, v)})" for k, v in create_only.items()]
    timeline = expr.n("timeline")
    clauses.append(
        f"{timeline} = list_append(if_not_exists({timeline}, {expr.v('empty', [])}), {expr.v('event', [event])})"
    )
    attempts = expr.n("attempts")
    clauses.append(f"{attempts} = if_not_exists({attempts}, {expr.v('zero', 0)}) + {expr.v('one', 1)}")
    update = "SET " + ", ".join(clauses) + f" REMOVE {expr.n('error')}"

    status = expr.n("status")
    conditions = [
        f"{status} <> :processing OR {expr.n('lease_until')} < {expr.v('now_epoch', claim.now_epoch)}",
        f"{status} <> {expr.v('deleting', Status.DELETING.value)}",  # nothing comes back from being deleted
    ]
    if not claim.force and obj.etag:
        # a version already finished is done; a pending upload or a crashed attempt is not
        in_flight = f"{status} IN ({expr.v('pending', Status.PENDING.value)}, :processing)"
        conditions.append(f"attribute_not_exists({expr.n('etag')}) OR {expr.n('etag')} <> :etag OR {in_flight}")
    if not claim.force and seq:
        conditions.append(f"attribute_not_exists({expr.n('sequencer')}) OR {expr.n('sequencer')} <= :seq")
    if claim.stale_below is not None:
        # re-extraction: only a document still final and still older than the wanted version (two runs never both)
        final = f"{status} IN ({expr.v('processed', Status.PROCESSED.value)}, {expr.v('failed', Status.FAILED.value)})"
        version = expr.n("extractor_version")
        older = f"attribute_not_exists({version}) OR {version} < {expr.v('below', claim.stale_below)}"
        conditions += [final, older]
        return update, f"attribute_exists({expr.n('pk')}) AND " + " AND ".join(f"({c})" for c in conditions), expr
    guarded = " AND ".join(f"({c})" for c in conditions)
    condition = f"attribute_not_exists({expr.n('pk')}) OR ({guarded})"
    return update, condition, expr
