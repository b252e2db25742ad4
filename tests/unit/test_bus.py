"""EventBridge publishing: producer events on the default bus, docpipe's own on its bus."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.aws.bus import EventBus, PublishFailed
from chalicelib.events import publish
from chalicelib.models import Caller


class FakeEvents:
    def __init__(self, fail: bool = False) -> None:
        self.entries: list[dict[str, Any]] = []
        self.fail = fail

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        if self.fail:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]}
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"id-{len(self.entries)}"}]}


def test_events_go_to_docpipes_bus_unless_another_is_named() -> None:
    events = FakeEvents()
    bus = EventBus(events, "docpipe-prod")
    assert bus.put("docpipe", "DocumentProcessed", {"a": 1}) == "id-1"
    bus.put("docpipe.producer", "X", {}, bus="default")
    assert [e["EventBusName"] for e in events.entries] == ["docpipe-prod", "default"]


def test_a_rejected_entry_is_an_error_not_a_silent_success() -> None:
    with pytest.raises(PublishFailed, match="ThrottlingException"):
        EventBus(FakeEvents(fail=True), "b").put("s", "t", {})


def test_producer_events_from_the_api_are_published_where_the_producer_rule_listens() -> None:
    events = FakeEvents()
    caller = Caller("user-1", "demo", frozenset(), False)
    publish(EventBus(events, "docpipe-prod"), caller, {"detail_type": "Invoice Paid", "detail": {"n": 1}})
    (entry,) = events.entries
    assert (entry["EventBusName"], entry["Source"]) == ("default", "docpipe.producer")
    assert '"submitted_by":"user-1"' in entry["Detail"]
