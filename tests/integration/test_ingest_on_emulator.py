"""The S3-event use case against real S3 and DynamoDB on the emulator."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.models import ObjectRef, Status
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture
def bucket(direct_bucket: str) -> str:
    return direct_bucket


def upload(aws: dict[str, Any], bucket: str, key: str, data: bytes) -> ObjectRef:
    resp = aws["s3"].put_object(Bucket=bucket, Key=key, Body=data)
    return ObjectRef(bucket, key, len(data), resp["ETag"].strip('"'))


def test_a_pdf_in_s3_is_processed_into_dynamodb(aws, bucket) -> None:
    ref = upload(aws, bucket, f"uploads/it-{uuid.uuid4().hex}/report.pdf", samples.pdf(pages=5))
    outcome = wiring.ingest_service().process(ref)
    doc = wiring.repository().get(outcome.doc_id)
    assert doc is not None and doc.status is Status.PROCESSED
    assert doc.metadata["page_count"] == 5 and doc.metadata["title"] == "Annual report"
    assert doc.metadata["details"]["bytes_read"] <= doc.metadata["size"]


def test_a_jpeg_in_s3_is_processed_with_its_dimensions(aws, bucket) -> None:
    ref = upload(aws, bucket, f"uploads/it-{uuid.uuid4().hex}/p.jpg", samples.jpeg(width=300, height=200))
    doc = wiring.repository().get(wiring.ingest_service().process(ref).doc_id)
    assert doc is not None and (doc.metadata["width"], doc.metadata["height"]) == (300, 200)


def test_a_truncated_jpeg_fails_with_a_reason(aws, bucket) -> None:
    ref = upload(aws, bucket, f"uploads/it-{uuid.uuid4().hex}/cut.jpg", samples.jpeg()[:40])
    doc = wiring.repository().get(wiring.ingest_service().process(ref).doc_id)
    assert doc is not None and doc.status in (Status.FAILED, Status.PROCESSED)
    if doc.status is Status.FAILED:
        assert doc.error is not None and doc.error["code"] in ("corrupt", "too_large")


def test_keys_with_spaces_plus_percent_and_unicode_are_read_back(aws, bucket) -> None:
    key = f"uploads/it {uuid.uuid4().hex}/a+b %41 é.pdf"
    ref = upload(aws, bucket, key, samples.pdf(pages=1))
    doc = wiring.repository().get(wiring.ingest_service().process(ref).doc_id)
    assert doc is not None and doc.status is Status.PROCESSED and doc.key == key
    assert doc.filename == "a+b %41 é.pdf"


def test_a_large_copy_is_found_by_its_s3_checksum_and_confirmed_by_sha256(aws, bucket, tmp_path) -> None:
    from tests.support.media import write_large_mp4

    folder = f"uploads/{uuid.uuid4()}"
    path = tmp_path / "clip.mp4"
    write_large_mp4(path, 3 * 1024 * 1024)
    data = path.read_bytes()
    first = wiring.ingest_service().process(upload(aws, bucket, f"{folder}/clip.mp4", data))
    alone = wiring.repository().get(first.doc_id)
    assert alone is not None and "sha256" not in alone.metadata  # a size nobody else has: never read whole
    second = wiring.ingest_service().process(upload(aws, bucket, f"{folder}/clip copy.mp4", data))
    doc = wiring.repository().get(second.doc_id)
    assert doc is not None and doc.metadata["duplicate_of"] == first.doc_id
    assert doc.metadata["checksum"]["algorithm"] == "CRC32"
    again = wiring.repository().get(first.doc_id)
    assert again is not None and again.metadata["sha256"] == doc.metadata["sha256"]
