"""A burst of uploads through the API on the local stack: every one reaches a final status, nothing is left over."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tests.reliability.support.load import new_user, run_load

pytestmark = pytest.mark.emulator


def test_a_burst_of_uploads_all_reach_processed_with_one_document_per_object(api, aws, stack, pump) -> None:
    token, sub = new_user(aws["cognito-idp"], stack)
    figures = run_load(
        api, token, sub, 30, wiring.repository(), aws["s3"], aws["sqs"], stack.names.bucket, workers=6, timeout=120
    )
    assert figures.upload_errors == [], figures.upload_errors[:3]
    assert (figures.final, figures.processed) == (30, 30), figures
    assert figures.objects == figures.documents == 30, figures
    assert figures.dead_letters == 0
    assert 0 < figures.p50_seconds <= figures.p95_seconds < 60, figures
