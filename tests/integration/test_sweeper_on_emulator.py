"""A processing attempt that died mid-file is found by the sweeper and finished by a retry."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

import app as app_module
from chalicelib import wiring
from chalicelib.aws.repository import Claim
from chalicelib.models import ObjectRef, Status, utcnow
from tests.integration.conftest import wait_for
from tests.support import samples

pytestmark = pytest.mark.emulator


def test_a_crashed_attempt_is_retried_by_the_sweeper_and_the_file_ends_processed(
    stack, aws, direct_bucket, pump
) -> None:
    key = f"uploads/crash-{uuid.uuid4().hex}/half-done.pdf"
    etag = aws["s3"].put_object(Bucket=direct_bucket, Key=key, Body=samples.pdf(pages=3))["ETag"].strip('"')
    from chalicelib.ingest import dropped_document_id

    doc_id = dropped_document_id(direct_bucket, key)
    # an attempt claims the file and then its Lambda dies: the lease ran out long ago
    wiring.repository().begin_processing(
        Claim(
            doc_id,
            ObjectRef(direct_bucket, key, 1, etag),
            "half-done.pdf",
            "dead-attempt",
            utcnow(),
            int(time.time()) - 3600,
            60,
        )
    )
    result: dict[str, Any] = app_module.sweep(
        {
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "",
            "region": "us-east-1",
            "resources": [],
            "detail": {},
            "version": "0",
            "id": "s1",
        },
        None,
    )
    assert result["retried"] >= 1

    def processed() -> Any:
        doc = wiring.repository().get(doc_id)
        return doc if doc and doc.status is Status.PROCESSED else None

    doc = wait_for(processed, timeout=30)
    assert doc.metadata["page_count"] == 3
    events = [e["event"] for e in doc.timeline]
    assert events[:2] == ["processing_started", "lease_expired"] and events[-1] == "processed"
