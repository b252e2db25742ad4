"""The local emulator checks browser uploads against their POST policy the way S3 does."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.emulator_fidelity import PolicyRefused, check_post, known_secrets
from local.provision import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

BUCKET = "docpipe-uploads"
KEY = "uploads/1f6c0000-0000-4000-8000-000000000001/0123/report.pdf"
SECRETS = known_secrets({})


def presigned(key: str = KEY, max_bytes: int = 100, secret: str = LOCAL_SECRET_KEY, expires: int = 60) -> Any:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    conditions: list[Any] = [{"bucket": BUCKET}, {"key": key}, {"Content-Type": "application/pdf"}]
    conditions.append(["content-length-range", 1, max_bytes])
    fields = {"Content-Type": "application/pdf"}
    return s3.generate_presigned_post(BUCKET, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)["fields"]


def refusal(fields: dict[str, str], size: int = 10, now: datetime | None = None) -> str:
    with pytest.raises(PolicyRefused) as caught:
        check_post(BUCKET, fields, size, SECRETS, now)
    return f"{caught.value.code}: {caught.value.message}"


def test_an_upload_that_keeps_to_its_policy_is_accepted() -> None:
    check_post(BUCKET, presigned(), 10, SECRETS)


def test_a_key_changed_to_another_users_prefix_is_refused() -> None:
    fields = {**presigned(), "key": "uploads/1f6c0000-0000-4000-8000-000000000002/0123/planted.pdf"}
    assert refusal(fields).startswith("AccessDenied: Invalid according to Policy: Policy Condition failed")


def test_a_policy_rewritten_by_the_uploader_fails_its_signature() -> None:
    fields = presigned()
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if "key" not in c]
    fields["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    assert refusal(fields).startswith("SignatureDoesNotMatch")


def test_a_policy_signed_with_another_secret_is_refused() -> None:
    assert refusal(presigned(secret="someone-else")).startswith("SignatureDoesNotMatch")


def test_a_body_larger_than_the_policy_allows_is_refused() -> None:
    assert refusal(presigned(max_bytes=100), size=101).startswith("EntityTooLarge")


def test_another_content_type_is_refused() -> None:
    assert "Policy Condition failed" in refusal({**presigned(), "Content-Type": "text/html"})


def test_a_field_the_policy_does_not_name_is_refused() -> None:
    assert "Extra input fields: acl" in refusal({**presigned(), "acl": "public-read"})


def test_an_expired_policy_is_refused() -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert refusal(presigned(expires=60), now=later) == "AccessDenied: Invalid according to Policy: Policy expired."


def test_an_upload_without_a_policy_is_refused() -> None:
    fields = {k: v for k, v in presigned().items() if k not in ("policy", "x-amz-signature")}
    assert refusal(fields) == "AccessDenied: Access Denied"


def test_fields_named_x_ignore_are_ignored_as_on_s3() -> None:
    check_post(BUCKET, {**presigned(), "x-ignore-note": "anything"}, 10, SECRETS)
