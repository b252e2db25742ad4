"""Injected AWS faults (throttling, UnprocessedItems, S3 500s and timeouts, a failed write) lose no file."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tests.reliability.support import scenarios
from tests.reliability.support.faults import (
    BotoFaults,
    FailOnce,
    FaultPlan,
    RangedReadFaults,
    dynamodb_throttle,
    read_timeout,
    s3_internal_error,
    throttled,
)

pytestmark = pytest.mark.emulator

MAX_ATTEMPTS = 5  # botocore standard retry mode, as wiring configures the clients


def test_throttling_and_s3_errors_within_the_retry_budget_lose_no_file(aws, direct_bucket, ingest, repository) -> None:
    plan = FaultPlan(seed=7, rate=0.25, max_faults=10, max_in_a_row=2)
    dynamo = BotoFaults(wiring.client("dynamodb"), plan, (dynamodb_throttle,))
    s3 = BotoFaults(wiring.client("s3"), plan, (s3_internal_error, read_timeout))
    with dynamo.active(), s3.active():
        figures = scenarios.process_all(ingest.process, repository, aws["s3"], direct_bucket, files=8)
    assert figures.lost == [] and figures.processed == 8, figures
    assert dynamo.log.total > 0 and s3.log.total > 0, (dynamo.log, s3.log)
    assert dynamo.log.max_attempt <= MAX_ATTEMPTS and s3.log.max_attempt <= MAX_ATTEMPTS


def test_a_transient_error_on_a_ranged_read_does_not_fail_a_good_file(aws, direct_bucket, ingest, repository) -> None:
    faults = RangedReadFaults(FaultPlan(seed=3, rate=1.0, max_faults=4, max_in_a_row=1))
    with faults.active():
        figures = scenarios.process_all(ingest.process, repository, aws["s3"], direct_bucket, files=4, workers=2)
    assert faults.injected > 0
    assert figures.lost == [], figures


def test_a_finishing_write_that_fails_is_recovered_by_the_events_redelivery(aws, direct_bucket, ingest) -> None:
    def finishing(body: str) -> bool:
        return '"PROCESSED"' in body

    fail = FailOnce(wiring.client("dynamodb"), "UpdateItem", throttled("UpdateItem"), finishing)
    with fail.active():
        figures = scenarios.process_all(ingest.process, wiring.repository(), aws["s3"], direct_bucket, files=1)
    assert fail.raised == 1, "the finishing write did not go through the client the fault was set on"
    assert figures.lost == [], figures


def test_unprocessed_and_throttled_row_writes_lose_no_csv_row(aws, stack) -> None:
    from tests.reliability.support.records import records_under_faults

    figures = records_under_faults(aws, stack, rows=300, plan=FaultPlan(seed=5, rate=0.5, max_faults=40))
    assert figures.unprocessed_injected > 0 and figures.throttles_injected > 0, figures
    assert (figures.stored, figures.lost, figures.dead_letters) == (300, 0, 0), figures


def test_an_s3_timeout_that_outlasts_the_retries_is_retried_by_the_events_redelivery(
    aws, direct_bucket, ingest, repository
) -> None:
    from botocore.exceptions import ReadTimeoutError

    def timeout() -> BaseException:
        return ReadTimeoutError(endpoint_url=f"http://s3/{direct_bucket}")

    fail = FailOnce(wiring.client("s3"), "HeadObject", timeout)
    with fail.active():
        figures = scenarios.process_all(ingest.process, repository, aws["s3"], direct_bucket, files=1)
    assert fail.raised == 1
    assert figures.lost == [], figures
