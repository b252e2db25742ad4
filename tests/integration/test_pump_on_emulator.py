"""The local pump delivers S3 notifications and SQS batches the way Lambda does."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.ingest import dropped_document_id
from chalicelib.models import Status
from tests.integration.conftest import wait_for
from tests.support import samples

pytestmark = pytest.mark.emulator


def test_a_file_put_in_s3_is_processed_through_the_notification_queue(aws, stack, pump) -> None:
    key = f"uploads/pump {uuid.uuid4().hex}/r+1.pdf"
    aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=samples.pdf(pages=2))
    doc_id = dropped_document_id(stack.names.bucket, key)

    def processed() -> Any:
        doc = wiring.repository().get(doc_id)
        return doc if doc and doc.status is Status.PROCESSED else None

    doc = wait_for(processed)
    assert doc.key == key and doc.metadata["page_count"] == 2


def test_a_batch_with_a_poison_message_writes_the_good_rows_once_and_dead_letters_the_poison(aws, stack, pump) -> None:
    sqs = aws["sqs"]
    url = stack.queues[stack.names.records_queue]
    dlq = sqs.get_queue_url(QueueName=f"{stack.names.records_queue}-dlq")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    time.sleep(1.5)  # a receive already waiting keeps the timeout it started with
    doc_id = uuid.uuid4().hex
    try:
        good = {"doc_id": doc_id, "chunk": 1, "first_row": 1, "columns": ["a"], "rows": [["1"], ["2"], ["3"]]}
        poison_marker = f"poison-{doc_id}"
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "good", "MessageBody": json.dumps(good)},
                {"Id": "again", "MessageBody": json.dumps(good)},
                {"Id": "poison", "MessageBody": poison_marker},
            ],
        )

        def dead_lettered() -> bool:
            msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            return any(m["Body"] == poison_marker for m in msgs)

        assert wait_for(dead_lettered, timeout=30)
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(stack.names.visibility_timeout)})
    rows = aws["dynamodb"].query(
        TableName=stack.names.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :row)",
        ExpressionAttributeValues={":pk": {"S": f"DOC#{doc_id}"}, ":row": {"S": "ROW#"}},
    )["Items"]
    assert sorted(int(r["row"]["N"]) for r in rows) == [1, 2, 3]


def test_a_producer_event_is_routed_by_its_rule_and_stored_once(aws, stack, pump) -> None:
    detail = {"order": uuid.uuid4().hex}
    entry = {"Source": "docpipe.producer", "DetailType": "OrderPlaced", "Detail": json.dumps(detail)}
    other = {"Source": "someone.else", "DetailType": "OrderPlaced", "Detail": json.dumps(detail)}
    aws["events"].put_events(Entries=[entry, other])
    table = stack.names.table

    def stored() -> list[dict[str, Any]]:
        items = aws["dynamodb"].scan(
            TableName=table, FilterExpression="begins_with(pk, :e)", ExpressionAttributeValues={":e": {"S": "EVENT#"}}
        )["Items"]
        return [i for i in items if json.loads(i["detail"]["S"]) == detail]

    items = wait_for(stored)
    time.sleep(1.0)
    assert len(stored()) == 1 and items[0]["source"]["S"] == "docpipe.producer"
