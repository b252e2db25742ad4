"""Producer events: validated, stored once per id, and kept with a reason when rejected."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events import InvalidEvent, event_id, handle, validate


class FakeStore:
    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str | None]] = {}

    def store(self, event: dict[str, Any], state: str = "ACCEPTED", reason: str | None = None) -> bool:
        ident = event_id(event)
        if ident in self.items:
            return False
        self.items[ident] = (state, reason)
        return True


EVENT = {"id": "e-1", "source": "docpipe.producer", "detail-type": "OrderPlaced", "detail": {"n": 1}}


def test_a_valid_event_is_accepted_and_its_redelivery_is_a_duplicate() -> None:
    store = FakeStore()
    assert handle(store, dict(EVENT)) == "ACCEPTED"
    assert handle(store, dict(EVENT)) == "DUPLICATE"
    assert store.items == {"e-1": ("ACCEPTED", None)}


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({**EVENT, "detail": "text"}, "detail must be a JSON object"),
        ({**EVENT, "source": "someone.else"}, "source must be docpipe.producer"),
        ({**EVENT, "detail-type": "<script>"}, "detail-type must be"),
        ({**EVENT, "detail": {"big": "x" * 70_000}}, "larger than 64 KiB"),
        ({**EVENT, "detail": {"submitted_by": 7}}, "submitted_by must be a string"),
    ],
)
def test_a_malformed_event_is_kept_as_rejected_with_its_reason(broken: dict[str, Any], reason: str) -> None:
    store = FakeStore()
    assert handle(store, broken) == "REJECTED"
    state, why = store.items[event_id(broken)]
    assert state == "REJECTED" and why is not None and reason in why


def test_an_event_without_an_id_gets_a_stable_content_id_so_it_is_still_stored_once() -> None:
    store = FakeStore()
    anonymous = {k: v for k, v in EVENT.items() if k != "id"}
    assert handle(store, anonymous) == "REJECTED"
    assert handle(store, dict(anonymous)) == "DUPLICATE"
    assert event_id(anonymous).startswith("noid-")


def test_validation_accepts_the_documented_shape() -> None:
    assert validate(dict(EVENT)) == EVENT
    with pytest.raises(InvalidEvent):
        validate({**EVENT, "id": "../../etc"})
