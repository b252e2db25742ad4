"""The sweeper: expired uploads fail, expired leases are retried, and then given up on."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.aws.repository import Claim
from chalicelib.config import Settings
from chalicelib.models import (
    UPLOAD_GRACE_SECONDS,
    UPLOAD_URL_SECONDS,
    Document,
    ObjectRef,
    Status,
    first_sweep,
    upload_deadline,
    utcnow,
)
from chalicelib.sweeper import SweeperService
from tests.fakes import InMemoryRepository


class FakeBus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def put(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        self.sent.append((source, detail_type, detail))
        return "id"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


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
    asked = iso(time.time() - UPLOAD_URL_SECONDS - UPLOAD_GRACE_SECONDS - 5)
    doc = Document(
        uuid.uuid4().hex,
        "u",
        "b",
        "uploads/u/x/f.pdf",
        "f.pdf",
        Status.PENDING,
        asked,
        asked,
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


def upload(repo: InMemoryRepository, asked_ago: float) -> Document:
    """An upload asked for `asked_ago` seconds ago, filed for its first sweep as the API files it."""
    asked = iso(time.time() - asked_ago)
    doc = Document(uuid.uuid4().hex, "u", "b", "uploads/u/x/f.pdf", "f.pdf", Status.PENDING, asked, asked)
    doc.deadline = first_sweep(int(time.time() - asked_ago), asked, 600)
    repo.create_pending(doc)
    return doc


def attempt(repo: InMemoryRepository, doc: Document, started: int) -> None:
    """The upload's file arrived: an attempt claims it at `started` with a 600 s lease."""
    repo.begin_processing(Claim(doc.id, ObjectRef("b", doc.key, 1, "e"), "f.pdf", "a1", utcnow(), started, 600))


def test_an_upload_still_on_its_way_after_one_lease_is_looked_at_again_when_its_url_has_expired() -> None:
    sweeper, repo, _ = setup()
    doc = upload(repo, asked_ago=700)  # the URL is still valid
    now = int(time.time())
    assert sweeper.sweep(now) == {"expired": 0, "retried": 0, "failed": 0, "skipped": 1, "purges": 0}
    assert repo.get(doc.id).status is Status.PENDING  # type: ignore[union-attr]
    assert sweeper.sweep(now) == {"expired": 0, "retried": 0, "failed": 0, "skipped": 0, "purges": 0}
    expiry = upload_deadline(doc.created_at)
    assert sweeper.sweep(expiry + 1)["expired"] == 1


def test_an_attempt_on_an_upload_is_left_to_finish_while_its_lease_runs_and_retried_once_it_ran_out() -> None:
    sweeper, repo, bus = setup()
    doc = upload(repo, asked_ago=700)
    now = int(time.time())
    attempt(repo, doc, now)
    assert sweeper.sweep(now) == {"expired": 0, "retried": 0, "failed": 0, "skipped": 1, "purges": 0}
    assert bus.sent == [] and repo.get(doc.id).status is Status.PROCESSING  # type: ignore[union-attr]
    assert sweeper.sweep(now + 600)["retried"] == 0  # looked at again only after the lease's end
    assert sweeper.sweep(now + 602)["retried"] == 1


def test_a_crashed_attempt_on_an_upload_is_found_one_lease_after_the_url_was_asked_for() -> None:
    sweeper, repo, bus = setup()
    doc = upload(repo, asked_ago=0)
    started = int(time.time())
    attempt(repo, doc, started)
    assert sweeper.sweep(started + 599)["retried"] == 0
    assert sweeper.sweep(started + 601)["retried"] == 1
    assert [d["doc_id"] for _, _, d in bus.sent] == [doc.id]
