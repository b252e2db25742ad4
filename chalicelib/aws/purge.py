"""Deleting a document, item by item, in bounded steps driven by the records queue.

A document's partition can hold hundreds of thousands of CSV rows: deleting
them takes minutes, far longer than an API request may (API Gateway cuts at
29 s). So a delete only marks the document DELETING (`mark`), and "purge"
messages on the records queue remove its items in batches (`delete_items`)
until only the document is left, which goes last (`remove`). Every step is
idempotent: a purge message delivered twice, or retried after a failure,
deletes what is left and nothing else.

Marking also takes the document out of everything that could write to it
again: the processing attempt loses its token (its finishing write fails),
the records run is cleared (every chunk still in the queue is dropped, and a
chunk whose rows were written just before is removed again by its consumer,
see `records.RecordsConsumer`), the duplicate index goes, and no new attempt
or records run may start (`repository.begin_expression` and
`records_store.begin` refuse a DELETING document). The sweeper's deadline
index holds it as DELETING until it is gone: should a purge step be lost
(dead-lettered), the sweeper queues another (`RETRY_SECONDS` apart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws.batch_write import batch_write, delete_requests
from chalicelib.aws.records_store import COUNTED_CHUNKS, RUN_ATTR
from chalicelib.aws.table import DOC_SK, conditional_failed, deadline_keys, doc_key, doc_pk, dump, load
from chalicelib.models import Status

PURGE = "purge"
MESSAGE_VERSION = 1
KEYS_PER_QUERY = 1000
MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds."""
RETRY_SECONDS = 900
"""When the sweeper looks again at a document still DELETING."""


def purge_message(doc_id: str) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "type": PURGE, "doc_id": doc_id})


class DocumentPurge:
    """The DynamoDB and SQS side of deleting documents."""

    def __init__(self, dynamodb: Any, table: str, sqs: Any, queue_name: str) -> None:
        self._db = dynamodb
        self._table = table
        self._sqs = sqs
        self._queue_name = queue_name
        self._queue_url: str | None = None

    # -- the request ---------------------------------------------------------
    def mark(self, doc_id: str, now: str, now_epoch: int) -> bool:
        """DELETING from now on (asking again changes nothing); False when the document does not exist."""
        gone = ["attempt", "lease_until", "gsi3pk", "gsi3sk", "pending_etag", RUN_ATTR, COUNTED_CHUNKS]
        retry = deadline_keys(Status.DELETING.value, now_epoch + RETRY_SECONDS, doc_id)
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                UpdateExpression=(
                    "SET #s = :deleting, updated_at = :now, gsi4pk = :dpk, gsi4sk = :dsk, "
                    "#t = list_append(if_not_exists(#t, :empty), :event) REMOVE "
                    + ", ".join(f"#g{i}" for i in range(len(gone)))
                ),
                ConditionExpression="attribute_exists(pk) AND #s <> :deleting",
                ExpressionAttributeNames={
                    "#s": "status",
                    "#t": "timeline",
                    **{f"#g{i}": name for i, name in enumerate(gone)},
                },
                ExpressionAttributeValues=dump(
                    {
                        ":deleting": Status.DELETING.value,
                        ":now": now,
                        ":dpk": retry["gsi4pk"],
                        ":dsk": retry["gsi4sk"],
                        ":empty": [],
                        ":event": [{"at": now, "event": "deletion_requested"}],
                    }
                ),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return self.is_deleting(doc_id)
            raise
        return True

    def send(self, doc_id: str, delay_seconds: int = 0) -> None:
        """Queue a purge step for the document (after `delay_seconds`, at most SQS's 900)."""
        if self._queue_url is None:
            self._queue_url = str(self._sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=purge_message(doc_id),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(delay_seconds))),
        )

    # -- the purge steps -------------------------------------------------------
    def is_deleting(self, doc_id: str) -> bool:
        resp = self._db.get_item(
            TableName=self._table,
            Key=dump(doc_key(doc_id)),
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        )
        return bool(load(resp.get("Item") or {}).get("status") == Status.DELETING.value)

    def delete_items(
        self, doc_id: str, deadline: float, clock: Callable[[], float] = time.monotonic
    ) -> tuple[int, bool]:
        """Delete the partition's items but the document itself, a page at a time, until none is left or the
        deadline passes: (items deleted, whether none is left)."""
        deleted = 0
        while True:
            resp = self._db.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=dump({":pk": doc_pk(doc_id)}),
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
                Limit=KEYS_PER_QUERY,
            )
            keys = [key for key in resp.get("Items", []) if key["sk"]["S"] != DOC_SK]
            if keys:
                batch_write(self._db, self._table, delete_requests(keys))
                deleted += len(keys)
            if not keys and not resp.get("LastEvaluatedKey"):
                return deleted, True
            if clock() >= deadline:
                return deleted, False

    def remove(self, doc_id: str) -> bool:
        """Delete the document itself, if it is still DELETING; False when it is not (or is gone)."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=dump(doc_key(doc_id)),
                ConditionExpression="#s = :deleting",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=dump({":deleting": Status.DELETING.value}),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True
