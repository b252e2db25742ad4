"""The OpenAPI 3 description of docpipe's REST API.

Written as data next to the code it describes; tests/unit/test_openapi.py
fails when a route exists here but not in app.py, or the other way round.
"""

from __future__ import annotations

import functools
from typing import Any

from chalicelib.search import SORTS

ID = {"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
STATUSES = ["PENDING", "PROCESSING", "PROCESSED", "FAILED", "DELETING"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid input",
        401: "Missing or invalid id token",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict with the document's state",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _op(summary: str, responses: dict[str, Any], auth: bool = True, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if auth:
        op["security"] = [{"cognito": []}]
        op["responses"] = {**responses, **_errors(401)}
    else:
        op["security"] = []
    return op


def _list_params() -> list[dict[str, Any]]:
    def q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return [
        q("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}, "Page size"),
        q("next", {"type": "string"}, "Opaque cursor from the previous page"),
        q("status", {"type": "string", "enum": STATUSES}, "Only documents in this status"),
        q("family", {"type": "string", "pattern": "^[a-z_]{1,32}$"}, "Only this family (pdf, image, ...)"),
        q("created_from", {"type": "string"}, "ISO 8601 date or timestamp, inclusive"),
        q("created_to", {"type": "string"}, "ISO 8601 date or timestamp, inclusive (a date covers the day)"),
        q("name", {"type": "string", "maxLength": 255}, "File name prefix"),
        q("q", {"type": "string", "maxLength": 100}, "A piece of the name, title, author or text (any case, accents)"),
        q(
            "sort",
            {"type": "string", "enum": list(SORTS), "default": "-created"},
            "Order: created, name, size or status; '-' for descending",
        ),
    ]


def _paths() -> dict[str, Any]:
    page = _json(_ref("Page"), "One page of documents, newest first")
    url = _json(_ref("Url"), "A short-lived presigned URL")
    return {
        "/health": {"get": _op("Readiness", {"200": _json({"type": "object"}, "Ready")}, auth=False)},
        "/config": {"get": _op("What a client needs to log in", {"200": _json(_ref("Config"), "Config")}, auth=False)},
        "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"}, "OpenAPI 3")}, auth=False)},
        "/uploads": {
            "post": _op(
                "Create a document and a presigned POST to upload its file",
                {"201": _json(_ref("UploadCreated"), "Created"), **_errors(400)},
                requestBody={"required": True, "content": {"application/json": {"schema": _ref("UploadRequest")}}},
            )
        },
        "/documents": {"get": _op("The caller's documents", {"200": page, **_errors(400)}, parameters=_list_params())},
        "/documents/{doc_id}": {
            "get": _op(
                "One document", {"200": _json(_ref("Document"), "The document"), **_errors(404)}, parameters=[ID]
            ),
            "delete": _op(
                "Start deleting the file, its rendition, its records and the document",
                {
                    "202": _json(_ref("Deletion"), "Deleting: the document goes once its records are gone"),
                    **_errors(403, 404),
                },
                parameters=[ID],
            ),
        },
        "/documents/{doc_id}/download": {
            "get": _op(
                "A presigned URL that downloads the original file", {"200": url, **_errors(404, 409)}, parameters=[ID]
            )
        },
        "/documents/{doc_id}/preview": {
            "get": _op("A presigned URL to the HTML rendition", {"200": url, **_errors(404)}, parameters=[ID])
        },
        "/documents/{doc_id}/text": {
            "get": _op(
                "A presigned URL to the document's plain text, with its language and word count",
                {"200": _json(_ref("Text"), "Where the text is and what it is"), **_errors(404)},
                parameters=[ID],
            )
        },
        "/documents/{doc_id}/records": {
            "get": _op(
                "The CSV rows stored for a document, in file order",
                {"200": _json(_ref("RecordsPage"), "One page of rows"), **_errors(400, 404)},
                parameters=[ID, *_list_params()[:2]],
            )
        },
        "/documents/{doc_id}/records/errors": {
            "get": _op(
                "The CSV rows that could not be stored, with their line numbers and reasons",
                {"200": _json(_ref("RecordErrorsPage"), "One page of row errors"), **_errors(400, 404)},
                parameters=[ID, *_list_params()[:2]],
            )
        },
        "/documents/{doc_id}/reprocess": {
            "post": _op(
                "Run extraction again (idempotent while one is pending or running)",
                {"202": _json(_ref("Reprocess"), "Accepted"), **_errors(404, 409)},
                parameters=[ID],
            )
        },
        "/stats": {
            "get": _op("Counts by status and family (admins: everyone)", {"200": _json(_ref("Stats"), "Stats")})
        },
        "/events": {
            "get": _op(
                "Producer events: the caller's submissions (admins: every event, rejected ones with a reason)",
                {"200": _json(_ref("EventPage"), "One page of events, newest first"), **_errors(400)},
                parameters=_list_params()[:2],
            ),
            "post": _op(
                "Publish a producer event to EventBridge (source docpipe.producer)",
                {"202": _json(_ref("EventAccepted"), "Published"), **_errors(400)},
                requestBody={"required": True, "content": {"application/json": {"schema": _ref("EventRequest")}}},
            ),
        },
        "/admin/documents": {
            "get": _op(
                "Every document, including files dropped without an owner (admins only)",
                {"200": page, **_errors(400, 403)},
                parameters=_list_params(),
            )
        },
    }


def _page_of(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A page of items with the opaque `next` cursor (null on the last page)."""
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next": {"type": "string", "nullable": True},
            **extra,
        },
    }


def _schemas() -> dict[str, Any]:
    string = {"type": "string"}
    nullable = {"type": "string", "nullable": True}
    error = {"type": "object", "required": ["code", "message"], "properties": {"code": string, "message": string}}
    summary: dict[str, Any] = {
        "type": "object",
        "required": ["id", "filename", "status", "created_at", "updated_at"],
        "properties": {
            "id": string,
            "filename": string,
            "status": {"type": "string", "enum": STATUSES},
            "created_at": string,
            "updated_at": string,
            "owner": nullable,
            "mime_type": string,
            "family": string,
            "size": {"type": "integer"},
            "error": error,
            "records": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("total", "written", "failed")} | {"state": string},
            },
        },
    }
    document = {
        "type": "object",
        "required": ["id", "filename", "status", "created_at", "updated_at", "metadata", "timeline"],
        "properties": {
            **summary["properties"],
            "key": string,
            "declared_size": {"type": "integer", "nullable": True},
            "declared_type": nullable,
            "metadata": {"type": "object", "description": "Normalized fields (see README) plus `details`"},
            "warnings": {"type": "array", "items": string},
            "records": {"type": "object", "description": "CSV ingestion: state, total, written, failed"},
            "timeline": {"type": "array", "items": {"type": "object"}},
            "extractor_version": {
                "type": "integer",
                "nullable": True,
                "description": "The extraction that produced a PROCESSED/FAILED document (null: not yet, or older)",
            },
            "download": {
                "allOf": [_ref("Url")],
                "description": "GET /documents/{id} only, once the file is stored: the link /download answers, "
                "signed without checking the file is still there",
            },
            "preview": {
                "allOf": [_ref("Url")],
                "description": "GET /documents/{id} only, once processed with a rendition: the link /preview answers",
            },
            "text": {
                "allOf": [_ref("Text")],
                "description": "GET /documents/{id} only, once processed with text: what /text answers",
            },
        },
    }
    return {
        "Error": error,
        "Config": {
            "type": "object",
            "properties": {
                "region": string,
                "user_pool_id": string,
                "client_id": string,
                "cognito_endpoint": nullable,
                "bucket": string,
                "max_upload_bytes": {"type": "integer"},
            },
        },
        "DocumentSummary": summary,
        "Document": document,
        "Page": _page_of(
            _ref("DocumentSummary"),
            sorted_newest={"type": "integer", "description": "Present when only the newest N matches were sorted"},
        ),
        "UploadRequest": {
            "type": "object",
            "required": ["filename", "content_type", "size"],
            "additionalProperties": False,
            "properties": {
                "filename": {"type": "string", "minLength": 1, "maxLength": 255},
                "content_type": {"type": "string", "example": "application/pdf"},
                "size": {"type": "integer", "minimum": 1},
            },
        },
        "UploadCreated": {
            "type": "object",
            "properties": {
                "document": _ref("Document"),
                "upload": {
                    "type": "object",
                    "properties": {"url": string, "fields": {"type": "object"}, "method": string},
                },
                "expires_at": string,
                "max_bytes": {"type": "integer"},
            },
        },
        "Url": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": string, "expires_in": {"type": "integer"}, "filename": string},
        },
        "Text": {
            "type": "object",
            "required": ["url", "truncated"],
            "properties": {
                "url": string,
                "expires_in": {"type": "integer"},
                "language": {
                    "type": "string",
                    "nullable": True,
                    "description": "ISO 639-1 code detected from the text",
                },
                "word_count": {"type": "integer", "nullable": True},
                "bytes": {"type": "integer", "description": "Size of the UTF-8 text (at most 1 MiB)"},
                "truncated": {"type": "boolean", "description": "The text stops at a size, read or time limit"},
            },
        },
        "Reprocess": {
            "type": "object",
            "properties": {
                "id": string,
                "status": string,
                "reprocess": {"type": "string", "enum": ["requested", "already_requested", "already_in_progress"]},
            },
        },
        "Deletion": {
            "type": "object",
            "required": ["id", "status"],
            "properties": {"id": string, "status": {"type": "string", "enum": ["DELETING"]}},
        },
        "Stats": {
            "type": "object",
            "properties": {
                "total": {"type": "integer"},
                "by_status": {"type": "object"},
                "by_family": {"type": "object"},
                "scope": string,
            },
        },
        "EventRequest": {
            "type": "object",
            "required": ["detail_type", "detail"],
            "additionalProperties": False,
            "properties": {
                "detail_type": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$"},
                "detail": {"type": "object"},
            },
        },
        "EventPage": _page_of(
            {
                "type": "object",
                "properties": {
                    "id": string,
                    "state": {"type": "string", "enum": ["ACCEPTED", "REJECTED"]},
                    "source": string,
                    "detail_type": string,
                    "time": string,
                    "stored_at": string,
                    "detail": {},
                    "submitted_by": nullable,
                    "reason": string,
                },
            }
        ),
        "RecordsPage": _page_of(
            {"type": "object", "properties": {"row": {"type": "integer"}, "cells": {"type": "object"}}},
            records={"type": "object", "nullable": True},
        ),
        "RecordErrorsPage": _page_of(
            {
                "type": "object",
                "properties": {"row": {"type": "integer"}, "line": {"type": "integer"}, "reason": string},
            }
        ),
        "EventAccepted": {
            "type": "object",
            "properties": {"event_id": string, "source": string, "detail_type": string},
        },
    }


# -- backfills (admins) ---------------------------------------------------------

RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
RUN_STATUSES = ["PLANNING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"]


def _backfill_paths() -> dict[str, Any]:
    run = _json(_ref("Backfill"), "The backfill run")
    paging = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {"name": "next", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    return {
        "/admin/backfills": {
            "post": _op(
                "Start a backfill: index objects that have no document and/or extract stale documents again "
                "(admins only)",
                {"202": _json(_ref("Backfill"), "Accepted: planning"), **_errors(400, 403)},
                requestBody={"required": True, "content": {"application/json": {"schema": _ref("BackfillRequest")}}},
            ),
            "get": _op(
                "Backfill runs, newest first (admins only)",
                {"200": _json(_ref("BackfillPage"), "One page of runs"), **_errors(400, 403)},
                parameters=paging,
            ),
        },
        "/admin/backfills/{run_id}": {
            "get": _op(
                "A backfill run: progress, then its summary", {"200": run, **_errors(403, 404)}, parameters=[RUN_ID]
            ),
            "delete": _op(
                "Stop a backfill: nothing more is handed over; items in progress finish (admins only)",
                {"200": run, **_errors(403, 404, 409)},
                parameters=[RUN_ID],
            ),
        },
    }


def _backfill_schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    date = {"type": "string", "description": "ISO 8601 date or timestamp, inclusive"}
    stale = {
        "type": "object",
        "additionalProperties": False,
        "description": "Final documents recorded with an extractor version below the threshold",
        "properties": {
            "family": {"type": "string", "pattern": "^[a-z_]{1,32}$"},
            "status": {"type": "string", "enum": ["PROCESSED", "FAILED"]},
            "created_from": date,
            "created_to": date,
            "extractor_version_below": {
                "type": "integer",
                "minimum": 1,
                "description": "Default and maximum: the current extractor version",
            },
        },
    }
    missing = {
        "oneOf": [
            {"type": "boolean", "enum": [True], "description": "Everything under the uploads prefix"},
            {
                "type": "object",
                "required": ["prefix"],
                "additionalProperties": False,
                "properties": {"prefix": {"type": "string", "pattern": "^uploads/", "maxLength": 1024}},
            },
        ],
        "description": "Objects under a prefix that have no document",
    }
    progress = {
        "type": "object",
        "properties": {
            "listed": {**count, "description": "Items read from the S3 listing or the manifest"},
            "queued": {**count, "description": "Items handed to the backfill queue"},
            "processed": count,
            "failed": count,
            "skipped": {**count, "description": "Nothing to do (see skipped_by for why)"},
            "abandoned": {**count, "description": "Handed over but not finished in time"},
        },
    }
    return {
        "BackfillRequest": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "missing": missing,
                "stale": stale,
                "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 100, "default": 4},
            },
        },
        "Backfill": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": RUN_STATUSES},
                "created_at": {"type": "string"},
                "created_by": {"type": "string"},
                "updated_at": {"type": "string"},
                "finished_at": {"type": "string", "nullable": True},
                "selection": {"type": "object"},
                "selected": {**count, "description": "Stale documents written to the manifest"},
                "max_concurrency": {"type": "integer"},
                "progress": progress,
                "skipped_by": {"type": "object", "additionalProperties": count},
                "error": {"type": "string"},
            },
        },
        "BackfillPage": _page_of(_ref("Backfill")),
    }


@functools.cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "docpipe",
            "version": "1.0.0",
            "description": "Upload, follow, inspect and download documents. Authenticate with a Cognito id token "
            "in the Authorization header (a `Bearer ` prefix is accepted).",
        },
        "paths": {**_paths(), **_backfill_paths()},
        "components": {
            "securitySchemes": {"cognito": {"type": "apiKey", "in": "header", "name": "Authorization"}},
            "schemas": {**_schemas(), **_backfill_schemas()},
        },
    }
