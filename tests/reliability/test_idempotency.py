"""Duplicate and out-of-order S3 deliveries end in exactly one document per object, in its newest state."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.ingest import IngestService
from chalicelib.lifecycle import Lifecycle
from tests.fakes import InMemoryRepository
from tests.reliability.support import scenarios

pytestmark = pytest.mark.emulator


def test_duplicate_concurrent_deliveries_make_one_document_and_one_extraction_per_file(
    aws, direct_bucket, ingest, repository
) -> None:
    # the emulator applies each DynamoDB request atomically, as DynamoDB does (local/emulator_fidelity.py)
    figures = scenarios.duplicate_deliveries(
        ingest.process, repository, aws["s3"], direct_bucket, files=10, duplicates=5, workers=10
    )
    assert (figures.documents, figures.processed) == (10, 10), figures
    assert figures.extractions == 10 and figures.max_extractions_per_file == 1, figures
    assert figures.outcomes == {"PROCESSED": 10, "SKIPPED": 40}


def test_duplicate_concurrent_deliveries_on_the_atomic_repository_twin_extract_each_file_once(
    aws, direct_bucket, stack
) -> None:
    repo = InMemoryRepository()
    service = IngestService(repo, wiring.storage(), wiring.settings(), Lifecycle(None))
    figures = scenarios.duplicate_deliveries(
        service.process, repo, aws["s3"], direct_bucket, files=10, duplicates=5, workers=10
    )
    assert (figures.documents, figures.processed, figures.extractions) == (10, 10, 10), figures


def test_events_delivered_out_of_order_end_in_the_newest_version(aws, direct_bucket, ingest, repository) -> None:
    figures = scenarios.out_of_order(ingest.process, repository, aws["s3"], direct_bucket, trials=4)
    assert figures.newest == figures.trials, figures.failures


def test_a_newer_version_arriving_during_an_older_attempt_still_ends_in_the_newest_state(
    aws, direct_bucket, ingest, repository
) -> None:
    figures = scenarios.newer_version_during_an_attempt(ingest.process, repository, aws["s3"], direct_bucket, trials=1)
    assert figures.newest == 1, figures.failures
