"""Object keys with spaces, +, %, unicode, control characters and ../ survive S3 → pump → API → download."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from chalicelib.ingest import dropped_document_id
from tests.reliability.support import scenarios

pytestmark = pytest.mark.emulator

NAMES = [
    "two words.txt",
    "a+b=c.txt",
    "100% sure %41%2F.txt",
    "résumé 日本語 🙂.txt",
    "tab\there.txt",
    "carriage\rreturn and nul\x00.txt",
    pytest.param(
        "line\nfeed.txt",
        marks=pytest.mark.skip(reason="the emulator cannot route an S3 key with a line feed (404 on PUT); AWS can"),
    ),
    "bell\x07 and escape\x1b[31m.txt",
    "..\\..\\windows.txt",
    '"quoted"; filename=evil.txt',
]
DOT_SEGMENTS = ["../escape.txt", "./here/../../up.txt"]


def drop_and_wait(
    api: str, demo: dict[str, str], aws: dict[str, Any], bucket: str, name: str, body: bytes
) -> tuple[dict[str, Any], str, str]:
    """Put a file under the demo user's prefix and wait for the pump to give it a final status: (doc, id, key)."""
    key = f"uploads/{demo['sub']}/keys-{uuid.uuid4().hex[:8]}/{name}"
    aws["s3"].put_object(Bucket=bucket, Key=key, Body=body)
    doc_id = dropped_document_id(bucket, key)
    headers = {"Authorization": demo["token"]}

    def final() -> dict[str, Any] | None:
        resp = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=5)
        doc: dict[str, Any] = resp.json() if resp.status_code == 200 else {}
        return doc if doc.get("status") in ("PROCESSED", "FAILED") else None

    doc = scenarios.wait_until(final, timeout=30)
    assert doc is not None, f"{key!r} never reached a final status"
    return doc, doc_id, key


def drop_and_read(api: str, demo: dict[str, str], aws: dict[str, Any], bucket: str, name: str) -> dict[str, Any]:
    """Drop a file, wait for it, and read it back through the API and its download link."""
    body = f"contents of {name!r}\n".encode()
    doc, doc_id, key = drop_and_wait(api, demo, aws, bucket, name, body)
    headers = {"Authorization": demo["token"]}
    assert doc["status"] == "PROCESSED" and doc["filename"] == key.rsplit("/", 1)[-1], doc
    link = requests.get(f"{api}/documents/{doc_id}/download", headers=headers, timeout=5)
    assert link.status_code == 200, link.text
    got = requests.get(link.json()["url"], timeout=5)
    assert got.status_code == 200 and got.content == body, (got.status_code, got.text[:300])
    disposition = got.headers.get("Content-Disposition", "")
    assert disposition.startswith("attachment;") and not any(ord(c) < 32 for c in disposition), disposition
    return doc


@pytest.mark.parametrize("name", NAMES)
def test_a_dropped_file_with_an_awkward_key_is_processed_listed_and_downloaded(api, demo, aws, stack, pump, name):
    drop_and_read(api, demo, aws, stack.names.bucket, name)


@pytest.mark.parametrize("name", DOT_SEGMENTS)
def test_a_dropped_file_whose_key_has_dot_segments_is_processed_and_its_download_refused_clearly(
    api, demo, aws, stack, pump, name
):
    """No link can address such a key (HTTP clients rewrite dot segments), so the API says so instead of a 403."""
    doc, doc_id, key = drop_and_wait(api, demo, aws, stack.names.bucket, name, b"dots\n")
    assert doc["status"] == "PROCESSED" and doc["key"] == key
    assert any("path segments" in w for w in doc["warnings"]), doc["warnings"]
    link = requests.get(f"{api}/documents/{doc_id}/download", headers={"Authorization": demo["token"]}, timeout=5)
    assert link.status_code == 409 and link.json()["code"] == "unsupported_key"


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd", "..\\boot.ini", "<img src=x onerror=alert(1)>.txt", "naïve 文件 +%20.txt", "a" * 250 + ".txt"],
)
def test_an_api_upload_with_a_hostile_file_name_stays_under_its_prefix_and_reads_back(api, demo, filename) -> None:
    headers = {"Authorization": demo["token"]}
    body = b"plain text body\n"
    created = requests.post(
        f"{api}/uploads",
        headers=headers,
        timeout=10,
        json={"filename": filename, "content_type": "text/plain", "size": len(body)},
    )
    assert created.status_code == 201, created.text
    data = created.json()
    key = data["upload"]["fields"]["key"]
    doc_id = data["document"]["id"]
    prefix = f"uploads/{demo['sub']}/{doc_id}/"
    assert key.startswith(prefix) and "/" not in key[len(prefix) :] and ".." not in key[len(prefix) :], key
    post = data["upload"]
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("f", body, "text/plain")}, timeout=10)
    assert sent.status_code in (200, 201, 204)

    def final() -> dict[str, Any] | None:
        doc: dict[str, Any] = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=5).json()
        return doc if doc.get("status") in ("PROCESSED", "FAILED") else None

    doc = scenarios.wait_until(final, timeout=30)
    assert doc is not None and doc["status"] == "PROCESSED", doc
    assert doc["filename"] == data["document"]["filename"]
    link = requests.get(f"{api}/documents/{doc_id}/download", headers=headers, timeout=5).json()
    assert requests.get(link["url"], timeout=5).content == body


@pytest.mark.parametrize("filename", ["tab\there.txt", "nul\x00.txt", "bidi\u202etxt.exe", ".", ".."])
def test_an_api_upload_with_control_characters_or_no_name_is_a_clear_400(api, demo, filename) -> None:
    resp = requests.post(
        f"{api}/uploads",
        headers={"Authorization": demo["token"]},
        timeout=10,
        json={"filename": filename, "content_type": "text/plain", "size": 10},
    )
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_filename", resp.text
