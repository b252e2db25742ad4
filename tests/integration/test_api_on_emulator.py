"""The REST API end to end on the emulator: gateway (verifying tokens) + pump (Lambda-like) + real S3/DynamoDB."""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

import pytest
import requests

from tests.integration.conftest import wait_for
from tests.support import samples

pytestmark = pytest.mark.emulator

PROTECTED = [
    ("POST", "/uploads"),
    ("GET", "/documents"),
    ("GET", "/documents/{id}"),
    ("DELETE", "/documents/{id}"),
    ("GET", "/documents/{id}/download"),
    ("GET", "/documents/{id}/preview"),
    ("POST", "/documents/{id}/reprocess"),
    ("GET", "/stats"),
    ("POST", "/events"),
    ("GET", "/admin/documents"),
]


def h(tokens: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": tokens[who]["IdToken"]}


def upload(
    api: str, tokens: dict[str, Any], who: str, name: str, body: bytes, content_type: str, declared: int | None = None
) -> dict[str, Any]:
    """POST /uploads, then the presigned POST exactly as a browser would send it."""
    created = requests.post(
        f"{api}/uploads",
        headers=h(tokens, who),
        timeout=10,
        json={"filename": name, "content_type": content_type, "size": declared if declared is not None else len(body)},
    )
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    post = data["upload"]
    resp = requests.post(post["url"], data=post["fields"], files={"file": (name, body, content_type)}, timeout=10)
    assert resp.status_code in (200, 201, 204), resp.text
    return data


def final(api: str, tokens: dict[str, Any], who: str, doc_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        doc: dict[str, Any] = requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, who), timeout=5).json()
        return doc if doc.get("status") in ("PROCESSED", "FAILED") else None

    result: dict[str, Any] = wait_for(done, timeout=30)
    return result


def test_an_upload_through_a_presigned_post_is_processed_and_downloadable(api, tokens, pump) -> None:
    body = samples.pdf(pages=6)
    created = upload(api, tokens, "demo", "Résumé final.pdf", body, "application/pdf")
    doc = created["document"]
    assert doc["status"] == "PENDING" and doc["declared_size"] == len(body)
    assert created["upload"]["fields"]["key"].startswith(f"uploads/{tokens['demo']['sub']}/{doc['id']}/")
    done = final(api, tokens, "demo", doc["id"])
    assert done["status"] == "PROCESSED" and done["metadata"]["page_count"] == 6
    assert [e["event"] for e in done["timeline"]] == ["upload_requested", "processing_started", "processed"]
    link = requests.get(f"{api}/documents/{doc['id']}/download", headers=h(tokens, "demo"), timeout=5).json()
    got = requests.get(link["url"], timeout=5)
    assert got.content == body
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf" in got.headers["Content-Disposition"]


def test_a_processed_documents_answer_carries_its_download_preview_and_text_links_a_pending_ones_none(
    api, tokens, pump
) -> None:
    body = samples.text_pdf(["The quarterly figures are in.", "Costs went down."], title="Linked")
    created = upload(api, tokens, "demo", "linked report.pdf", body, "application/pdf")
    assert "download" not in created["document"]
    done = final(api, tokens, "demo", created["document"]["id"])
    link = done["download"]
    assert link["filename"] == "linked report.pdf" and link["expires_in"] == 300
    got = requests.get(link["url"], timeout=5)
    assert got.status_code == 200 and got.content == body
    assert "attachment" in got.headers["Content-Disposition"]
    page = requests.get(done["preview"]["url"], timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"linked report.pdf" in page.content
    asked = requests.get(f"{api}/documents/{done['id']}/text", headers=h(tokens, "demo"), timeout=5).json()
    assert {k: v for k, v in done["text"].items() if k != "url"} == {k: v for k, v in asked.items() if k != "url"}
    assert requests.get(done["text"]["url"], timeout=5).status_code == 200
    pending = requests.post(
        f"{api}/uploads",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"filename": "later.pdf", "content_type": "application/pdf", "size": 100},
    ).json()["document"]
    shown = requests.get(f"{api}/documents/{pending['id']}", headers=h(tokens, "demo"), timeout=5).json()
    assert shown["status"] == "PENDING" and not {"download", "preview", "text"} & set(shown)


def test_an_object_that_differs_from_what_was_declared_fails_with_size_mismatch(api, tokens, pump) -> None:
    created = upload(api, tokens, "demo", "small.jpg", samples.jpeg(), "image/jpeg", declared=10)
    done = final(api, tokens, "demo", created["document"]["id"])
    assert done["status"] == "FAILED" and done["error"]["code"] == "size_mismatch"


def test_a_declared_type_that_the_content_contradicts_is_recorded(api, tokens, pump) -> None:
    created = upload(api, tokens, "demo", "photo.pdf", samples.png(), "application/pdf")
    done = final(api, tokens, "demo", created["document"]["id"])
    assert done["status"] == "PROCESSED" and done["metadata"]["mime_type"] == "image/png"
    assert done["metadata"]["declared_type_mismatch"] is True and done["metadata"]["extension_mismatch"] is True


def test_oversize_declarations_are_refused_before_any_url_is_issued(api, tokens) -> None:
    resp = requests.post(
        f"{api}/uploads",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"filename": "big.bin", "content_type": "application/octet-stream", "size": 10**13},
    )
    assert resp.status_code == 400 and resp.json()["code"] == "too_large"


def test_bad_bodies_are_clear_400s(api, tokens) -> None:
    for raw in ("", "{", "[]", json.dumps({"filename": "a"})):
        resp = requests.post(
            f"{api}/uploads", headers={**h(tokens, "demo"), "Content-Type": "application/json"}, data=raw, timeout=5
        )
        assert resp.status_code == 400 and set(resp.json()) == {"code", "message"}, raw


def test_a_document_can_be_reprocessed_and_a_second_request_changes_nothing(api, tokens, pump) -> None:
    created = upload(api, tokens, "demo", "again.pdf", samples.pdf(), "application/pdf")
    doc_id = created["document"]["id"]
    final(api, tokens, "demo", doc_id)
    url = f"{api}/documents/{doc_id}/reprocess"
    first = requests.post(url, headers=h(tokens, "demo"), timeout=5)
    assert first.status_code == 202
    second = requests.post(url, headers=h(tokens, "demo"), timeout=5).json()
    assert second["reprocess"] in ("already_requested", "already_in_progress")

    def reprocessed() -> bool:
        doc = requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).json()
        events = [e["event"] for e in doc["timeline"]]
        return doc["status"] == "PROCESSED" and events[-2:] == ["reprocessing", "processed"]

    assert wait_for(reprocessed, timeout=30)
    doc = requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).json()
    assert [e["event"] for e in doc["timeline"]].count("reprocessing") == 1


def test_a_pending_document_cannot_be_downloaded_or_reprocessed(api, tokens) -> None:
    resp = requests.post(
        f"{api}/uploads",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"filename": "later.pdf", "content_type": "application/pdf", "size": 100},
    )
    doc_id = resp.json()["document"]["id"]
    for method, path in (("GET", "download"), ("POST", "reprocess")):
        r = requests.request(method, f"{api}/documents/{doc_id}/{path}", headers=h(tokens, "demo"), timeout=5)
        assert r.status_code == 409 and r.json()["code"] == "not_uploaded"
    assert requests.get(f"{api}/documents/{doc_id}/preview", headers=h(tokens, "demo"), timeout=5).status_code == 404


def test_deleting_a_document_removes_the_object_and_the_record(api, tokens, pump, aws, stack) -> None:
    created = upload(api, tokens, "demo", "bye.jpg", samples.jpeg(), "image/jpeg")
    doc_id, key = created["document"]["id"], created["upload"]["fields"]["key"]
    final(api, tokens, "demo", doc_id)
    asked = requests.delete(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5)
    assert asked.status_code == 202 and asked.json() == {"id": doc_id, "status": "DELETING"}
    listed = aws["s3"].list_objects_v2(Bucket=stack.names.bucket, Prefix=key).get("KeyCount", 0)
    assert listed == 0

    def gone() -> bool:
        return requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).status_code == 404

    assert wait_for(gone, timeout=30)
    assert requests.delete(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).status_code == 404


def test_listing_filters_and_pages_with_a_cursor(api, tokens, pump) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [
        upload(api, tokens, "demo", f"{tag}-{i}.pdf", samples.pdf(pages=1), "application/pdf")["document"]["id"]
        for i in range(3)
    ]
    for doc_id in ids:
        final(api, tokens, "demo", doc_id)
    seen: list[str] = []
    url = f"{api}/documents?name={tag}&limit=2&family=pdf&status=PROCESSED"
    while url:
        page = requests.get(url, headers=h(tokens, "demo"), timeout=5).json()
        seen += [d["id"] for d in page["items"]]
        url = (
            f"{api}/documents?name={tag}&limit=2&family=pdf&status=PROCESSED&next={page['next']}"
            if page["next"]
            else ""
        )
    assert seen == list(reversed(ids))
    first = requests.get(f"{api}/documents?name={tag}&limit=2", headers=h(tokens, "demo"), timeout=5).json()
    stolen = requests.get(f"{api}/documents?limit=2&next={first['next']}", headers=h(tokens, "other"), timeout=5)
    assert stolen.status_code == 400 and stolen.json()["code"] == "invalid_cursor"


def test_stats_count_the_callers_documents_and_everyone_for_admins(api, tokens, pump) -> None:
    mine = requests.get(f"{api}/stats", headers=h(tokens, "demo"), timeout=5).json()
    everyone = requests.get(f"{api}/stats", headers=h(tokens, "admin"), timeout=5).json()
    assert mine["scope"] == "mine" and everyone["scope"] == "everyone"
    assert everyone["total"] >= mine["total"] >= 1
    assert sum(mine["by_status"].values()) == mine["total"]


def test_a_producer_event_posted_to_the_api_is_routed_and_stored(api, tokens, pump, aws, stack) -> None:
    marker = uuid.uuid4().hex
    resp = requests.post(
        f"{api}/events",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"detail_type": "OrderPlaced", "detail": {"marker": marker}},
    )
    assert resp.status_code == 202 and resp.json()["source"] == "docpipe.producer"
    event_id = resp.json()["event_id"]

    def stored() -> dict[str, Any] | None:
        item = (
            aws["dynamodb"]
            .get_item(TableName=stack.names.table, Key={"pk": {"S": f"EVENT#{event_id}"}, "sk": {"S": "EVENT"}})
            .get("Item")
        )
        return item

    item = wait_for(stored)
    assert json.loads(item["detail"]["S"]) == {"marker": marker, "submitted_by": tokens["demo"]["sub"]}


def test_another_users_document_is_404_on_every_route(api, tokens, pump) -> None:
    created = upload(api, tokens, "demo", "private.pdf", samples.pdf(), "application/pdf")
    doc_id = created["document"]["id"]
    final(api, tokens, "demo", doc_id)
    for method, path in PROTECTED:
        if "{id}" not in path:
            continue
        resp = requests.request(method, f"{api}{path.format(id=doc_id)}", headers=h(tokens, "other"), timeout=5)
        assert resp.status_code == 404, (method, path, resp.status_code)
    listed = requests.get(f"{api}/documents?limit=100", headers=h(tokens, "other"), timeout=5).json()
    assert doc_id not in {d["id"] for d in listed["items"]}
    assert requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).status_code == 200


def test_admins_read_and_reprocess_a_users_document_but_only_its_owner_deletes_it(api, tokens, pump) -> None:
    created = upload(api, tokens, "demo", "kept.pdf", samples.pdf(), "application/pdf")
    doc_id = created["document"]["id"]
    final(api, tokens, "demo", doc_id)
    url = f"{api}/documents/{doc_id}"
    assert requests.get(url, headers=h(tokens, "admin"), timeout=5).status_code == 200
    assert requests.get(f"{url}/download", headers=h(tokens, "admin"), timeout=5).status_code == 200
    assert requests.post(f"{url}/reprocess", headers=h(tokens, "admin"), timeout=5).status_code == 202
    refused = requests.delete(url, headers=h(tokens, "admin"), timeout=5)
    assert refused.status_code == 403 and refused.json()["code"] == "owner_only"
    assert requests.get(url, headers=h(tokens, "demo"), timeout=5).status_code == 200


def test_admins_delete_files_that_have_no_owner(api, tokens, pump, aws, stack) -> None:
    from chalicelib.ingest import dropped_document_id

    key = f"uploads/feed-{uuid.uuid4().hex}/orphan.pdf"
    aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=samples.pdf())
    doc_id = dropped_document_id(stack.names.bucket, key)
    final(api, tokens, "admin", doc_id)
    assert requests.delete(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).status_code == 404
    assert requests.delete(f"{api}/documents/{doc_id}", headers=h(tokens, "admin"), timeout=5).status_code in (202, 204)


def test_every_protected_route_refuses_a_missing_or_access_token(api, tokens) -> None:
    doc_id = "0" * 32
    for method, path in PROTECTED:
        url = f"{api}{path.format(id=doc_id)}"
        for headers in ({}, {"Authorization": tokens["demo"]["AccessToken"]}, {"Authorization": "Bearer x.y.z"}):
            resp = requests.request(method, url, headers=headers, json={}, timeout=5)
            assert resp.status_code == 401, (method, path, headers.keys())
            assert resp.json() == {"code": "unauthorized", "message": "Unauthorized"}


def test_the_openapi_document_is_served_without_a_token(api) -> None:
    doc = requests.get(f"{api}/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.") and "/uploads" in doc["paths"]


def test_the_presigned_post_policy_pins_key_type_size_and_expiry(api, tokens) -> None:
    import base64
    from datetime import datetime

    created = requests.post(
        f"{api}/uploads",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"filename": "p.pdf", "content_type": "application/pdf", "size": 100},
    ).json()
    fields = created["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": fields["key"]} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, created["max_bytes"]] in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 15 * 60


def test_an_upload_that_breaks_its_post_policy_is_refused_and_stores_nothing(api, tokens, aws, stack) -> None:
    """As on S3: the emulator checks the form against the signed policy before storing anything."""
    created = requests.post(
        f"{api}/uploads",
        headers=h(tokens, "demo"),
        timeout=5,
        json={"filename": "tiny.pdf", "content_type": "application/pdf", "size": 5},
    ).json()
    post, key = created["upload"], created["upload"]["fields"]["key"]
    other_prefix = f"uploads/{tokens['other']['sub']}/{uuid.uuid4().hex}/planted.pdf"
    attempts = {
        "another content type": ({**post["fields"], "Content-Type": "text/html"}, b"<html>", "text/html", 403),
        "another user's prefix": ({**post["fields"], "key": other_prefix}, b"%PDF-1.4", "application/pdf", 403),
    }
    for name, (fields, body, content_type, status) in attempts.items():
        resp = requests.post(post["url"], data=fields, files={"file": ("x", body, content_type)}, timeout=30)
        assert resp.status_code == status, (name, resp.status_code, resp.text[:200])
    for prefix in (key, other_prefix):
        assert aws["s3"].list_objects_v2(Bucket=stack.names.bucket, Prefix=prefix).get("KeyCount", 0) == 0


def test_the_preview_is_a_short_lived_link_to_an_inert_html_rendition(api, tokens, pump) -> None:
    title = '<img src=x onerror=alert(1)> "Board" & co'
    created = upload(api, tokens, "demo", "board.pdf", samples.pdf(title=title), "application/pdf")
    doc_id = created["document"]["id"]
    done = final(api, tokens, "demo", doc_id)
    assert done["metadata"]["details"]["rendition"] is True
    link = requests.get(f"{api}/documents/{doc_id}/preview", headers=h(tokens, "demo"), timeout=5).json()
    assert link["expires_in"] <= 900
    page = requests.get(link["url"], timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text
    assert "Content-Security-Policy" in page.text
    from urllib.parse import urlsplit

    key = urlsplit(link["url"]).path.split("/", 2)[2]  # path-style: /<bucket>/<key>
    assert key == f"renditions/{doc_id}.html"
    assert requests.get(f"{api}/documents/{doc_id}/preview", headers=h(tokens, "other"), timeout=5).status_code == 404


def test_the_text_of_a_document_is_a_short_lived_link_with_its_language_and_word_count(api, tokens, pump) -> None:
    words = "Le conseil municipal a approuvé le budget de la nouvelle bibliothèque après un long débat."
    created = upload(api, tokens, "demo", "conseil.pdf", samples.text_pdf([words]), "application/pdf")
    doc_id = created["document"]["id"]
    done = final(api, tokens, "demo", doc_id)
    assert (done["metadata"]["language"], done["metadata"]["word_count"]) == ("fr", len(words.split()))
    found = requests.get(f"{api}/documents/{doc_id}/text", headers=h(tokens, "demo"), timeout=5).json()
    assert (found["language"], found["word_count"], found["truncated"]) == ("fr", len(words.split()), False)
    text = requests.get(found["url"], timeout=5)
    assert text.headers["Content-Type"].startswith("text/plain") and text.content.decode() == words
    assert requests.get(f"{api}/documents/{doc_id}/text", headers=h(tokens, "other"), timeout=5).status_code == 404
    image = upload(api, tokens, "demo", "dot.png", samples.png(), "image/png")["document"]["id"]
    final(api, tokens, "demo", image)
    missing = requests.get(f"{api}/documents/{image}/text", headers=h(tokens, "demo"), timeout=5)
    assert missing.status_code == 404 and missing.json()["code"] == "no_text"


def test_a_csv_upload_is_ingested_and_its_rows_and_row_errors_are_paged(api, tokens, pump) -> None:
    body = "\ufeffid;name;note\r\n" + "".join(f'{i};"name {i}";"line one\r\nline two"\r\n' for i in range(1, 31))
    body += "31;too;many;fields\r\n32;ok;fine\r\n"
    created = upload(api, tokens, "demo", "people.csv", body.encode(), "text/csv")
    doc_id = created["document"]["id"]

    def ingested() -> dict[str, Any] | None:
        doc: dict[str, Any] = requests.get(f"{api}/documents/{doc_id}", headers=h(tokens, "demo"), timeout=5).json()
        state = (doc.get("records") or {}).get("state")
        return doc if state in ("COMPLETE", "COMPLETE_WITH_ERRORS") else None

    doc = wait_for(ingested, timeout=60)
    assert doc["records"] == {"state": "COMPLETE_WITH_ERRORS", "total": 32, "written": 31, "failed": 1}
    assert doc["metadata"]["delimiter"] == ";" and doc["metadata"]["columns"] == ["id", "name", "note"]
    rows: list[dict[str, Any]] = []
    url = f"{api}/documents/{doc_id}/records?limit=10"
    while url:
        page = requests.get(url, headers=h(tokens, "demo"), timeout=5).json()
        rows += page["items"]
        url = f"{api}/documents/{doc_id}/records?limit=10&next={page['next']}" if page["next"] else ""
    assert [r["row"] for r in rows] == [*range(1, 31), 32]
    assert rows[0]["cells"] == {"id": "1", "name": "name 1", "note": "line one\r\nline two"}
    errors = requests.get(f"{api}/documents/{doc_id}/records/errors", headers=h(tokens, "demo"), timeout=5).json()
    assert [(e["row"], e["line"]) for e in errors["items"]] == [(31, 62)]
    for path in ("records", "records/errors"):
        other = requests.get(f"{api}/documents/{doc_id}/{path}", headers=h(tokens, "other"), timeout=5)
        assert other.status_code == 404
