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


def test_a_csv_dropped_in_s3_is_ingested_row_by_row_through_the_records_queue(aws, stack, pump) -> None:
    key = f"uploads/pump-{uuid.uuid4().hex}/orders.csv"
    body = "id,item,amount\n" + "".join(f"{i},thing {i},{i}.50\n" for i in range(1, 301))
    aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=body.encode())
    doc_id = dropped_document_id(stack.names.bucket, key)

    def complete() -> Any:
        doc = wiring.repository().get(doc_id)
        return doc if doc and (doc.records or {}).get("state") == "COMPLETE" else None

    doc = wait_for(complete, timeout=60)
    assert doc.status is Status.PROCESSED
    assert doc.records == {"state": "COMPLETE", "total": 300, "written": 300, "failed": 0}
    rows = wiring.records_store().rows_page(doc_id, 5, None).items
    assert [(r.number, r.cells) for r in rows[:2]] == [
        (1, {"id": "1", "item": "thing 1", "amount": "1.50"}),
        (2, {"id": "2", "item": "thing 2", "amount": "2.50"}),
    ]


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
