"""EventBridge on the emulator: lifecycle events for subscribers, producer events stored and queryable."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import wait_for
from tests.integration.test_api_on_emulator import final, h, upload
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def subscriber(aws: dict[str, Any]) -> Iterator[str]:
    """Another system subscribed to docpipe's lifecycle events through its own rule and queue."""
    sqs, events = aws["sqs"], aws["events"]
    url = sqs.create_queue(QueueName=f"subscriber-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"subscriber-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["docpipe"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    yield url
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)


def received(aws: dict[str, Any], url: str, doc_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def poll() -> list[dict[str, Any]]:
        for m in (
            aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        ):
            seen.append(json.loads(m["Body"]))
        return [e for e in seen if e["detail"]["document"]["id"] == doc_id]

    result: list[dict[str, Any]] = wait_for(poll)
    return result


def test_a_processed_document_is_announced_with_a_versioned_schema(api, tokens, pump, aws, subscriber) -> None:
    created = upload(api, tokens, "demo", "announce.pdf", samples.pdf(pages=2), "application/pdf")
    doc_id = created["document"]["id"]
    final(api, tokens, "demo", doc_id)
    (event,) = received(aws, subscriber, doc_id)
    assert (event["source"], event["detail-type"]) == ("docpipe", "DocumentProcessed")
    detail = event["detail"]
    assert detail["schema_version"] == "1"
    assert detail["document"]["owner"] == tokens["demo"]["sub"] and detail["document"]["family"] == "pdf"


def test_a_failed_document_is_announced_with_its_reason(api, tokens, pump, aws, subscriber) -> None:
    created = upload(api, tokens, "demo", "broken.pdf", b"%PDF-1.7\n garbage", "application/pdf")
    doc_id = created["document"]["id"]
    final(api, tokens, "demo", doc_id)
    (event,) = received(aws, subscriber, doc_id)
    assert event["detail-type"] == "DocumentFailed"
    assert event["detail"]["document"]["error"]["code"] == "corrupt"


def test_producer_events_are_listed_for_their_submitter_and_all_of_them_for_admins(api, tokens, pump, aws) -> None:
    marker = uuid.uuid4().hex
    sent = requests.post(
        f"{api}/events",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"detail_type": "Invoice Paid", "detail": {"marker": marker}},
    ).json()
    aws["events"].put_events(
        Entries=[{"Source": "docpipe.producer", "DetailType": "<bad type>", "Detail": json.dumps({"marker": marker})}]
    )

    def listed(who: str) -> list[dict[str, Any]]:
        items = requests.get(f"{api}/events?limit=100", headers=h(tokens, who), timeout=5).json()["items"]
        return [e for e in items if marker in json.dumps(e["detail"])]

    mine = wait_for(lambda: listed("demo"))
    assert [(e["id"], e["state"], e["detail_type"]) for e in mine] == [(sent["event_id"], "ACCEPTED", "Invoice Paid")]
    everyone = wait_for(lambda: len(listed("admin")) == 2 and listed("admin"))
    rejected = [e for e in everyone if e["state"] == "REJECTED"]
    assert len(rejected) == 1 and "detail-type" in rejected[0]["reason"]
    assert listed("other") == []


def test_a_finished_csv_ingestion_is_announced_once(api, tokens, pump, aws, subscriber) -> None:
    body = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50))
    created = upload(api, tokens, "demo", "numbers.csv", body.encode(), "text/csv")
    doc_id = created["document"]["id"]

    def ingested() -> list[dict[str, Any]]:
        return [e for e in received(aws, subscriber, doc_id) if e["detail-type"] == "RecordsIngested"]

    (event,) = wait_for(ingested, timeout=60)
    assert event["detail"]["records"] == {"state": "COMPLETE", "total": 50, "written": 50, "failed": 0}
    assert event["detail"]["document"]["filename"] == "numbers.csv"
