"""What one document asks of AWS, pinned: a regression in requests, bytes or writes fails here.

Three kinds, each taken the way a user's upload goes (POST /uploads' pending
record, the browser's POST, the S3 event's ingest, and for a table its rows
through SQS): a small PDF, a large video, a CSV. Every call the services make
is counted through botocore's event hooks (`bench.meter`, the same meter as
`make cost`), the extraction children's ranged GETs through a shared counter.
The services here have clients of their own and a records queue of their own,
so nothing else running on the emulator is counted.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from bench.meter import Meter, PresignedReads, Tally
from chalicelib.aws.bus import EventBus
from chalicelib.aws.purge import DocumentPurge
from chalicelib.aws.records_store import DynamoRecordsStore
from chalicelib.aws.repository import DynamoRepository
from chalicelib.aws.storage import S3Storage
from chalicelib.csv_fanout import CsvFanOut
from chalicelib.deletion import Deletion
from chalicelib.documents import DocumentService
from chalicelib.ingest import IngestService
from chalicelib.lifecycle import Lifecycle
from chalicelib.models import Caller, ObjectRef
from chalicelib.records import RecordsConsumer, handle_batch
from local.provision import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, clients, create_queue
from tests.support import media, samples

pytestmark = pytest.mark.emulator

READ_BUDGET = 256 * 1024
USER = Caller(sub=str(uuid.uuid4()), username="counted", groups=frozenset(), admin=False)


@dataclasses.dataclass
class Counted:
    meter: Meter
    reads: PresignedReads
    documents: DocumentService
    ingest: IngestService
    consumer: RecordsConsumer
    sqs: Any
    queue: str
    bucket: str

    def tally(self, step: Any) -> Tally:
        tally = Tally()
        before = self.reads.read()
        with self.meter.counting(tally):
            step()
        requests_made, got = (a - b for a, b in zip(self.reads.read(), before, strict=True))
        tally.requests["s3:GetObject (presigned range)"] += requests_made
        tally.s3_read_bytes += got
        return tally


@pytest.fixture(scope="module")
def counted(stack: Any, direct_bucket: str) -> Iterator[Counted]:
    aws = clients(stack.endpoint, stack.names.region)
    aws["s3"] = boto3.client(  # presigned POSTs signed as the app's client signs them (Signature Version 4)
        "s3",
        endpoint_url=stack.endpoint,
        region_name=stack.names.region,
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_SECRET_KEY,
        config=Config(signature_version="s3v4"),
    )
    settings = dataclasses.replace(_settings(), bucket=direct_bucket)
    queue = f"docpipe-records-counted-{uuid.uuid4().hex[:8]}"
    create_queue(aws["sqs"], queue, 60, 3)
    meter = Meter(stack.endpoint, stack.names.region, stack.names.table)
    for client in aws.values():
        meter.attach(client)
    repo = DynamoRepository(aws["dynamodb"], stack.names.table)
    storage = S3Storage(aws["s3"], settings)
    lifecycle = Lifecycle(EventBus(aws["events"], settings.event_bus))

    def records_final(doc_id: str, progress: Any) -> None:  # as wiring publishes RecordsIngested
        doc = repo.get(doc_id)
        if doc is not None:
            lifecycle.records_ingested(doc, progress.public())

    records = DynamoRecordsStore(aws["dynamodb"], stack.names.table, on_final=records_final)
    fan_out = CsvFanOut(aws["s3"], aws["sqs"], queue, records)
    deletion = Deletion(DocumentPurge(aws["dynamodb"], stack.names.table, aws["sqs"], queue), storage, settings)
    reads = PresignedReads(stack.endpoint, direct_bucket)
    reads.install()
    try:
        yield Counted(
            meter=meter,
            reads=reads,
            documents=DocumentService(repo, storage, settings, EventBus(aws["events"], settings.event_bus), deletion),
            ingest=IngestService(repo, storage, settings, lifecycle, lambda: fan_out),
            consumer=RecordsConsumer(records, fan_out.resume),
            sqs=clients(stack.endpoint, stack.names.region)["sqs"],  # the event source mapping's: not counted
            queue=aws["sqs"].get_queue_url(QueueName=queue)["QueueUrl"],
            bucket=direct_bucket,
        )
    finally:
        reads.uninstall()


def _settings() -> Any:
    from chalicelib import wiring

    return wiring.settings()


def one_document(counted: Counted, name: str, data: bytes, content_type: str) -> Tally:
    """POST /uploads, the browser's POST, the ingest, the records (if any): what it all cost."""
    body = {"filename": name, "content_type": content_type, "size": len(data)}
    created: dict[str, Any] = {}
    tally = counted.tally(lambda: created.update(counted.documents.create_upload(USER, body)))
    post = created["upload"]
    sent = requests.post(post["url"], data=post["fields"], files={"file": (name, data, content_type)}, timeout=60)
    assert sent.ok, sent.text
    doc = created["document"]
    ref = ObjectRef(counted.bucket, doc["key"], len(data))
    tally.add(counted.tally(lambda: counted.ingest.process(ref)))
    tally.add(counted.tally(lambda: _drain(counted)))
    return tally


def _drain(counted: Counted) -> None:
    while True:
        found = counted.sqs.receive_message(QueueUrl=counted.queue, MaxNumberOfMessages=10).get("Messages", [])
        if not found:
            return
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in found]
        assert handle_batch(counted.consumer, records) == {"batchItemFailures": []}
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)]
        counted.sqs.delete_message_batch(QueueUrl=counted.queue, Entries=entries)


def calls(tally: Tally, *prefixes: str) -> dict[str, int]:
    return {op: n for op, n in sorted(tally.requests.items()) if n and op.startswith(prefixes)}


def test_a_small_pdf_costs_three_document_writes_and_reads_only_what_it_is(counted: Counted) -> None:
    data = samples.pdf(pages=3)
    tally = one_document(counted, "report.pdf", data, "application/pdf")
    assert calls(tally, "dynamodb:") == {
        "dynamodb:GetItem": 1,  # the ingest finds the upload's pending record
        "dynamodb:PutItem": 1,  # POST /uploads: the pending record
        "dynamodb:Query": 1,  # the owner's documents of this size (duplicate candidates)
        "dynamodb:UpdateItem": 2,  # claim, finish
    }
    assert tally.item_writes == {"DOC": 3}
    assert calls(tally, "s3:") == {
        "s3:GetObject (presigned range)": 1,  # one block, read once for extraction, text and rendition
        "s3:HeadObject": 1,
        "s3:PutObject": 1,  # the rendition
    }
    assert tally.s3_read_bytes <= 2 * len(data)
    assert calls(tally, "events:", "sqs:") == {"events:PutEvents": 1}
    # index entries: the pending record puts three, the claim changes the listed status (and keeps the upload's
    # sweep entry), the finish changes the listed fields, puts the size entry and deletes the sweep entry
    assert index_units(tally) == {"by_owner": 3, "all_docs": 3, "by_deadline": 2, "by_size": 1}


def index_units(tally: Tally) -> dict[str, float]:
    return {name: units for name, units in sorted(tally.wcu_by.items()) if name != "table" and units}


def test_a_file_dropped_into_the_bucket_takes_two_writes_and_seven_index_entries(counted: Counted, stack: Any) -> None:
    data = samples.pdf(pages=2)
    key = f"uploads/{USER.sub}/{uuid.uuid4().hex[:8]}-dropped.pdf"
    clients(stack.endpoint, stack.names.region)["s3"].put_object(Bucket=counted.bucket, Key=key, Body=data)
    tally = counted.tally(lambda: counted.ingest.process(ObjectRef(counted.bucket, key, len(data))))
    assert tally.item_writes == {"DOC": 2}  # the claim creates the record, the finish completes it
    assert index_units(tally) == {"all_docs": 2, "by_deadline": 2, "by_owner": 2, "by_size": 1}


def test_a_large_video_is_read_at_its_ends_only(counted: Counted, tmp_path: Any) -> None:
    path = tmp_path / "clip.mp4"
    media.write_large_mp4(path, 32 * 1024 * 1024)
    tally = one_document(counted, "clip.mp4", path.read_bytes(), "video/mp4")
    assert "s3:GetObject" not in tally.requests  # no whole-object read: no sha256 without a same-size file
    assert tally.s3_read_bytes <= READ_BUDGET
    assert tally.requests["s3:GetObject (presigned range)"] <= 4
    assert tally.item_writes == {"DOC": 3}
    assert calls(tally, "dynamodb:UpdateItem", "dynamodb:PutItem") == {"dynamodb:PutItem": 1, "dynamodb:UpdateItem": 2}


def test_a_csv_sends_its_rows_in_one_message_and_writes_them_in_batches_of_25(counted: Counted) -> None:
    rows = 120
    data = b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(rows))
    tally = one_document(counted, "table.csv", data, "text/csv")
    assert tally.item_writes["ROW"] == rows
    assert tally.requests["dynamodb:BatchWriteItem"] == -(-rows // 25)
    assert tally.requests["sqs:SendMessageBatch"] == 1
    assert tally.requests["s3:GetObject"] == 1  # the producer streams the file once; no other whole read
    # the document's 3 writes, then records progress: begun, total known, the one chunk counted, complete
    assert tally.item_writes["DOC"] == 7, tally.item_writes
    assert tally.requests["events:PutEvents"] == 2  # DocumentProcessed, RecordsIngested


def test_a_large_photo_is_read_no_deeper_than_256_kb_and_keeps_a_thumbnail(counted: Counted) -> None:
    data = samples.large_photo(thumbnail=True)
    tally = one_document(counted, "photo.jpg", data, "image/jpeg")
    assert len(data) > 1024 * 1024 and tally.s3_read_bytes <= 256 * 1024
    assert tally.requests["s3:GetObject (presigned range)"] <= 2 and "s3:GetObject" not in tally.requests
    assert calls(tally, "s3:PutObject") == {"s3:PutObject": 1}  # the rendition, its thumbnail the EXIF preview
    assert tally.item_writes == {"DOC": 3}


def test_showing_a_stored_document_and_downloading_it_takes_one_read_and_no_storage_request(
    counted: Counted,
) -> None:
    data = samples.pdf(pages=1)
    body = {"filename": "shown.pdf", "content_type": "application/pdf", "size": len(data)}
    created = counted.documents.create_upload(USER, body)
    post = created["upload"]
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("shown.pdf", data)}, timeout=60)
    assert sent.ok, sent.text
    counted.ingest.process(ObjectRef(counted.bucket, created["document"]["key"], len(data)))
    shown: dict[str, Any] = {}
    tally = counted.tally(lambda: shown.update(counted.documents.describe(USER, created["document"]["id"])))
    assert calls(tally, "dynamodb:", "s3:") == {"dynamodb:GetItem": 1}
    assert requests.get(shown["download"]["url"], timeout=10).content == data
