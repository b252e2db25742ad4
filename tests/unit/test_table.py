"""The one table module: values convert exactly as boto3 converts them, batch writes resend what was left."""

from __future__ import annotations

from decimal import Decimal, Rounded
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.aws import batch_write
from chalicelib.aws.table import conditional_failed, cursor_key, dump, dump_value, load, load_value

VALUES: list[Any] = [
    "",
    "text",
    None,
    0,
    -7,
    10**37,
    -(10**37),
    True,
    Decimal("1.5"),
    [1, "a", None],
    {"a": "b", "n": None, "deep": {"x": [1, 2]}},
    {1, 2},
    {"a", "b"},
    b"bytes",
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_is_dumped_and_loaded_exactly_as_boto3_would(value: Any) -> None:
    dumped = dump_value(value)
    assert dumped == TypeSerializer().serialize(value)
    assert load_value(dumped) == TypeDeserializer().deserialize(dumped)


def test_floats_and_numbers_over_38_digits_are_refused_as_boto3_refuses_them() -> None:
    with pytest.raises(TypeError):
        dump_value(1.5)
    with pytest.raises(Rounded):
        TypeSerializer().serialize(10**38)
    with pytest.raises(Rounded):
        dump_value(10**38)


def test_items_and_cursor_keys_round_trip() -> None:
    item = {"pk": "DOC#1", "sk": "ROW#0000000001", "row": 1, "cells": {"a": "x", "b": None}}
    assert load(dump(item)) == {**item, "row": Decimal(1)}
    assert cursor_key(dump({"pk": "DOC#1", "sk": "DOC", "gsi1sk": "2026#1"})) == {
        "pk": "DOC#1",
        "sk": "DOC",
        "gsi1sk": "2026#1",
    }
    assert cursor_key(None) is None


def test_only_a_failed_condition_counts_as_one() -> None:
    class Failure(Exception):
        def __init__(self, code: str) -> None:
            self.response = {"Error": {"Code": code}}

    assert conditional_failed(Failure("ConditionalCheckFailedException"))
    assert not conditional_failed(Failure("ProvisionedThroughputExceededException"))
    assert not conditional_failed(ValueError("no response"))


class FlakyTable:
    """BatchWriteItem that leaves the last `left` requests of each call unprocessed, `times` times."""

    def __init__(self, left: int, times: int) -> None:
        self.left, self.times = left, times
        self.calls: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.calls.append(len(requests))
        if self.times and self.left:
            self.times -= 1
            return {"UnprocessedItems": {"t": requests[-self.left :]}}
        return {"UnprocessedItems": {}}


def test_a_batch_write_goes_25_at_a_time_and_resends_unprocessed_items_after_a_pause() -> None:
    db = FlakyTable(left=3, times=2)
    pauses: list[float] = []
    requests = batch_write.put_requests([{"pk": {"S": str(i)}} for i in range(30)])
    batch_write.batch_write(db, "t", requests, sleep=pauses.append)
    assert db.calls == [25, 3, 3, 5]
    assert len(pauses) == 2 and all(p >= 0 for p in pauses)


def test_a_batch_write_that_never_drains_fails_loudly() -> None:
    db = FlakyTable(left=1, times=100)
    with pytest.raises(RuntimeError, match="still unprocessed"):
        batch_write.batch_write(db, "t", batch_write.delete_requests([{"pk": {"S": "1"}}]), sleep=lambda s: None)
    assert len(db.calls) == batch_write.MAX_ATTEMPTS
