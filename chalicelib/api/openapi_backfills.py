"""The admin backfill routes of the OpenAPI document (merged into `openapi.document`)."""

from __future__ import annotations

from typing import Any

from chalicelib.api.openapi import _errors, _json, _op, _page_of, _ref

RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
RUN_STATUSES = ["PLANNING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"]


def paths() -> dict[str, Any]:
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


def schemas() -> dict[str, Any]:
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
