"""The app's handlers through chalice.test.Client, fed recorded Lambda-shaped events.

The handlers talk to the emulator (real S3 and DynamoDB over HTTP); the
Client plays Lambda and API Gateway. It does not verify JWTs (the local
gateway tests cover that): here unsigned tokens carry the claims, which is
what API Gateway hands to the function once it has verified a token.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import wiring
from chalicelib.ingest import dropped_document_id
from tests.support import samples

pytestmark = pytest.mark.emulator

EVENTS = Path(__file__).parent / "events"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def claims_token(sub: str, groups: list[str] | None = None) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims: dict[str, Any] = {"sub": sub, "cognito:username": sub[:8], "token_use": "id"}
    if groups:
        claims["cognito:groups"] = ",".join(groups)
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


@pytest.fixture
def client(stack: Any) -> Iterator[Client]:
    with Client(app_module.app, stage_name="functional-tests") as c:
        yield c


def s3_event_for(bucket: str, aws: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    """A recorded S3 event for an object put in a bucket that notifies no one (no pump races the handler)."""
    etag = aws["s3"].put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    event = copy.deepcopy(recorded("s3_object_created.json"))
    obj = event["Records"][0]["s3"]["object"]
    obj.update(key=quote_plus(key), size=len(body), eTag=etag)
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    return event


def test_the_s3_handler_processes_a_recorded_event_with_an_encoded_key(client, direct_bucket, aws) -> None:
    key = f"uploads/fn {uuid.uuid4().hex}/é+1 %.pdf"
    result = client.lambda_.invoke("on_upload", s3_event_for(direct_bucket, aws, key, samples.pdf(pages=4)))
    outcome = result.payload["outcomes"][0]
    assert outcome["status"] == "PROCESSED"
    assert outcome["doc_id"] == dropped_document_id(direct_bucket, key)
    doc = wiring.repository().get(outcome["doc_id"])
    assert doc is not None and doc.key == key and doc.metadata["page_count"] == 4


def test_the_s3_handler_skips_a_duplicate_delivery(client, direct_bucket, aws) -> None:
    event = s3_event_for(direct_bucket, aws, f"uploads/fn-{uuid.uuid4().hex}.jpg", samples.jpeg())
    first = client.lambda_.invoke("on_upload", event).payload["outcomes"][0]
    second = client.lambda_.invoke("on_upload", event).payload["outcomes"][0]
    assert (first["status"], second["status"]) == ("PROCESSED", "SKIPPED")


def test_the_records_consumer_reports_only_the_failed_message(client, stack) -> None:
    from chalicelib.models import Document, Status, utcnow

    doc_id, now = uuid.uuid4().hex, utcnow()
    wiring.repository().create_pending(
        Document(doc_id, "u", stack.names.bucket, "uploads/u/t.csv", "t.csv", Status.PENDING, now, now)
    )
    wiring.records_store().begin(doc_id, "run1")
    event = recorded("sqs_records.json")
    good = copy.deepcopy(event["Records"][0])
    good["body"] = json.dumps(
        {
            "v": 1,
            "type": "rows",
            "doc_id": doc_id,
            "run": "run1",
            "chunk": 0,
            "first_row": 1,
            "columns": ["a"],
            "rows": [["x"]],
            "errors": [],
        }
    )
    bad = copy.deepcopy(event["Records"][0])
    bad["messageId"] = "poison-1"
    bad["body"] = "not json"
    result = client.lambda_.invoke("on_records", {"Records": [good, bad]})
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert [r.number for r in wiring.records_store().rows_page(doc_id, 10, None).items] == [1]


def test_the_eventbridge_handler_stores_a_producer_event_once(client, stack) -> None:
    event = recorded("eventbridge_producer.json")
    event["id"] = str(uuid.uuid4())
    assert client.lambda_.invoke("on_producer_event", event).payload == {"state": "ACCEPTED"}
    assert client.lambda_.invoke("on_producer_event", event).payload == {"state": "DUPLICATE"}


def test_health_and_config_answer_without_a_token(client, stack) -> None:
    assert client.http.get("/health").json_body == {"status": "ok"}
    assert client.http.get("/config").json_body["user_pool_id"] == stack.user_pool_id


def test_a_route_reached_without_claims_is_unauthorized(client, stack) -> None:
    resp = client.http.get("/documents")
    assert resp.status_code == 401 and resp.json_body["code"] == "unauthorized"


def test_documents_are_listed_for_their_owner_only(client, direct_bucket, aws) -> None:
    owner = str(uuid.uuid4())
    key = f"uploads/{owner}/mine.pdf"
    outcome = client.lambda_.invoke("on_upload", s3_event_for(direct_bucket, aws, key, samples.pdf())).payload[
        "outcomes"
    ][0]
    mine = client.http.get("/documents", headers={"Authorization": claims_token(owner)}).json_body
    assert [d["id"] for d in mine["items"]] == [outcome["doc_id"]]
    theirs = client.http.get(f"/documents/{outcome['doc_id']}", headers={"Authorization": claims_token("intruder")})
    assert theirs.status_code == 404


def test_a_malformed_document_id_is_not_found(client, stack) -> None:
    resp = client.http.get("/documents/..%2F..%2Fetc", headers={"Authorization": claims_token("u")})
    assert resp.status_code == 404
