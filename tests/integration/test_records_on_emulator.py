"""CSV records end to end on the emulator: S3 stream → SQS (real queue, DLQ) → consumer → DynamoDB.

The consumer is driven by the local pump's own poller (`local.pump.QueuePoller`,
`sqs_record`, `failed_ids`: Lambda's event source mapping with
ReportBatchItemFailures) on a queue of its own, so the figures and the DLQ
behaviour are the real queue's.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.aws.records_store import COMPLETE, COMPLETE_WITH_ERRORS, DynamoRecordsStore, Progress, RowError
from chalicelib.config import FanOutSettings
from chalicelib.csv_fanout import CsvFanOut
from chalicelib.records import RecordsConsumer, RecordsReader, handle_batch
from local.provision import create_queue, queue_arn
from local.pump import QueuePoller, failed_ids, sqs_record
from tests.support import samples
from tests.support.clock import Ticks

pytestmark = pytest.mark.emulator


@pytest.fixture
def store(stack: Any, aws: dict[str, Any]) -> DynamoRecordsStore:
    return DynamoRecordsStore(aws["dynamodb"], stack.names.table)


def new_document(aws: dict[str, Any], stack: Any) -> str:
    doc_id = uuid.uuid4().hex
    aws["dynamodb"].put_item(
        TableName=stack.names.table,
        Item={"pk": {"S": f"DOC#{doc_id}"}, "sk": {"S": "DOC"}, "id": {"S": doc_id}},
    )
    return doc_id


class Queue:
    """A records queue with its DLQ (maxReceiveCount 2), consumed like Lambda's event source mapping."""

    def __init__(self, sqs: Any, visibility: int = 30) -> None:
        self.sqs = sqs
        self.name = f"records-test-{uuid.uuid4().hex[:12]}"
        self.url, _ = create_queue(sqs, self.name, visibility, 2)
        self.dlq = sqs.get_queue_url(QueueName=f"{self.name}-dlq")["QueueUrl"]
        self.arn = queue_arn(sqs, self.url)
        self.invocations = 0
        self._halt = threading.Event()
        self._threads: list[QueuePoller] = []

    def consume(self, consumer: RecordsConsumer, deadline: Callable[[], float], pollers: int = 2) -> None:
        def deliver(messages: list[dict[str, Any]]) -> set[str]:
            self.invocations += 1
            ids = {m["MessageId"] for m in messages}
            records = [sqs_record(m, self.arn, "us-east-1") for m in messages]
            return failed_ids(handle_batch(consumer, records, deadline()), ids)

        for i in range(pollers):
            poller = QueuePoller(f"records-test-{i}", self.sqs, self.url, 10, deliver, self._halt)
            poller.start()
            self._threads.append(poller)

    def stop(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(5)
        self.sqs.delete_queue(QueueUrl=self.url)
        self.sqs.delete_queue(QueueUrl=self.dlq)

    def dead_letters(self) -> list[str]:
        bodies: list[str] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return bodies
            bodies += [m["Body"] for m in got]


@pytest.fixture
def queue(aws: dict[str, Any]) -> Iterator[Queue]:
    q = Queue(aws["sqs"])
    yield q
    q.stop()


def wait_final(store: DynamoRecordsStore, doc_id: str, timeout: float = 60) -> Progress:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = store.progress(doc_id)
        if progress and progress.state in (COMPLETE, COMPLETE_WITH_ERRORS):
            return progress
        time.sleep(0.2)
    raise AssertionError(f"records never became final: {store.progress(doc_id)}")


def upload(aws: dict[str, Any], stack: Any, data: bytes) -> tuple[str, str, int]:
    key = f"uploads/records-{uuid.uuid4().hex}.csv"
    etag = aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=data)["ETag"].strip('"')
    return key, etag, len(data)


def all_rows(store: DynamoRecordsStore, doc_id: str) -> dict[int, dict[str, str | None]]:
    rows, start = {}, None
    while True:
        page = store.rows_page(doc_id, 100, start)
        rows.update({r.number: r.cells for r in page.items})
        if page.last_key is None:
            return rows
        start = page.last_key


def test_a_messy_csv_goes_through_s3_sqs_and_dynamodb_with_the_right_rows(aws, stack, store, queue) -> None:
    doc_id = new_document(aws, stack)
    key, etag, size = upload(aws, stack, samples.MESSY_CSV)
    service = CsvFanOut(aws["s3"], aws["sqs"], queue.name, store)
    queue.consume(RecordsConsumer(store, service.resume), lambda: time.monotonic() + 60)
    result = service.start(doc_id, stack.names.bucket, key, size, etag, deadline=time.monotonic() + 60)
    assert result.done and result.total == 5
    progress = wait_final(store, doc_id)
    assert (progress.state, progress.total, progress.written, progress.failed) == (COMPLETE_WITH_ERRORS, 5, 3, 2)
    assert all_rows(store, doc_id) == {
        1: {"name": "ann", "note": "two\r\nlines; and a semicolon", "amount": "150"},
        3: {"name": "cy", "note": 'say "hi"', "amount": "3"},
        5: {"name": "eve", "note": None, "amount": "5"},
    }
    assert store.errors_page(doc_id, 10, None).items == [
        RowError(2, 4, "expected 3 fields, found 2"),
        RowError(4, 7, "expected 3 fields, found 4"),
    ]


def test_duplicate_delivery_of_every_message_writes_each_row_once(aws, stack, store, queue) -> None:
    doc_id = new_document(aws, stack)
    data = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i * i) for i in range(3000))
    key, etag, size = upload(aws, stack, data)
    service = CsvFanOut(aws["s3"], aws["sqs"], queue.name, store, FanOutSettings(message_bytes=4096))
    result = service.start(doc_id, stack.names.bucket, key, size, etag, deadline=time.monotonic() + 60)
    sent = []
    while True:  # take every message off the queue, then put each back twice
        got = aws["sqs"].receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        sent += [m["Body"] for m in got]
        aws["sqs"].delete_message_batch(
            QueueUrl=queue.url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
    assert len(sent) == result.messages > 10
    for body in sent * 2:
        aws["sqs"].send_message(QueueUrl=queue.url, MessageBody=body)
    queue.consume(RecordsConsumer(store, service.resume), lambda: time.monotonic() + 60)
    progress = wait_final(store, doc_id)
    assert (progress.state, progress.total, progress.written, progress.failed) == (COMPLETE, 3000, 3000, 0)
    rows = all_rows(store, doc_id)
    assert len(rows) == 3000 and rows[1234] == {"id": "1233", "name": f"name {1233 * 1233}"}
    time.sleep(1.0)
    assert store.progress(doc_id) == progress  # the second copies counted nothing


def test_a_batch_with_poison_messages_writes_the_good_ones_once_and_dead_letters_the_bad(aws, stack, store) -> None:
    sqs = aws["sqs"]
    queue = Queue(sqs, visibility=1)
    try:
        doc_id = new_document(aws, stack)
        store.begin(doc_id, "run1")
        store.set_total(doc_id, "run1", 5)

        def chunk(number: int, first: int, rows: list[list[str]]) -> str:
            return json.dumps(
                {
                    "v": 1,
                    "type": "rows",
                    "doc_id": doc_id,
                    "run": "run1",
                    "chunk": number,
                    "first_row": first,
                    "columns": ["a"],
                    "errors": [],
                    "rows": rows,
                }
            )

        poison = [f"not json {doc_id}", chunk(9, 1, [["1", "extra"]])]
        good = [chunk(0, 1, [["1"], ["2"], ["3"]]), chunk(1, 4, [["4"], ["5"]])]
        gone = "f" * 32  # no such document (deleted): its chunk is acknowledged and dropped, not dead-lettered
        entries = [good[0], poison[0], good[1], poison[1], good[0], chunk(0, 1, [["x"]]).replace(doc_id, gone)]
        sqs.send_message_batch(
            QueueUrl=queue.url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(entries)]
        )
        queue.consume(RecordsConsumer(store), lambda: time.monotonic() + 60, pollers=1)
        progress = wait_final(store, doc_id)
        dead: list[str] = []
        limit = time.monotonic() + 30
        while len(dead) < len(poison) and time.monotonic() < limit:
            dead += queue.dead_letters()
            time.sleep(0.5)
        assert sorted(dead) == sorted(poison)
        assert (progress.state, progress.written, progress.failed) == (COMPLETE, 5, 0)
        assert all_rows(store, doc_id) == {n: {"a": str(n)} for n in range(1, 6)}
        assert all_rows(store, gone) == {}
    finally:
        queue.stop()


def test_a_long_file_continues_across_legs_through_the_queue(aws, stack, store, queue) -> None:
    doc_id = new_document(aws, stack)
    data = b"id,text\n" + b"".join(b'%d,"row %d\nsecond line"\n' % (i, i) for i in range(1, 401))
    key, etag, size = upload(aws, stack, data)
    clock = Ticks()  # each leg stops after about 15 records (half the 30 s visibility timeout)
    service = CsvFanOut(aws["s3"], aws["sqs"], queue.name, store, FanOutSettings(read_block=256), clock=clock)
    queue.consume(RecordsConsumer(store, service.resume), lambda: 10.0**12, pollers=1)
    first = service.start(doc_id, stack.names.bucket, key, size, etag, deadline=clock.now + 15)
    assert first.continuation is not None
    progress = wait_final(store, doc_id, timeout=120)
    assert (progress.state, progress.total, progress.written) == (COMPLETE, 400, 400)
    rows = all_rows(store, doc_id)
    assert rows[1] == {"id": "1", "text": "row 1\nsecond line"} and rows[400]["id"] == "400"
    assert queue.invocations > 20


def test_rows_are_read_back_page_by_page_with_a_signed_cursor(aws, stack, store) -> None:
    from chalicelib.aws.records_store import Row

    doc_id = new_document(aws, stack)
    store.begin(doc_id, "r")
    store.write(doc_id, [Row(n, {"a": str(n), "b": None}) for n in range(1, 8)], [])
    reader = RecordsReader(store, "secret")
    page = reader.page(doc_id, "owner-sub", 3, None)
    numbers = [r["row"] for r in page["items"]]
    while page["next"]:
        page = reader.page(doc_id, "owner-sub", 3, page["next"])
        numbers += [r["row"] for r in page["items"]]
    assert numbers == list(range(1, 8)) and page["items"][-1] == {"row": 7, "cells": {"a": "7", "b": None}}
