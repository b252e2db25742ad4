"""Producer events in the one table: each stored once per event id, listed newest first.

An event is pk = EVENT#<id>, sk = EVENT (the key scheme is in `table`),
listed through by_owner under its submitter and through all_docs for admins.
An accepted event keeps its detail, a rejected one the whole event, as JSON
text of at most MAX_RAW_BYTES.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws.table import (
    ALL_DOCS,
    BY_OWNER,
    Page,
    conditional_failed,
    cursor_key,
    dump,
    event_index_keys,
    event_key,
    events_pk,
    load,
)
from chalicelib.contracts import event_id
from chalicelib.models import utcnow

MAX_RAW_BYTES = 256 * 1024


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
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(event, state, reason),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def _item(self, event: dict[str, Any], state: str, reason: str | None) -> dict[str, Any]:
        ident = event_id(event)
        detail = event.get("detail")
        owner = detail.get("submitted_by") if isinstance(detail, dict) else None
        stored_at = utcnow()
        raw = json.dumps(detail if state == "ACCEPTED" else event, sort_keys=True, default=str)
        submitter = owner if isinstance(owner, str) and owner else None
        item: dict[str, Any] = {
            **event_key(ident),
            **event_index_keys(ident, submitter, stored_at),
            "id": ident,
            "state": state,
            "source": str(event.get("source") or "")[:256],
            "detail_type": str(event.get("detail-type") or "")[:256],
            "time": str(event.get("time") or "")[:64],
            "stored_at": stored_at,
            "detail": raw[:MAX_RAW_BYTES],
        }
        if submitter:
            item["submitted_by"] = submitter
        if reason:
            item["reason"] = reason[:500]
        return dump(item)

    def list(self, owner: str | None, limit: int, start: dict[str, str] | None) -> Page[StoredEvent]:
        """Newest first: one owner's events, or (owner None) everyone's."""
        index, key, value = (ALL_DOCS, "gsi2pk", "EVENTS") if owner is None else (BY_OWNER, "gsi1pk", events_pk(owner))
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": dump({":v": value}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = dump(start)
        resp = self._db.query(**params)
        return Page([_stored(load(i)) for i in resp.get("Items", [])], cursor_key(resp.get("LastEvaluatedKey")))


def _stored(item: dict[str, Any]) -> StoredEvent:
    def s(name: str) -> str | None:
        value = item.get(name)
        return str(value) if value is not None else None

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
