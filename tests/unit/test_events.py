"""Producer events are validated and stored once per event id."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events import handle, validate


class FakeStore:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def store(self, event: dict[str, Any]) -> bool:
        if event["id"] in self.ids:
            return False
        self.ids.add(event["id"])
        return True


EVENT = {"id": "e-1", "source": "docpipe.producer", "detail-type": "OrderPlaced", "detail": {"n": 1}}


def test_a_valid_event_is_stored_and_its_duplicate_is_not() -> None:
    store = FakeStore()
    assert handle(store, dict(EVENT)) is True  # type: ignore[arg-type]
    assert handle(store, dict(EVENT)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "broken",
    [{**EVENT, "detail": "text"}, {k: v for k, v in EVENT.items() if k != "id"}, {**EVENT, "source": ""}],
)
def test_a_malformed_event_is_rejected_without_being_stored(broken: dict[str, Any]) -> None:
    store = FakeStore()
    assert handle(store, broken) is False  # type: ignore[arg-type]
    assert store.ids == set()


def test_validation_accepts_the_documented_shape() -> None:
    assert validate(dict(EVENT)) == EVENT
