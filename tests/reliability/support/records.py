"""CSV rows through S3 → SQS → DynamoDB while DynamoDB throttles and leaves items unprocessed.

The queue, its DLQ and its Lambda-like consumer are the records integration
suite's own (`tests.integration.test_records_on_emulator.Queue`); the store
writes through the app's DynamoDB client, on which the faults are injected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tests.reliability.support.faults import BotoFaults, FaultPlan, UnprocessedItems, dynamodb_throttle


@dataclass
class RecordsFigures:
    rows: int
    stored: int = 0
    lost: int = 0
    dead_letters: int = 0
    state: str = ""
    unprocessed_injected: int = 0
    throttles_injected: int = 0
    max_attempt: int = 0
    seconds: float = 0.0


def records_under_faults(aws: dict[str, Any], stack: Any, rows: int, plan: FaultPlan) -> RecordsFigures:
    from chalicelib import wiring
    from chalicelib.aws.records_store import DynamoRecordsStore
    from chalicelib.config import FanOutSettings
    from chalicelib.csv_fanout import CsvFanOut
    from chalicelib.records import RecordsConsumer
    from tests.integration.test_records_on_emulator import Queue, all_rows, new_document, upload, wait_final

    client = wiring.client("dynamodb")
    store = DynamoRecordsStore(client, stack.names.table)
    queue = Queue(aws["sqs"])
    figures = RecordsFigures(rows)
    data = b"id,name,amount\n" + b"".join(b"%d,name %d,%d.50\n" % (i, i, i * 7) for i in range(1, rows + 1))
    unprocessed = UnprocessedItems(client, plan)
    throttles = BotoFaults(client, plan, (dynamodb_throttle,), frozenset({"BatchWriteItem", "UpdateItem"}))
    started = time.monotonic()
    try:
        with unprocessed.active(), throttles.active():
            doc_id = new_document(aws, stack)
            key, etag, size = upload(aws, stack, data)
            service = CsvFanOut(aws["s3"], aws["sqs"], queue.name, store, FanOutSettings(message_bytes=2048))
            queue.consume(RecordsConsumer(store, service.resume), lambda: time.monotonic() + 60)
            service.start(doc_id, stack.names.bucket, key, size, etag, deadline=time.monotonic() + 60)
            progress = wait_final(store, doc_id, timeout=60)
        figures.state = progress.state
        stored = all_rows(store, doc_id)
        figures.stored = len(stored)
        figures.lost = sum(1 for i in range(1, rows + 1) if stored.get(i, {}).get("name") != f"name {i}")
        figures.dead_letters = len(queue.dead_letters())
    finally:
        queue.stop()
    figures.seconds = time.monotonic() - started
    figures.unprocessed_injected = unprocessed.log.total
    figures.throttles_injected = throttles.log.total
    figures.max_attempt = throttles.log.max_attempt
    return figures
