"""What a verified caller may do with documents.

Who may do what is `chalicelib.access`'s rule (owners do everything with their
documents; admins read and reprocess every document and delete only files
without an owner), applied here to every route. Input from the API is
validated here too, with a clear 400 for anything malformed.
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib import paging, search
from chalicelib.access import Action, require, require_admin
from chalicelib.aws.bus import EventBus
from chalicelib.aws.repository import Filters, Repository
from chalicelib.aws.storage import S3Storage, linkable, rendition_key, text_key
from chalicelib.config import Settings
from chalicelib.contracts import API_SOURCE, REPROCESS_REQUESTED
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.models import UPLOAD_URL_SECONDS, Caller, Document, Status, first_sweep, utcnow

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

DOWNLOAD_URL_SECONDS = 300
LIST_PARAMS = frozenset({"limit", "next", "status", "family", "created_from", "created_to", "name", "q", "sort"})

_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?)?$")
_FAMILY = re.compile(r"^[a-z_]{1,32}$")


def parse_filters(params: dict[str, str]) -> Filters:
    unknown = sorted(set(params) - LIST_PARAMS)
    if unknown:
        raise BadRequest(f"Unknown query parameter: {unknown[0]}", code="unknown_parameter")
    status = params.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise BadRequest(
            "status must be one of PENDING, PROCESSING, PROCESSED, FAILED, DELETING", code="invalid_filter"
        )
    family = params.get("family")
    if family is not None and not _FAMILY.match(family):
        raise BadRequest("family must be a family name such as pdf or image", code="invalid_filter")
    for name in ("created_from", "created_to"):
        value = params.get(name)
        if value is not None and not _DATE.match(value):
            raise BadRequest(f"{name} must be an ISO 8601 date or timestamp", code="invalid_filter")
    name_prefix = params.get("name")
    if name_prefix is not None and not 1 <= len(name_prefix) <= 255:
        raise BadRequest("name must be 1 to 255 characters", code="invalid_filter")
    query = search.parse_query(params.get("q"))
    return Filters(status, family, params.get("created_from"), params.get("created_to"), name_prefix, query)


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    content_type: str
    size: int


def parse_upload(body: Any, max_bytes: int) -> UploadRequest:
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object", code="invalid_body")
    unknown = sorted(set(body) - {"filename", "content_type", "size"})
    if unknown:
        raise BadRequest(f"Unknown field: {unknown[0]}", code="invalid_body")
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise BadRequest("filename is required", code="invalid_filename")
    if any(unicodedata.category(c).startswith("C") for c in filename) or len(filename) > 255:
        raise BadRequest("filename must be at most 255 printable characters", code="invalid_filename")
    filename = re.split(r"[\\/]", filename.strip())[-1]
    if filename in ("", ".", ".."):
        raise BadRequest("filename must name a file", code="invalid_filename")
    content_type = body.get("content_type")
    if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
        raise BadRequest("content_type must be a MIME type such as application/pdf", code="invalid_content_type")
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise BadRequest("size must be a positive integer (bytes)", code="invalid_size")
    if size > max_bytes:
        raise BadRequest(f"The file is larger than the {max_bytes}-byte limit", code="too_large")
    return UploadRequest(filename, content_type.lower(), size)


def safe_key_name(filename: str) -> str:
    """The file name as it appears in the S3 key: letters, digits and . _ - space; at most 200 bytes."""
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in filename).strip(" .") or "file"
    while len(cleaned.encode()) > 200:
        cleaned = cleaned[:-1]
    return cleaned


class Deletion(Protocol):
    """Starts deleting a document (`chalicelib.deletion.Deletion`; not imported here, so a function that only
    reads documents, such as the backfill consumer, is not granted the purge's writes)."""

    def request(self, doc: Document) -> dict[str, Any]: ...


class DocumentService:
    def __init__(
        self, repository: Repository, storage: S3Storage, settings: Settings, bus: EventBus, deletion: Deletion
    ) -> None:
        self._repo = repository
        self._storage = storage
        self._settings = settings
        self._bus = bus
        self._deletion = deletion

    # -- reading -----------------------------------------------------------
    def get(self, caller: Caller, doc_id: str, action: Action = Action.READ) -> Document:
        doc = self._repo.get(doc_id) if _plausible_id(doc_id) else None
        if doc is None:
            raise NotFound("No such document")
        require(caller, doc.owner, action)
        return doc

    def list_mine(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        return self._list(caller.sub, False, params)

    def list_all(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        require_admin(caller, "list every document")
        return self._list(None, True, params)

    def _list(self, owner: str | None, everyone: bool, params: dict[str, str]) -> dict[str, Any]:
        """One page of a listing: newest first (the index's order), oldest first, or sorted by name, size or
        status over the newest `search.SORT_WINDOW` matches (see `chalicelib.search`)."""
        filters, limit = parse_filters(params), paging.parse_limit(params.get("limit"))
        sort = search.parse_sort(params.get("sort"))
        scope = f"{'all' if everyone else 'owner:' + str(owner)}:{_filter_scope(filters)}:{sort}"
        start = paging.decode(params.get("next"), scope, self._secret())
        if sort == "-created":
            page = (
                self._repo.list_all(limit, start, filters)
                if everyone
                else self._repo.list_for_owner(owner, limit, start, filters)
            )
            return self._page(page.items, page.last_key, scope)
        if sort == "created":
            page = self._repo.list_oldest_first(owner, everyone, limit, start, filters)
            return self._page(page.items, page.last_key, scope)
        return self._sorted(owner, everyone, filters, sort, limit, start, scope)

    def _sorted(
        self,
        owner: str | None,
        everyone: bool,
        filters: Filters,
        sort: str,
        limit: int,
        start: dict[str, str] | None,
        scope: str,
    ) -> dict[str, Any]:
        offset = _offset(start)
        docs, complete = self._repo.window(owner, everyone, filters, search.SORT_WINDOW)
        docs.sort(key=lambda d: search.sort_key(sort, d), reverse=sort.startswith("-"))
        shown = docs[offset : offset + limit]
        after = {"offset": str(offset + limit)} if offset + limit < len(docs) else None
        answer = self._page(shown, after, scope)
        if not complete:
            answer["sorted_newest"] = search.SORT_WINDOW  # only the newest matches were sorted
        return answer

    def stats(self, caller: Caller) -> dict[str, Any]:
        stats = self._repo.stats(caller.sub, everyone=caller.admin)
        stats["scope"] = "everyone" if caller.admin else "mine"
        return stats

    # -- uploads and files -------------------------------------------------
    def create_upload(self, caller: Caller, body: Any) -> dict[str, Any]:
        request = parse_upload(body, self._settings.max_upload_bytes)
        doc_id = uuid.uuid4().hex
        key = f"{self._settings.uploads_prefix}{caller.sub}/{doc_id}/{safe_key_name(request.filename)}"
        now = utcnow()
        doc = Document(
            id=doc_id,
            owner=caller.sub,
            bucket=self._settings.bucket,
            key=key,
            filename=request.filename,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            declared_size=request.size,
            declared_type=request.content_type,
            timeline=[{"at": now, "event": "upload_requested"}],
            deadline=first_sweep(int(time.time()), now, self._settings.lease_seconds),
        )
        self._repo.create_pending(doc)
        post = self._storage.presigned_post(
            key, request.content_type, self._settings.max_upload_bytes, UPLOAD_URL_SECONDS
        )
        expires = datetime.now(UTC) + timedelta(seconds=UPLOAD_URL_SECONDS)
        return {
            "document": doc.to_public(),
            "upload": {"url": post["url"], "fields": post["fields"], "method": "POST"},
            "expires_at": expires.isoformat(timespec="seconds"),
            "max_bytes": self._settings.max_upload_bytes,
        }

    def describe(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        """The document's API view with the links `download`, `preview` and `text` would answer, where they apply.

        Signing a link is local work (no request to S3), so the answer that
        shows a document also lets its reader download the file, see its
        preview and read its text without another API call. Unlike those
        routes, it does not ask S3 whether the file or its rendition is still
        there (a rendition is linked once ingest noted it written): an object
        lost since answers S3's 404 instead.
        """
        doc = self.get(caller, doc_id)
        out = doc.to_public()
        if doc.status not in (Status.PENDING, Status.DELETING) and linkable(doc.key):
            out["download"] = self._link(doc)
        details = _details(doc)
        if doc.status is Status.PROCESSED and details.get("rendition") is True:  # noted once it was written
            out["preview"] = self._preview_link(doc)
        if doc.status is Status.PROCESSED and isinstance(details.get("text"), dict):
            out["text"] = self._text_link(doc, details["text"])
        return out

    def download(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        doc = self._uploaded(caller, doc_id)
        if not linkable(doc.key):
            raise Conflict(
                "This file's key has '.' or '..' path segments, which browsers and HTTP clients rewrite in "
                "links; it cannot be downloaded through a link (ask an administrator to copy it)",
                code="unsupported_key",
            )
        if not self._storage.exists(doc.bucket, doc.key):
            raise NotFound("The file is no longer stored", code="object_missing")
        return self._link(doc)

    def _link(self, doc: Document) -> dict[str, Any]:
        url = self._storage.presigned_get(doc.bucket, doc.key, DOWNLOAD_URL_SECONDS, filename=doc.filename)
        return {"url": url, "expires_in": DOWNLOAD_URL_SECONDS, "filename": doc.filename}

    def preview(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        doc = self.get(caller, doc_id)
        key = rendition_key(doc.id, self._settings.renditions_prefix, self._settings.uploads_prefix)
        if doc.status is not Status.PROCESSED or not self._storage.exists(doc.bucket, key):
            raise NotFound("This document has no preview", code="no_preview")
        return self._preview_link(doc)

    def _preview_link(self, doc: Document) -> dict[str, Any]:
        key = rendition_key(doc.id, self._settings.renditions_prefix, self._settings.uploads_prefix)
        url = self._storage.presigned_get(
            doc.bucket, key, DOWNLOAD_URL_SECONDS, content_type="text/html; charset=utf-8"
        )
        return {"url": url, "expires_in": DOWNLOAD_URL_SECONDS}

    def text(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        """A presigned URL to the document's plain text, with its language, word count and size.

        Whether there is text is known from the document itself
        (`metadata.details.text`), so asking costs no storage request.
        """
        doc = self.get(caller, doc_id)
        info = _details(doc).get("text")
        if doc.status is not Status.PROCESSED or not isinstance(info, dict):
            raise NotFound("This document has no text", code="no_text")
        return self._text_link(doc, info)

    def _text_link(self, doc: Document, info: dict[str, Any]) -> dict[str, Any]:
        key = text_key(doc.id, self._settings.renditions_prefix, self._settings.uploads_prefix)
        url = self._storage.presigned_get(doc.bucket, key, DOWNLOAD_URL_SECONDS, content_type=TEXT_CONTENT_TYPE)
        return {
            "url": url,
            "expires_in": DOWNLOAD_URL_SECONDS,
            "language": info.get("language"),
            "word_count": doc.metadata.get("word_count"),
            "bytes": info.get("bytes"),
            "truncated": bool(info.get("truncated")),
        }

    def delete(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        """Start deleting the document (see `chalicelib.deletion`): it is DELETING until its rows are gone."""
        return self._deletion.request(self.get(caller, doc_id, Action.DELETE))

    def request_reprocess(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        """Queue one re-extraction; asking again while one is pending or running changes nothing."""
        doc = self._uploaded(caller, doc_id, Action.OPERATE)
        if doc.status is Status.PROCESSING:
            return {"id": doc.id, "status": doc.status.value, "reprocess": "already_in_progress"}
        pending = [e for e in doc.timeline if e.get("event") == "reprocess_requested"]
        if pending and pending[-1].get("version") == doc.updated_at:
            return {"id": doc.id, "status": doc.status.value, "reprocess": "already_requested"}
        self._repo.add_event(doc.id, {"at": utcnow(), "event": "reprocess_requested", "version": doc.updated_at})
        self._bus.put(API_SOURCE, REPROCESS_REQUESTED, {"doc_id": doc.id, "version": doc.updated_at})
        return {"id": doc.id, "status": doc.status.value, "reprocess": "requested"}

    # -- helpers -----------------------------------------------------------
    def _uploaded(self, caller: Caller, doc_id: str, action: Action = Action.READ) -> Document:
        doc = self.get(caller, doc_id, action)
        if doc.status is Status.PENDING:
            raise Conflict("Nothing has been uploaded for this document yet", code="not_uploaded")
        if doc.status is Status.DELETING:
            raise Conflict("This document is being deleted", code="deleting")
        return doc

    def _page(self, items: list[Document], last: dict[str, str] | None, scope: str) -> dict[str, Any]:
        return {"items": [d.summary() for d in items], "next": paging.encode(last, scope, self._secret())}

    def _secret(self) -> str:
        return self._settings.signing_secret


def _details(doc: Document) -> dict[str, Any]:
    """The document's `metadata.details` (what ingest noted: its rendition, its text), or nothing."""
    details = doc.metadata.get("details") if isinstance(doc.metadata, dict) else None
    return details if isinstance(details, dict) else {}


def _offset(start: dict[str, str] | None) -> int:
    """A sorted listing's cursor is a position (signed, so it cannot be forged)."""
    if not start:
        return 0
    try:
        return max(0, int(start.get("offset", "0")))
    except ValueError as exc:
        raise BadRequest("The pagination cursor is invalid", code="invalid_cursor") from exc


def _filter_scope(filters: Filters) -> str:
    return "|".join(str(v or "") for v in vars(filters).values())


def _plausible_id(doc_id: str) -> bool:
    return len(doc_id) == 32 and all(c in "0123456789abcdef" for c in doc_id)
