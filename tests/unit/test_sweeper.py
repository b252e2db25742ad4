"""The sweeper: expired uploads fail, expired leases are retried, and then given up on."""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalicelib.aws.repository import Claim
from chalicelib.config import Settings
from chalicelib.models import Document, ObjectRef, Status, utcnow
from chalicelib.sweeper import SweeperService
from tests.fakes import InMemoryRepository


class FakeBus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def put(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        self.sent.append((source, detail_type, detail))
        return "id"


def setup(max_attempts: int = 3) -> tuple[SweeperService, InMemoryRepository, FakeBus]:
    repo, bus = InMemoryRepository(), FakeBus()
    settings = Settings.from_env({"DOCPIPE_MAX_ATTEMPTS": str(max_attempts), "DOCPIPE_LEASE_SECONDS": "600"})
    return SweeperService(repo, bus, settings), repo, bus  # type: ignore[arg-type]


def stuck(repo: InMemoryRepository, times: int = 1) -> str:
    doc_id = uuid.uuid4().hex
    for attempt in range(times):  # each attempt claims after the previous one's lease ran out
        repo.begin_processing(
            Claim(
                doc_id,
                ObjectRef("b", "uploads/x.pdf", 1, "e"),
                "x.pdf",
                uuid.uuid4().hex,
                utcnow(),
                int(time.time()) - 1000 + 10 * attempt,
                1,
                force=True,
            )
        )
    return doc_id


def test_an_upload_that_never_arrived_expires_out_of_pending() -> None:
    sweeper, repo, _ = setup()
    now = utcnow()
    doc = Document(
        uuid.uuid4().hex,
        "u",
        "b",
        "uploads/u/x/f.pdf",
        "f.pdf",
        Status.PENDING,
        now,
        now,
        deadline=int(time.time()) - 5,
    )
    repo.create_pending(doc)
    assert sweeper.sweep(int(time.time()))["expired"] == 1
    got = repo.get(doc.id)
    assert (
        got is not None
        and got.status is Status.FAILED
        and got.error == {"code": "expired", "message": "No file was uploaded before the upload URL expired"}
    )


def test_an_expired_lease_is_retried_once_per_lease_and_recorded() -> None:
    sweeper, repo, bus = setup()
    doc_id = stuck(repo)
    now = int(time.time())
    assert sweeper.sweep(now)["retried"] == 1
    assert sweeper.sweep(now)["retried"] == 0  # postponed until the retry's own lease has passed
    ((source, detail_type, detail),) = bus.sent
    assert (source, detail_type, detail["doc_id"]) == ("docpipe.api", "ReprocessRequested", doc_id)
    doc = repo.get(doc_id)
    assert doc is not None and doc.timeline[-1]["event"] == "lease_expired"
    assert detail["version"] == doc.updated_at


def test_a_document_that_keeps_timing_out_is_failed_with_a_reason() -> None:
    sweeper, repo, bus = setup(max_attempts=3)
    doc_id = stuck(repo, times=3)
    assert sweeper.sweep(int(time.time()))["failed"] == 1
    doc = repo.get(doc_id)
    assert doc is not None and doc.status is Status.FAILED
    assert doc.error == {"code": "timeout", "message": "Processing did not finish after 3 attempts"}
    assert bus.sent == []


def test_nothing_due_means_nothing_done() -> None:
    sweeper, _, bus = setup()
    assert sweeper.sweep(int(time.time())) == {"expired": 0, "retried": 0, "failed": 0, "skipped": 0, "purges": 0}
    assert bus.sent == []
