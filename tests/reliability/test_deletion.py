"""Deleting a document answers at once and removes everything, even while its rows are still being ingested."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.support.deletion import delete_during_ingest

pytestmark = pytest.mark.emulator


def test_deleting_a_csv_during_its_ingestion_answers_202_at_once_and_leaves_nothing_behind(
    api: str, demo: dict[str, str], aws: dict[str, Any], stack: Any, pump: Any
) -> None:
    figures = delete_during_ingest(
        api, demo["token"], demo["sub"], aws, stack.names.bucket, stack.names.table, rows=20_000, timeout=180
    )
    assert figures.written_when_deleted > 0, "the delete came before ingestion started"
    assert figures.status_code == 202 and figures.request_seconds < 10, figures
    assert figures.gone_after_seconds is not None, figures
    assert (figures.items_left, figures.object_left, figures.dead_letters) == (0, False, 0), figures
