"""Where the mapping cannot report batch item failures (after `chalice deploy`), the records consumer
deletes what it handled and fails, so failed messages are retried and reach the DLQ instead of being lost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.sqs_batch import PartialBatchFailure, settle_batch
from local.provision import clients, create_queue
from local.pump import sqs_record

pytestmark = pytest.mark.emulator


@pytest.fixture
def queue(emulator: Any) -> tuple[Any, str, str]:
    sqs = clients(emulator.endpoint, "us-east-1")["sqs"]
    url, arn = create_queue(sqs, f"settle-{id(object())}", visibility_timeout=1, max_receive_count=5)
    return sqs, url, arn


def _batch(sqs: Any, url: str, arn: str, count: int) -> list[dict[str, Any]]:
    for n in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    got: list[dict[str, Any]] = []
    while len(got) < count:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    return [sqs_record(m, arn, "us-east-1") for m in got]


def _bodies(sqs: Any, url: str) -> list[int]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3).get("Messages", [])
    return sorted(json.loads(m["Body"])["n"] for m in got)


def test_the_handled_messages_are_deleted_and_the_failed_ones_stay_for_a_retry(queue):
    sqs, url, arn = queue
    records = _batch(sqs, url, arn, 4)
    failed = [r for r in records if json.loads(r["body"])["n"] in (1, 3)]
    response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}
    with pytest.raises(PartialBatchFailure) as raised:
        settle_batch(sqs, records, response)
    assert sorted(raised.value.failed) == sorted(r["messageId"] for r in failed)
    assert _bodies(sqs, url) == [1, 3]  # back after the visibility timeout; 0 and 2 are gone


def test_a_batch_without_failures_is_left_to_lambda_to_delete(queue):
    sqs, url, arn = queue
    records = _batch(sqs, url, arn, 2)
    assert settle_batch(sqs, records, {"batchItemFailures": []}) == {"batchItemFailures": []}
    assert _bodies(sqs, url) == [0, 1]  # nothing deleted here: Lambda deletes a successful batch


def test_where_the_mapping_reports_failures_the_response_is_returned_untouched(monkeypatch):
    response = {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    monkeypatch.setenv("DOCPIPE_REPORTS_BATCH_ITEM_FAILURES", "1")
    wiring.reset()
    try:
        assert wiring.records_response([{"messageId": "m-1"}], response) is response
    finally:
        monkeypatch.delenv("DOCPIPE_REPORTS_BATCH_ITEM_FAILURES")
        wiring.reset()
