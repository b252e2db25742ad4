"""Backfills end to end on the emulator: the admin API, the real state machine, the backfill queue, ingest.

The state machine is the definition AWS gets (BackfillStateMachine in infra/docpipe.yaml), run by
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


def wait_processed(aws: dict[str, Any], table: str, doc_id: str) -> None:
    def processed() -> bool:
        return (document(aws, table, doc_id) or {}).get("status") == "PROCESSED"

    wait_for(processed, timeout=60)


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
        wait_processed(aws, table, doc_id)
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
        wait_processed(aws, table, doc_id)
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
    again = finished(
        api, tokens, start(api, tokens, {"missing": {"prefix": prefix}, "stale": {"created_from": since}})["id"]
    )
    assert again["status"] == "SUCCEEDED", again
    assert again["progress"]["processed"] == 0 and again["progress"]["failed"] == 0, again
    assert {d: (document(aws, table, d) or {}).get("updated_at") for d in before} == before


def put_processed(aws: dict[str, Any], stack: Any, prefix: str, n: int, version: int | None = None) -> list[str]:
    """n dropped files, processed by the live path, then stamped as processed by an older extraction."""
    bucket, table = stack.names.bucket, stack.names.table
    ids = []
    for name, body in files(n):
        key = f"{prefix}{name}"
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=body)
        ids.append(dropped_document_id(bucket, key))
    for doc_id in ids:
        wait_processed(aws, table, doc_id)
        stamp_old(aws, table, doc_id, version)
    return ids


def test_an_empty_selection_finishes_at_once_with_zero_items(
    stack: Any, aws: dict[str, Any], api: str, tokens: dict[str, Any], pump: Any
) -> None:
    nothing_stale = start(api, tokens, {"stale": {"created_from": "2999-01-01"}})
    done = finished(api, tokens, nothing_stale["id"], timeout=30)
    assert done["status"] == "SUCCEEDED" and done["selected"] == 0
    assert all(v == 0 for v in done["progress"].values()), done
    empty_prefix = start(api, tokens, {"missing": {"prefix": f"uploads/empty-{uuid.uuid4().hex}/"}})
    done = finished(api, tokens, empty_prefix["id"], timeout=30)
    assert done["status"] == "SUCCEEDED" and all(v == 0 for v in done["progress"].values()), done


def test_two_overlapping_runs_extract_each_stale_document_once(
    stack: Any, aws: dict[str, Any], api: str, tokens: dict[str, Any], pump: Any
) -> None:
    since = utcnow()
    ids = put_processed(aws, stack, f"uploads/overlap-{uuid.uuid4().hex[:8]}/", 12)
    body = {"stale": {"created_from": since}, "max_concurrency": 2}
    first, second = start(api, tokens, body), start(api, tokens, body)
    runs = [finished(api, tokens, first["id"], timeout=180), finished(api, tokens, second["id"], timeout=180)]
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"], runs
    assert sum(r["progress"]["processed"] for r in runs) == len(ids), runs
    assert sum(r["progress"]["skipped"] for r in runs) == len(ids), runs
    for doc_id in ids:
        doc = document(aws, stack.names.table, doc_id) or {}
        assert processed_events(doc) == 2 and int(doc["extractor_version"]) == EXTRACTOR_VERSION, doc


def test_a_stopped_run_hands_nothing_more_over_and_leaves_every_document_final(
    stack: Any, aws: dict[str, Any], api: str, tokens: dict[str, Any], pump: Any
) -> None:
    bucket, table = stack.names.bucket, stack.names.table
    prefix = f"uploads/stop-{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}{name}" for name, _ in files(100)]
    with notifications_off(aws, bucket):
        for key, (_, body) in zip(keys, files(100), strict=True):
            aws["s3"].put_object(Bucket=bucket, Key=key, Body=body)
    run = start(api, tokens, {"missing": {"prefix": prefix}, "max_concurrency": 1})
    wait_for(lambda: run_of(api, tokens, run["id"])["progress"]["listed"] > 0, timeout=60)
    stopped = requests.delete(f"{api}/admin/backfills/{run['id']}", headers=h(tokens), timeout=10)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "STOPPED" and stopped.json()["finished_at"]
    again = requests.delete(f"{api}/admin/backfills/{run['id']}", headers=h(tokens), timeout=10)
    assert again.status_code == 409 and again.json()["code"] == "backfill_finished"

    def settled() -> bool:
        docs = [document(aws, table, dropped_document_id(bucket, k)) for k in keys]
        assert all(d is None or "status" in d for d in docs), [d for d in docs if d is not None and "status" not in d]
        return all(d is None or d["status"] in ("PROCESSED", "FAILED") for d in docs)

    wait_for(settled, timeout=120)
    time.sleep(3)  # nothing is handed over after the stop
    final = run_of(api, tokens, run["id"])
    assert final["status"] == "STOPPED"
    touched = [d for d in (document(aws, table, dropped_document_id(bucket, k)) for k in keys) if d is not None]
    assert len(touched) < len(keys), "the stop came too late to show anything"
    assert all(d["status"] in ("PROCESSED", "FAILED") for d in touched)
    execution = aws["stepfunctions"].describe_execution(
        executionArn=f"{stack.backfill_state_machine}".replace(":stateMachine:", ":execution:") + f":{run['id']}"
    )
    assert execution["status"] == "ABORTED"


def test_backfills_are_for_administrators_only(api: str, tokens: dict[str, Any]) -> None:
    some_id = uuid.uuid4().hex
    calls = [
        ("POST", "/admin/backfills", {"missing": True}),
        ("GET", "/admin/backfills", None),
        ("GET", f"/admin/backfills/{some_id}", None),
        ("DELETE", f"/admin/backfills/{some_id}", None),
    ]
    for method, path, body in calls:
        resp = requests.request(method, f"{api}{path}", headers=h(tokens, "demo"), json=body, timeout=10)
        assert resp.status_code == 403, (method, path, resp.text)
        anonymous = requests.request(method, f"{api}{path}", json=body, timeout=10)
        assert anonymous.status_code == 401, (method, path, anonymous.text)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"everything": True},
        {"missing": {"prefix": "renditions/"}},
        {"missing": "uploads/"},
        {"stale": {"status": "PENDING"}},
        {"stale": {"family": "PDF!"}},
        {"stale": {"created_from": "yesterday"}},
        {"stale": {"extractor_version_below": EXTRACTOR_VERSION + 1}},
        {"stale": {}, "max_concurrency": 0},
        {"stale": {}, "max_concurrency": 101},
        {"stale": {"name": "x"}},
    ],
)
def test_a_malformed_backfill_request_is_a_clear_400(api: str, tokens: dict[str, Any], body: dict[str, Any]) -> None:
    resp = requests.post(f"{api}/admin/backfills", headers=h(tokens), json=body, timeout=10)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] in ("invalid_body", "invalid_filter")


def test_unknown_backfills_are_404_and_listings_page_newest_first(
    stack: Any, api: str, tokens: dict[str, Any], pump: Any
) -> None:
    for run_id in (uuid.uuid4().hex, "not-an-id"):
        assert requests.get(f"{api}/admin/backfills/{run_id}", headers=h(tokens), timeout=10).status_code == 404
    made = [start(api, tokens, {"stale": {"created_from": "2999-01-01"}})["id"] for _ in range(3)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = requests.get(f"{api}/admin/backfills", headers=h(tokens), params=params, timeout=10).json()
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        if not page["next"]:
            break
        params["next"] = page["next"]
    assert [i for i in seen if i in made] == made[::-1]
    tampered = requests.get(
        f"{api}/admin/backfills", headers=h(tokens), params={"next": "x" + params.get("next", "y")}, timeout=10
    )
    assert tampered.status_code == 400
