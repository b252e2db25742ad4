"""CSV records benchmark on the local stack: SQS requests, end-to-end time, producer memory.

Usage: python -m bench.records [ROWS]   (default 1,000,000; any smaller count works)

Starts its own emulator (moto server), creates a bucket, the table and a
records queue with its DLQ, uploads a generated CSV of ROWS rows (multipart,
streamed), then measures:
- SQS requests: the producer's SendMessageBatch calls and every SQS call the
  consumer made (receive, delete), against one message per row (ROWS sends);
- end-to-end time: from the producer's start until records.state is final,
  with the consumer running as the local pump runs it (two pollers, batches
  of 10, ReportBatchItemFailures), against a plain BatchWriteItem loop
  writing the same rows to the same emulator;
- peak RSS of the producer, which runs in a child process of its own.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from chalicelib.aws.records_store import FINAL_STATES, DynamoRecordsStore, Row, row_item
from chalicelib.records import RecordsConsumer, handle_batch
from local.emulator import Emulator, free_port
from local.provision import clients, create_queue, create_table, queue_arn
from local.pump import QueuePoller, failed_ids, sqs_record

BUCKET = "bench-records"
TABLE = "bench-records"
QUEUE = "bench-records"
KEY = "uploads/bench.csv"
REGION = "us-east-1"


def csv_lines(rows: int) -> Iterator[bytes]:
    yield b"id,name,amount,city,comment\n"
    for i in range(1, rows + 1):
        yield b'%d,customer %d,%d.%02d,City %d,"note, with a comma"\n' % (i, i, i % 9973, i % 100, i % 1000)


def upload(s3: Any, rows: int) -> tuple[int, str]:
    """Multipart upload of the generated CSV, 8 MiB parts, never held whole."""
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=KEY)["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer, size = io.BytesIO(), 0

    def send() -> None:
        data = buffer.getvalue()
        etag = s3.upload_part(Bucket=BUCKET, Key=KEY, UploadId=upload_id, PartNumber=len(parts) + 1, Body=data)
        parts.append({"ETag": etag["ETag"], "PartNumber": len(parts) + 1})
        buffer.seek(0)
        buffer.truncate()

    for line in csv_lines(rows):
        buffer.write(line)
        size += len(line)
        if buffer.tell() >= 8 * 1024 * 1024:
            send()
    if buffer.tell():
        send()
    s3.complete_multipart_upload(Bucket=BUCKET, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": parts})
    etag = s3.head_object(Bucket=BUCKET, Key=KEY)["ETag"].strip('"')
    return size, etag


def produce_in_child(endpoint: str, doc_id: str, size: int, etag: str) -> dict[str, Any]:
    """Runs the producer in a child process; returns its result and peak RSS."""
    args = [sys.executable, "-m", "bench.records", "--produce", endpoint, doc_id, str(size), etag]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_kib"] = max(after, before)
    return result


def producer_main(endpoint: str, doc_id: str, size: int, etag: str) -> None:
    from chalicelib.csv_fanout import CsvFanOut

    aws = clients(endpoint, REGION)
    store = DynamoRecordsStore(aws["dynamodb"], TABLE)
    service = CsvFanOut(aws["s3"], aws["sqs"], QUEUE, store)
    started = time.monotonic()
    result = service.start(doc_id, BUCKET, KEY, size, etag, deadline=time.monotonic() + 3600)
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "messages": result.messages,
                "requests": result.requests,
                "total": result.total,
                "seconds": elapsed,
                "self_peak_rss_kib": peak,
            }
        )
    )


class CountingSqs:
    """Counts every SQS API call a client makes."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-call.sqs", self._count)

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1


def start_consumer(aws: dict[str, Any], url: str, store: DynamoRecordsStore, halt: threading.Event) -> None:
    arn = queue_arn(aws["sqs"], url)
    consumer = RecordsConsumer(store)

    def deliver(messages: list[dict[str, Any]]) -> set[str]:
        ids = {m["MessageId"] for m in messages}
        records = [sqs_record(m, arn, REGION) for m in messages]
        return failed_ids(handle_batch(consumer, records, time.monotonic() + 600), ids)

    for i in range(2):
        QueuePoller(f"bench-consumer-{i}", aws["sqs"], url, 10, deliver, halt).start()


def plain_loop(ddb: Any, rows: int) -> float:
    """The baseline: parse the same rows and BatchWriteItem them 25 at a time, in one thread."""
    doc_id = uuid.uuid4().hex
    reader = csv.reader(io.TextIOWrapper(io.BufferedReader(_LineStream(csv_lines(rows))), encoding="utf-8"))
    columns = next(reader)
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    for number, cells in enumerate(reader, start=1):
        batch.append({"PutRequest": {"Item": row_item(doc_id, Row(number, dict(zip(columns, cells, strict=True))))}})
        if len(batch) == 25:
            _write(ddb, batch)
            batch = []
    if batch:
        _write(ddb, batch)
    return time.monotonic() - started


def _write(ddb: Any, batch: list[dict[str, Any]]) -> None:
    while batch:
        batch = ddb.batch_write_item(RequestItems={TABLE: batch}).get("UnprocessedItems", {}).get(TABLE, [])


class _LineStream(io.RawIOBase):
    def __init__(self, lines: Iterator[bytes]) -> None:
        super().__init__()
        self._lines = lines
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            self._rest = next(self._lines, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def main(rows: int) -> None:
    emulator = Emulator(port=free_port()).start()
    try:
        run(emulator.endpoint, rows)
    finally:
        emulator.stop()


def run(endpoint: str, rows: int) -> None:
    aws = clients(endpoint, REGION)
    aws["s3"].create_bucket(Bucket=BUCKET)
    create_table(aws["dynamodb"], TABLE)
    url, _ = create_queue(aws["sqs"], QUEUE, 900, 3)
    size, etag = upload(aws["s3"], rows)
    print(f"rows: {rows:,}   CSV size: {size / 1e6:.1f} MB")

    doc_id = uuid.uuid4().hex
    aws["dynamodb"].put_item(TableName=TABLE, Item={"pk": {"S": f"DOC#{doc_id}"}, "sk": {"S": "DOC"}})
    store = DynamoRecordsStore(aws["dynamodb"], TABLE)
    counter = CountingSqs(aws["sqs"])
    halt = threading.Event()
    started = time.monotonic()
    start_consumer(aws, url, store, halt)
    produced = produce_in_child(endpoint, doc_id, size, etag)
    while True:
        progress = store.progress(doc_id)
        if progress and progress.state in FINAL_STATES:
            break
        time.sleep(0.5)
    end_to_end = time.monotonic() - started
    halt.set()
    consumer_calls = counter.calls

    baseline = plain_loop(aws["dynamodb"], rows)

    sends = produced["requests"]
    print(f"records state: {progress.state}  total {progress.total:,}  written {progress.written:,}")
    print(f"SQS messages: {produced['messages']:,} ({rows / max(1, produced['messages']):,.0f} rows per message)")
    print(
        f"SQS requests: producer {sends:,} SendMessageBatch + consumer {consumer_calls:,} (receive/delete) "
        f"= {sends + consumer_calls:,}; one message per row: {rows:,} SendMessage "
        f"-> ratio {(sends + consumer_calls) / rows:.5f} (goal <= 0.01)"
    )
    print(
        f"end-to-end: {end_to_end:.1f} s (producer alone {produced['seconds']:.1f} s); "
        f"plain BatchWriteItem loop: {baseline:.1f} s -> ratio {end_to_end / baseline:.2f} (goal <= 2)"
    )
    print(f"producer peak RSS: {produced['self_peak_rss_kib'] / 1024:.1f} MiB")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--produce":
        producer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main(int(sys.argv[1].replace("_", "").replace(",", "")) if len(sys.argv) > 1 else 1_000_000)
