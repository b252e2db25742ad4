"""Producer events from EventBridge, validated and stored once per event id."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.models import utcnow

log = logging.getLogger("docpipe.events")

MAX_DETAIL_BYTES = 64 * 1024


class InvalidEvent(ValueError):
    pass


def validate(event: dict[str, Any]) -> dict[str, Any]:
    for name in ("id", "source", "detail-type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidEvent(f"event has no {name}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEvent("event detail must be an object")
    if len(json.dumps(detail)) > MAX_DETAIL_BYTES:
        raise InvalidEvent("event detail is too large")
    return event


class EventStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def store(self, event: dict[str, Any]) -> bool:
        """True if stored, False if this event id was already stored."""
        from botocore.exceptions import ClientError

        item = {
            "pk": {"S": f"EVENT#{event['id']}"},
            "sk": {"S": "EVENT"},
            "source": {"S": event["source"]},
            "detail_type": {"S": event["detail-type"]},
            "time": {"S": str(event.get("time") or "")},
            "detail": {"S": json.dumps(event["detail"], sort_keys=True)},
            "stored_at": {"S": utcnow()},
        }
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def handle(store: EventStore, event: dict[str, Any]) -> bool:
    try:
        validate(event)
    except InvalidEvent as exc:
        log.error("rejected producer event", extra={"event_id": event.get("id"), "reason": str(exc)})
        return False
    return store.store(event)
