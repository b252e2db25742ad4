"""The CLI's human output speaks lower case throughout: statuses from the API are shown as words, not constants."""

from __future__ import annotations

import argparse
import io
from typing import Any

from docpipe_cli import backfill
from docpipe_cli.main import ls, watch
from docpipe_cli.words import word

DOC: dict[str, Any] = {
    "id": "a" * 32,
    "status": "PROCESSED",
    "family": "tabular",
    "size": 120,
    "created_at": "2026-11-28T10:00:00Z",
    "filename": "rows.csv",
    "records": {"state": "COMPLETE_WITH_ERRORS", "written": 9, "total": 10},
    "metadata": {"family": "tabular"},
}
RUN: dict[str, Any] = {
    "id": "b" * 32,
    "status": "SUCCEEDED",
    "created_at": "2026-11-28T10:00:00Z",
    "progress": {"listed": 3, "queued": 3, "processed": 3},
}


class Answers:
    """Answers each GET with the one document or run it was given (what the API returns for these calls)."""

    def __init__(self, doc: dict[str, Any], run: dict[str, Any]) -> None:
        self.doc, self.run = doc, run

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        if path == "/documents":
            return {"items": [self.doc], "next": None}
        if path.startswith("/documents/"):
            return self.doc
        return self.run


def test_a_status_constant_reads_as_lower_case_words() -> None:
    assert word("PROCESSED") == "processed"
    assert word("COMPLETE_WITH_ERRORS") == "complete with errors"


def test_ls_and_watch_show_the_status_and_the_rows_state_in_lower_case() -> None:
    out = io.StringIO()
    args = argparse.Namespace(
        q=None, name=None, status=None, family=None, created_from=None, created_to=None, sort=None, all=False, max=10
    )
    assert ls(Answers(DOC, RUN), args, out) == 0  # type: ignore[arg-type]
    assert watch(Answers(DOC, RUN), DOC["id"], out) == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert " processed " in text and "rows complete with errors" in text
    assert "records complete with errors 9/10" in text
    assert not any(c in text for c in ("PROCESSED", "COMPLETE"))


def test_backfill_progress_and_summaries_show_the_run_status_in_lower_case() -> None:
    out = io.StringIO()
    assert backfill.follow(Answers(DOC, RUN), RUN["id"], out, poll=0) == 0
    text = out.getvalue() + backfill.summary_line(RUN) + backfill.describe(RUN)
    assert "succeeded" in text and "SUCCEEDED" not in text
