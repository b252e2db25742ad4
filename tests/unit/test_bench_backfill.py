"""The backfill bench follows its run patiently: an API that answers late or with an error is asked again after a
pause (never in a tight loop that adds load to the emulator), and the progress line says how old its reading is."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bench import backfill


class Emulator:
    pid = None
    returncode = None
    log = None


class Answer:
    def __init__(self, body: Any) -> None:
        self.body = body

    def json(self) -> Any:
        return self.body

    def raise_for_status(self) -> None:
        return None


def test_late_or_failed_progress_answers_are_retried_after_a_pause_and_counted(monkeypatch) -> None:
    answers: list[Any] = [
        requests.ConnectionError("refused"),
        requests.ReadTimeout("slow"),
        {"code": "internal_error"},
        {"status": "RUNNING", "progress": {"processed": 5}},
        {"status": "SUCCEEDED", "progress": {"processed": 10}},
    ]
    sleeps: list[float] = []

    def get(url: str, **kwargs: Any) -> Answer:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Answer(answer)

    monkeypatch.setattr(requests, "post", lambda url, **kwargs: Answer({"id": "run-1"}))
    monkeypatch.setattr(requests, "get", get)
    monkeypatch.setattr(backfill.time, "sleep", sleeps.append)
    sampler = backfill.MemorySampler(Emulator())
    run, _ = backfill.run_backfill("http://api", "token", {}, 60, sampler)
    assert run["status"] == "SUCCEEDED" and not answers
    assert sleeps == [2.0] * 4  # one pause after each answer that did not end the run, failures included
    assert sampler.failed_reads == 3


def test_the_progress_line_says_how_old_a_lagging_reading_is(monkeypatch) -> None:
    sampler = backfill.MemorySampler(Emulator())
    sampler.run = {"status": "RUNNING", "progress": {"processed": 7}}
    sampler.failed_reads = 4
    now = backfill.time.monotonic()
    sampler.run_read_at = now - 95
    assert "(read 95 s ago; 4 progress requests unanswered so far)" in sampler.progress_line({})
    sampler.run_read_at = now
    assert "read" not in sampler.progress_line({})


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch) -> None:
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: pytest.fail("no real request"))
