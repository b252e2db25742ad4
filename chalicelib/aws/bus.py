"""EventBridge publishing: one small wrapper so callers get an id or a clear error."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("docpipe.bus")


class PublishFailed(RuntimeError):
    pass


class EventBus:
    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def put(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        """Publish one event (to docpipe's bus unless `bus` names another); returns its EventBridge id.

        botocore retries throttling and server errors (standard retry mode).
        """
        resp = self._events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":"), default=str),
                    "EventBusName": bus or self._bus,
                }
            ]
        )
        entry = (resp.get("Entries") or [{}])[0]
        if resp.get("FailedEntryCount") or "EventId" not in entry:
            raise PublishFailed(f"{entry.get('ErrorCode', 'unknown')}: {entry.get('ErrorMessage', '')}")
        return str(entry["EventId"])
