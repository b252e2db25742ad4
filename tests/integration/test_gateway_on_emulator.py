"""The local API gateway: Cognito tokens from the emulator, verified like API Gateway does."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import wiring
from chalicelib.models import ObjectRef
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def docs(stack: Any, aws: dict[str, Any], direct_bucket: str) -> dict[str, str]:
    """One document owned by demo, one dropped with no owner."""
    demo_sub = stack.user_subs["demo"]
    out = {}
    for name, key in (
        ("demo", f"uploads/{demo_sub}/gw-{uuid.uuid4().hex}.pdf"),
        ("unowned", f"uploads/gw-{uuid.uuid4().hex}/dropped.jpg"),
    ):
        body = samples.pdf() if key.endswith(".pdf") else samples.jpeg()
        etag = aws["s3"].put_object(Bucket=direct_bucket, Key=key, Body=body)["ETag"].strip('"')
        out[name] = wiring.ingest_service().process(ObjectRef(direct_bucket, key, len(body), etag)).doc_id
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def test_health_and_config_need_no_token(api, stack) -> None:
    assert requests.get(f"{api}/health", timeout=5).json() == {"status": "ok"}
    config = requests.get(f"{api}/config", timeout=5).json()
    assert config == {
        "region": "us-east-1",
        "user_pool_id": stack.user_pool_id,
        "client_id": stack.client_id,
        "cognito_endpoint": stack.endpoint,
        "bucket": stack.names.bucket,
        "max_upload_bytes": 512 * 1024 * 1024,
    }


def forged_tokens(real: str) -> dict[str, str]:
    header, payload, _ = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return {
        "garbage": "not-a-token",
        "wrong-signature": jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "dummy"}),
        "alg-none": f"{none_header}.{payload}.",
        "tampered-claims": header
        + "."
        + base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode()).rstrip(b"=").decode()
        + "."
        + real.split(".")[2],
        "expired": jwt.encode(
            {**claims, "exp": int(time.time()) - 60}, other_key, algorithm="RS256", headers={"kid": "dummy"}
        ),
    }


@pytest.mark.parametrize("path", ["/documents", "/documents/" + "0" * 32, "/admin/documents"])
def test_every_protected_route_refuses_requests_without_a_valid_id_token(api, tokens, path) -> None:
    attempts: dict[str, dict[str, str]] = {"missing": {}}
    attempts |= {name: auth(t) for name, t in forged_tokens(tokens["demo"]["IdToken"]).items()}
    attempts["access-token"] = auth(tokens["demo"]["AccessToken"])
    for name, headers in attempts.items():
        resp = requests.get(f"{api}{path}", headers=headers, timeout=5)
        assert resp.status_code == 401, name
        assert resp.json() == {"code": "unauthorized", "message": "Unauthorized"}, name


def test_a_user_lists_and_reads_their_own_documents(api, tokens, docs) -> None:
    headers = auth(tokens["demo"]["IdToken"])
    listed = requests.get(f"{api}/documents", headers=headers, timeout=5).json()
    assert docs["demo"] in [d["id"] for d in listed["items"]]
    assert docs["unowned"] not in [d["id"] for d in listed["items"]]
    doc = requests.get(f"{api}/documents/{docs['demo']}", headers=headers, timeout=5).json()
    assert doc["status"] == "PROCESSED" and doc["metadata"]["page_count"] == 2


def test_another_users_document_is_not_found(api, tokens, docs) -> None:
    headers = auth(tokens["other"]["IdToken"])
    for doc_id in (docs["demo"], docs["unowned"]):
        resp = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=5)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert requests.get(f"{api}/documents", headers=headers, timeout=5).json()["items"] == []


def test_admins_see_unowned_documents_and_others_may_not_list_everything(api, tokens, docs) -> None:
    admin = auth(tokens["admin"]["IdToken"])
    resp = requests.get(f"{api}/documents/{docs['unowned']}", headers=admin, timeout=5)
    assert resp.status_code == 200 and resp.json()["owner"] is None
    ids: set[str] = set()
    url = f"{api}/admin/documents?limit=100"
    while url:
        page = requests.get(url, headers=admin, timeout=5).json()
        ids |= {d["id"] for d in page["items"]}
        url = f"{api}/admin/documents?limit=100&next={page['next']}" if page["next"] else ""
    assert {docs["demo"], docs["unowned"]} <= ids
    denied = requests.get(f"{api}/admin/documents", headers=auth(tokens["demo"]["IdToken"]), timeout=5)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"


def test_bad_query_parameters_are_clear_400s(api, tokens) -> None:
    headers = auth(tokens["demo"]["IdToken"])
    for query in ("limit=abc", "limit=0", "limit=101", "next=forged.cursor"):
        resp = requests.get(f"{api}/documents?{query}", headers=headers, timeout=5)
        assert resp.status_code == 400, query
        assert set(resp.json()) == {"code", "message"}


def test_unknown_paths_are_json_404s(api) -> None:
    resp = requests.get(f"{api}/no/such/thing", timeout=5)
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert requests.get(f"{api}/../../etc/passwd", timeout=5).status_code == 404


@pytest.mark.parametrize("path", ["/app%00.js", "/%00", "/web/%00/../index.html", "/" + "a" * 5000])
def test_a_static_path_the_file_system_refuses_is_a_json_404_not_a_dropped_connection(api, path) -> None:
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(api)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 404 and json.loads(resp.read())["code"] == "not_found"
    finally:
        conn.close()


def test_a_deeply_nested_json_body_is_a_400(api, tokens) -> None:
    headers = {**auth(tokens["demo"]["IdToken"]), "Content-Type": "application/json"}
    resp = requests.post(f"{api}/uploads", headers=headers, data="[" * 100_000, timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_body"
