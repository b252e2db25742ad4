"""Producer events from EventBridge: validated, stored once per event id, queryable.

Schema (version 1), matched by the rule `{"source": ["docpipe.producer"]}`:
  source       "docpipe.producer"
  detail-type  1-128 characters: letters, digits, space, '.', '_' or '-'
  detail       a JSON object of at most 64 KiB; `submitted_by` is set by docpipe's
               API (POST /events) to the caller's id and is otherwise absent
A valid event is stored ACCEPTED. An invalid one is stored REJECTED with the
reason (and logged), so nothing that reached the handler is lost. A second
delivery of the same event id changes nothing.

They are stored by `aws.event_store` (pk = EVENT#<id>, listed newest first
per submitter and for admins).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib import paging
from chalicelib.aws.bus import EventBus
from chalicelib.aws.event_store import EventStore
from chalicelib.contracts import (
    MAX_PRODUCER_DETAIL_BYTES,
    PRODUCER_DETAIL_TYPE,
    PRODUCER_EVENT_ID,
    PRODUCER_SOURCE,
    event_id,
)
from chalicelib.errors import BadRequest
from chalicelib.models import Caller

log = logging.getLogger("docpipe.events")


class InvalidEvent(ValueError):
    pass


def validate(event: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(event.get("id"), str) or not PRODUCER_EVENT_ID.match(event["id"]):
        raise InvalidEvent("event has no usable id")
    if event.get("source") != PRODUCER_SOURCE:
        raise InvalidEvent(f"source must be {PRODUCER_SOURCE}")
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str) or not PRODUCER_DETAIL_TYPE.match(detail_type):
        raise InvalidEvent("detail-type must be 1-128 letters, digits, spaces, '.', '_' or '-'")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEvent("detail must be a JSON object")
    if len(json.dumps(detail)) > MAX_PRODUCER_DETAIL_BYTES:
        raise InvalidEvent("detail is larger than 64 KiB")
    submitted_by = detail.get("submitted_by")
    if submitted_by is not None and not isinstance(submitted_by, str):
        raise InvalidEvent("detail.submitted_by must be a string")
    return event


def handle(store: Any, event: dict[str, Any]) -> str:
    """Validate and store one delivered event; returns ACCEPTED, REJECTED or DUPLICATE."""
    try:
        validate(event)
    except InvalidEvent as exc:
        log.error("rejected producer event: %s", exc, extra={"event_id": event_id(event), "reason": str(exc)})
        return "REJECTED" if store.store(event, "REJECTED", str(exc)) else "DUPLICATE"
    return "ACCEPTED" if store.store(event) else "DUPLICATE"


def list_for(store: EventStore, caller: Any, params: dict[str, str], settings: Any) -> dict[str, Any]:
    """GET /events: the caller's submitted events (admins: every producer event), newest first."""
    unknown = sorted(set(params) - {"limit", "next"})
    if unknown:
        raise BadRequest(f"Unknown query parameter: {unknown[0]}", code="unknown_parameter")
    owner = None if caller.admin else caller.sub
    scope = f"events:{owner or '*'}"
    secret = settings.signing_secret
    start = paging.decode(params.get("next"), scope, secret)
    page = store.list(owner, paging.parse_limit(params.get("limit")), start)
    return {"items": [e.to_public() for e in page.items], "next": paging.encode(page.last_key, scope, secret)}


def parse_event(body: Any) -> tuple[str, dict[str, Any]]:
    """A POST /events body: {detail_type, detail}, or a clear 400."""
    if not isinstance(body, dict) or set(body) - {"detail_type", "detail"}:
        raise BadRequest("The body must be {detail_type, detail}", code="invalid_body")
    detail_type, detail = body.get("detail_type"), body.get("detail")
    if not isinstance(detail_type, str) or not PRODUCER_DETAIL_TYPE.match(detail_type):
        raise BadRequest("detail_type must be 1 to 128 letters, digits, spaces, '.', '_' or '-'", code="invalid_event")
    if not isinstance(detail, dict):
        raise BadRequest("detail must be a JSON object", code="invalid_event")
    if "submitted_by" in detail:
        raise BadRequest("detail.submitted_by is set by docpipe", code="invalid_event")
    if len(json.dumps(detail)) > MAX_PRODUCER_DETAIL_BYTES:
        raise BadRequest("detail must be at most 64 KiB", code="invalid_event")
    return detail_type, detail


def publish(bus: EventBus, caller: Caller, body: Any) -> dict[str, Any]:
    """POST /events: publish the caller's producer event, marked with who submitted it."""
    detail_type, detail = parse_event(body)
    # producers publish on the default bus, where the producer rule listens (docpipe's own bus carries
    # docpipe's own events)
    event_id = bus.put(PRODUCER_SOURCE, detail_type, {**detail, "submitted_by": caller.sub}, bus="default")
    return {"event_id": event_id, "source": PRODUCER_SOURCE, "detail_type": detail_type}
