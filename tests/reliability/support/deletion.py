"""Deleting a large CSV while its rows are still being ingested: the scenario and its figures.

The same code runs small under pytest and full size (300,000 rows) in
`bench.reliability`: a CSV is dropped under a user's prefix, the pump starts
ingesting it, and once rows are being written the user deletes it through the
API. Figures: how long the DELETE request took, how long until the document
was gone, what is left of its partition, what reached the dead-letter queues.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from chalicelib.ingest import dropped_document_id
from tests.reliability.support.load import dead_letter_count
from tests.reliability.support.scenarios import wait_until


@dataclass
class DeletionFigures:
    rows: int
    written_when_deleted: int = 0
    request_seconds: float = 0.0
    status_code: int = 0
    gone_after_seconds: float | None = None
    items_left: int = -1
    object_left: bool = True
    dead_letters: int = 0


def csv_rows(rows: int) -> bytes:
    lines = [f"{n},item {n},{n * 7 % 1000}.{n % 100:02d},note about row {n}" for n in range(1, rows + 1)]
    return ("id,item,amount,note\n" + "\n".join(lines) + "\n").encode()


def partition_items(dynamodb: Any, table: str, doc_id: str) -> int:
    count = 0
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :pk", "Select": "COUNT"}
    params["ExpressionAttributeValues"] = {":pk": {"S": f"DOC#{doc_id}"}}
    while True:
        resp = dynamodb.query(**params)
        count += int(resp.get("Count", 0))
        if not resp.get("LastEvaluatedKey"):
            return count
        params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def delete_during_ingest(
    api: str, token: str, sub: str, aws: dict[str, Any], bucket: str, table: str, rows: int, timeout: float = 300
) -> DeletionFigures:
    figures = DeletionFigures(rows)
    dead_before = dead_letter_count(aws["sqs"])
    key = f"uploads/{sub}/delete-{uuid.uuid4().hex[:8]}/big.csv"
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=csv_rows(rows))
    doc_id = dropped_document_id(bucket, key)
    headers = {"Authorization": token}

    def ingesting() -> int:
        resp = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=10)
        written = int(((resp.json() if resp.status_code == 200 else {}).get("records") or {}).get("written") or 0)
        return written

    figures.written_when_deleted = wait_until(ingesting, timeout=timeout, interval=0.1) or 0
    started = time.monotonic()
    asked = requests.delete(f"{api}/documents/{doc_id}", headers=headers, timeout=60)
    figures.request_seconds = time.monotonic() - started
    figures.status_code = asked.status_code

    def gone() -> bool:
        return requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=10).status_code == 404

    if wait_until(gone, timeout=timeout, interval=0.5):
        figures.gone_after_seconds = time.monotonic() - started
    time.sleep(2.0)  # chunks still in flight meet a deleted document
    figures.items_left = partition_items(aws["dynamodb"], table, doc_id)
    figures.object_left = aws["s3"].list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0
    figures.dead_letters = dead_letter_count(aws["sqs"]) - dead_before
    return figures
