"""The records consumer: rows keyed by document and row number, failures reported per message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.records import Chunk, PoisonMessage, RecordWriter, handle_batch, row_item

DOC = "c" * 32


class FakeDynamo:
    def __init__(self, unprocessed_rounds: int = 0) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0
        self._unprocessed_rounds = unprocessed_rounds

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        assert len(requests) <= 25
        if self._unprocessed_rounds > 0:
            self._unprocessed_rounds -= 1
            keep, rest = requests[:1], requests[1:]
        else:
            keep, rest = [], requests
        for req in rest:
            item = req["PutRequest"]["Item"]
            self.items[(item["pk"]["S"], item["sk"]["S"])] = item
        return {"UnprocessedItems": {table: keep} if keep else {}}


def message(message_id: str, first_row: int, rows: list[list[Any]]) -> dict[str, str]:
    body = {"doc_id": DOC, "chunk": first_row, "first_row": first_row, "columns": ["a", "b"], "rows": rows}
    return {"messageId": message_id, "body": json.dumps(body)}


def test_rows_are_keyed_by_document_and_row_number() -> None:
    item = row_item(DOC, 7, ["a", "b"], ["1", ""])
    assert item["pk"] == {"S": f"DOC#{DOC}"} and item["sk"] == {"S": "ROW#0000000007"}
    assert item["cells"] == {"M": {"a": {"S": "1"}}}


def test_a_redelivered_message_writes_the_same_items_and_nothing_more() -> None:
    db = FakeDynamo()
    writer = RecordWriter(db, "t", sleep=lambda s: None)
    batch = [message("m1", 1, [["1", "2"]] * 30)]
    handle_batch(writer, batch)
    handle_batch(writer, batch)
    assert len(db.items) == 30


def test_unprocessed_items_are_retried_until_written() -> None:
    db = FakeDynamo(unprocessed_rounds=3)
    writer = RecordWriter(db, "t", sleep=lambda s: None)
    assert writer.write(Chunk.parse(message("m", 1, [["x", "y"]] * 5)["body"])) == 5
    assert len(db.items) == 5 and db.calls == 4


def test_a_poison_message_is_reported_and_the_rest_of_the_batch_is_written() -> None:
    db = FakeDynamo()
    writer = RecordWriter(db, "t", sleep=lambda s: None)
    batch = [
        message("good-1", 1, [["1", "2"]]),
        {"messageId": "bad", "body": "{not json"},
        message("good-2", 2, [["3"]]),
    ]
    assert handle_batch(writer, batch) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(db.items) == 2


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        json.dumps({"doc_id": "short", "chunk": 1, "first_row": 1, "columns": [], "rows": []}),
        json.dumps({"doc_id": DOC, "chunk": 1, "first_row": 0, "columns": [], "rows": []}),
    ],
)
def test_unusable_bodies_are_poison(body: str) -> None:
    with pytest.raises(PoisonMessage):
        Chunk.parse(body)
