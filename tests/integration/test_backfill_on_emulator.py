"""Backfills end to end on the emulator: the admin API, the real state machine, the backfill queue, ingest.

The state machine is the definition AWS gets (infra/backfill.asl.json), run by
the emulator's interpreter; the backfill queue is drained by the pump exactly
as the on_backfill Lambda's event source would drain it, next to (not instead
of) the live upload path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from chalicelib.aws.table import doc_key, dump
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.ingest import dropped_document_id
from chalicelib.models import utcnow
from tests.integration.conftest import wait_for
from tests.support import samples

pytestmark = pytest.mark.emulator


def h(tokens: dict[str, Any], who: str = "admin") -> dict[str, str]:
    return {"Authorization": tokens[who]["IdToken"]}


def start(api: str, tokens: dict[str, Any], body: dict[str, Any], who: str = "admin") -> dict[str, Any]:
    resp = requests.post(f"{api}/admin/backfills", headers=h(tokens, who), json=body, timeout=10)
    assert resp.status_code == 202, resp.text
    data: dict[str, Any] = resp.json()
    return data


def run_of(api: str, tokens: dict[str, Any], run_id: str) -> dict[str, Any]:
    resp = requests.get(f"{api}/admin/backfills/{run_id}", headers=h(tokens), timeout=10)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def finished(api: str, tokens: dict[str, Any], run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = run_of(api, tokens, run_id)
        return run if run["status"] in ("SUCCEEDED", "FAILED", "STOPPED") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


@contextmanager
def notifications_off(aws: dict[str, Any], bucket: str) -> Iterator[None]:
    """Objects put meanwhile reach S3 without any event: what a backfill is for."""
    s3 = aws["s3"]
    saved = s3.get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)


def document(aws: dict[str, Any], table: str, doc_id: str) -> dict[str, Any] | None:
    from chalicelib.aws.table import load

    item = aws["dynamodb"].get_item(TableName=table, Key=dump(doc_key(doc_id)), ConsistentRead=True).get("Item")
    return load(item) if item else None


def stamp_old(aws: dict[str, Any], table: str, doc_id: str, version: int | None) -> None:
    """What a document processed by an earlier extraction looks like (None: before versions were recorded)."""
    if version is None:
        update, values = "REMOVE extractor_version", None
    else:
        update, values = "SET extractor_version = :v", dump({":v": version})
    params: dict[str, Any] = {"TableName": table, "Key": dump(doc_key(doc_id)), "UpdateExpression": update}
    if values:
        params["ExpressionAttributeValues"] = values
    aws["dynamodb"].update_item(**params)


def files(n: int) -> list[tuple[str, bytes]]:
    kinds = [
        ("report-{i}.pdf", lambda i: samples.pdf(pages=1 + i % 3, title=f"Report {i}")),
        ("photo-{i}.jpg", lambda i: samples.jpeg(width=40 + i, height=30)),
        ("notes-{i}.txt", lambda i: f"note {i}\n".encode() * (1 + i)),
        ("icon-{i}.png", lambda i: samples.png(width=8 + i, height=8)),
    ]
    return [(kinds[i % 4][0].format(i=i), kinds[i % 4][1](i)) for i in range(n)]


def processed_events(doc: dict[str, Any]) -> int:
    return sum(1 for e in doc.get("timeline") or [] if e.get("event") == "processed")


def test_a_backfill_indexes_missing_objects_and_re_extracts_stale_documents_exactly_once(
    stack: Any, aws: dict[str, Any], api: str, tokens: dict[str, Any], pump: Any
) -> None:
    bucket, table, s3 = stack.names.bucket, stack.names.table, aws["s3"]
    prefix = f"uploads/bf-{uuid.uuid4().hex[:8]}/"
    since = utcnow()
    # documents processed by an older extraction
    stale_keys = [f"{prefix}old/{name}" for name, _ in files(6)]
    for key, (_, body) in zip(stale_keys, files(6), strict=True):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    stale_ids = [dropped_document_id(bucket, k) for k in stale_keys]
    for doc_id in stale_ids:
        wait_for(lambda d=doc_id: (document(aws, table, d) or {}).get("status") == "PROCESSED", timeout=60)
    for i, doc_id in enumerate(stale_ids):
        stamp_old(aws, table, doc_id, None if i % 2 else EXTRACTOR_VERSION - 1 or None)
    # objects that arrive with no event at all
    missing_keys = [f"{prefix}dropped/{name}" for name, _ in files(40)]
    with notifications_off(aws, bucket):
        for key, (_, body) in zip(missing_keys, files(40), strict=True):
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    missing_ids = [dropped_document_id(bucket, k) for k in missing_keys]
    assert all(document(aws, table, d) is None for d in missing_ids)

    run = start(api, tokens, {"missing": {"prefix": prefix}, "stale": {"created_from": since}, "max_concurrency": 1})
    assert run["status"] == "PLANNING"

    # live uploads while the backfill runs are processed promptly (the backfill has its own queue and pollers)
    live_keys = [f"{prefix}live/{name}" for name, _ in files(3)]
    latencies = []
    for key, (_, body) in zip(live_keys, files(3), strict=True):
        put_at = time.monotonic()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        doc_id = dropped_document_id(bucket, key)
        wait_for(lambda d=doc_id: (document(aws, table, d) or {}).get("status") == "PROCESSED", timeout=60)
        latencies.append(time.monotonic() - put_at)
    assert max(latencies) < 30, latencies
    assert run_of(api, tokens, run["id"])["status"] in ("PLANNING", "RUNNING")  # they did not wait for it

    done = finished(api, tokens, run["id"], timeout=300)
    assert done["status"] == "SUCCEEDED", done
    progress = done["progress"]
    assert progress["processed"] == len(missing_keys) + len(stale_keys), done
    assert progress["failed"] == 0 and progress["abandoned"] == 0, done
    assert progress["queued"] == progress["listed"]
    assert progress["processed"] + progress["skipped"] == progress["listed"], done
    assert done["selected"] == len(stale_keys)

    for doc_id in missing_ids + stale_ids:
        doc = document(aws, table, doc_id)
        assert doc is not None and doc["status"] == "PROCESSED", doc
        assert int(doc["extractor_version"]) == EXTRACTOR_VERSION
    assert all(processed_events(document(aws, table, d) or {}) == 1 for d in missing_ids)
    assert all(processed_events(document(aws, table, d) or {}) == 2 for d in stale_ids)  # first run, then once again

    # the same backfill again changes nothing
    before = {d: (document(aws, table, d) or {}).get("updated_at") for d in missing_ids + stale_ids}
    again = finished(api, tokens, start(api, tokens, {"missing": {"prefix": prefix}, "stale": {"created_from": since}})["id"])
    assert again["status"] == "SUCCEEDED", again
    assert again["progress"]["processed"] == 0 and again["progress"]["failed"] == 0, again
    assert {d: (document(aws, table, d) or {}).get("updated_at") for d in before} == before
