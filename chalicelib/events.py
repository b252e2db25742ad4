"""Producer events from EventBridge: validated, stored once per event id, queryable.

Schema (version 1), matched by the rule `{"source": ["docpipe.producer"]}`:
  source       "docpipe.producer"
  detail-type  1-128 characters: letters, digits, space, '.', '_' or '-'
  detail       a JSON object of at most 64 KiB; `submitted_by` is set by docpipe's
               API (POST /events) to the caller's id and is otherwise absent
A valid event is stored ACCEPTED. An invalid one is stored REJECTED with the
reason (and logged), so nothing that reached the handler is lost. A second
delivery of the same event id changes nothing.

Items: pk=EVENT#<id>, sk=EVENT; listed through the by_owner GSI under
EVENTS#<submitted_by|-> and the all_docs GSI under EVENTS, newest first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from chalicelib import paging
from chalicelib.aws.bus import EventBus
from chalicelib.contracts import MAX_PRODUCER_DETAIL_BYTES, PRODUCER_DETAIL_TYPE, PRODUCER_SOURCE
from chalicelib.errors import BadRequest
from chalicelib.models import Caller, utcnow

log = logging.getLogger("docpipe.events")

MAX_RAW_BYTES = 256 * 1024
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class InvalidEvent(ValueError):
    pass


def validate(event: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(event.get("id"), str) or not _ID.match(event["id"]):
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


def event_id(event: dict[str, Any]) -> str:
    """The event's own id, or (for an event without a usable one) a digest of its content."""
    raw = event.get("id")
    if isinstance(raw, str) and _ID.match(raw):
        return raw
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"noid-{digest}"


@dataclass(frozen=True)
class StoredEvent:
    id: str
    state: str
    source: str
    detail_type: str
    time: str
    stored_at: str
    detail: Any
    submitted_by: str | None
    reason: str | None = None

    def to_public(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["reason"] is None:
            out.pop("reason")
        return out


class EventStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def store(self, event: dict[str, Any], state: str = "ACCEPTED", reason: str | None = None) -> bool:
        """True if stored, False if this event id was already stored."""
        from botocore.exceptions import ClientError

        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(event, state, reason),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _item(self, event: dict[str, Any], state: str, reason: str | None) -> dict[str, Any]:
        ident = event_id(event)
        detail = event.get("detail")
        owner = detail.get("submitted_by") if isinstance(detail, dict) else None
        stored_at = utcnow()
        raw = json.dumps(detail if state == "ACCEPTED" else event, sort_keys=True, default=str)
        item: dict[str, Any] = {
            "pk": {"S": f"EVENT#{ident}"},
            "sk": {"S": "EVENT"},
            "id": {"S": ident},
            "state": {"S": state},
            "source": {"S": str(event.get("source") or "")[:256]},
            "detail_type": {"S": str(event.get("detail-type") or "")[:256]},
            "time": {"S": str(event.get("time") or "")[:64]},
            "stored_at": {"S": stored_at},
            "detail": {"S": raw[:MAX_RAW_BYTES]},
            "gsi1pk": {"S": f"EVENTS#{owner if isinstance(owner, str) and owner else '-'}"},
            "gsi1sk": {"S": f"{stored_at}#{ident}"},
            "gsi2pk": {"S": "EVENTS"},
            "gsi2sk": {"S": f"{stored_at}#{ident}"},
        }
        if isinstance(owner, str) and owner:
            item["submitted_by"] = {"S": owner}
        if reason:
            item["reason"] = {"S": reason[:500]}
        return item

    def list(self, owner: str | None, limit: int, start: dict[str, str] | None) -> tuple[list[StoredEvent], Any]:
        """Newest first: one owner's events, or (owner None) everyone's."""
        index, key, value = (
            ("all_docs", "gsi2pk", "EVENTS") if owner is None else ("by_owner", "gsi1pk", f"EVENTS#{owner}")
        )
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": {"S": value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = {k: {"S": v} for k, v in start.items()}
        resp = self._db.query(**params)
        last = resp.get("LastEvaluatedKey")
        return [_stored(i) for i in resp.get("Items", [])], ({k: v["S"] for k, v in last.items()} if last else None)


def _stored(item: dict[str, Any]) -> StoredEvent:
    def s(name: str) -> str | None:
        value = item.get(name)
        return value["S"] if value else None

    try:
        detail = json.loads(s("detail") or "null")
    except ValueError:
        detail = s("detail")
    return StoredEvent(
        id=s("id") or "",
        state=s("state") or "ACCEPTED",
        source=s("source") or "",
        detail_type=s("detail_type") or "",
        time=s("time") or "",
        stored_at=s("stored_at") or "",
        detail=detail,
        submitted_by=s("submitted_by"),
        reason=s("reason"),
    )


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
    items, last = store.list(
        owner, paging.parse_limit(params.get("limit")), paging.decode(params.get("next"), scope, secret)
    )
    return {"items": [e.to_public() for e in items], "next": paging.encode(last, scope, secret)}


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
