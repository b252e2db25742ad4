"""No file left behind: attempts killed mid-file are retried by the sweeper (boundedly), stale uploads expire."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.ingest import IngestService, dropped_document_id
from chalicelib.lifecycle import Lifecycle
from chalicelib.models import UPLOAD_GRACE_SECONDS, UPLOAD_URL_SECONDS, Document, Status
from chalicelib.sweeper import SweeperService
from tests.reliability.support import scenarios
from tests.reliability.support.faults import Crash

pytestmark = pytest.mark.emulator

LEASE = 1


class KillsExtraction:
    """Every extraction in the calling thread dies the way a timed-out Lambda does (nothing catches it)."""

    def __init__(self) -> None:
        self.kills = 0

    def __enter__(self) -> KillsExtraction:
        import chalicelib.extraction.extract as engine

        self._real = engine.extract
        self._thread = threading.get_ident()

        def killed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self._thread:
                return self._real(*args, **kwargs)
            self.kills += 1
            raise Crash("the function timed out")

        engine.extract = killed
        return self

    def __exit__(self, *exc: object) -> None:
        import chalicelib.extraction.extract as engine

        engine.extract = self._real


class RecordedBus:
    """Keeps what the sweeper publishes, so the test can play the reprocess handler itself."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def put(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        self.events.append((source, detail_type, detail))
        return uuid.uuid4().hex


def short_lease() -> Any:
    return dataclasses.replace(wiring.settings(), lease_seconds=LEASE)


def killed_mid_file(aws: dict[str, Any], bucket: str) -> tuple[IngestService, str]:
    service = IngestService(wiring.repository(), wiring.storage(), short_lease(), Lifecycle(None))
    name, body = scenarios.sample_file(0)
    key = f"uploads/killed-{uuid.uuid4().hex[:8]}/{name}"
    ref = scenarios.put(aws["s3"], bucket, key, body, scenarios.Sequencer())
    with KillsExtraction(), pytest.raises(Crash):
        service.process(ref)
    return service, dropped_document_id(bucket, ref.key)


def test_an_attempt_killed_mid_file_is_retried_by_the_sweeper_and_processed(aws, direct_bucket, pump) -> None:
    _, doc_id = killed_mid_file(aws, direct_bucket)
    doc = wiring.repository().get(doc_id)
    assert doc is not None and doc.status is Status.PROCESSING
    time.sleep(LEASE + 1.1)
    report = SweeperService(wiring.repository(), wiring.bus(), short_lease()).sweep(int(time.time()))
    assert report["retried"] >= 1, report

    def processed() -> Any:
        found = wiring.repository().get(doc_id)
        return found if found is not None and found.status is Status.PROCESSED else None

    done = scenarios.wait_until(processed, timeout=30)
    assert done is not None, wiring.repository().get(doc_id)
    events = [e["event"] for e in done.timeline]
    assert "lease_expired" in events and events[-2:] == ["reprocessing", "processed"], events


def test_a_file_that_kills_every_attempt_ends_failed_after_the_bounded_retries(aws, direct_bucket) -> None:
    service, doc_id = killed_mid_file(aws, direct_bucket)
    bus = RecordedBus()
    sweeper = SweeperService(wiring.repository(), bus, short_lease())  # type: ignore[arg-type]
    settings = short_lease()
    with KillsExtraction() as kills:
        for _ in range(settings.max_attempts + 2):
            time.sleep(LEASE + 1.1)
            before = len(bus.events)
            sweeper.sweep(int(time.time()))
            for _, _, detail in bus.events[before:]:
                if detail["doc_id"] == doc_id:
                    with contextlib.suppress(Crash):
                        service.reprocess(detail["doc_id"], detail["version"])
            doc = wiring.repository().get(doc_id)
            if doc is not None and doc.status is Status.FAILED:
                break
    assert doc is not None and doc.status is Status.FAILED and doc.error is not None, doc
    assert doc.error["code"] == "timeout"
    assert 1 + kills.kills == settings.max_attempts, (kills.kills, settings.max_attempts)


def test_an_upload_whose_object_never_arrives_expires_out_of_pending(stack) -> None:
    repo = wiring.repository()
    asked = datetime.now(UTC) - timedelta(seconds=UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS + 5)  # its URL expired
    now, doc_id = asked.isoformat(timespec="milliseconds"), uuid.uuid4().hex
    owner = str(uuid.uuid4())
    repo.create_pending(
        Document(
            id=doc_id,
            owner=owner,
            bucket=stack.names.bucket,
            key=f"uploads/{owner}/{doc_id}/never.pdf",
            filename="never.pdf",
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            declared_size=100,
            declared_type="application/pdf",
            timeline=[{"at": now, "event": "upload_requested"}],
            deadline=int(time.time()) - 1,
        )
    )
    report = SweeperService(repo, wiring.bus(), wiring.settings()).sweep(int(time.time()))
    assert report["expired"] >= 1, report
    doc = repo.get(doc_id)
    assert doc is not None and doc.status is Status.FAILED and doc.error is not None
    assert doc.error["code"] == "expired"
    SweeperService(repo, wiring.bus(), wiring.settings()).sweep(int(time.time()))
    assert repo.get(doc_id) == doc  # expired once; a later sweep leaves it alone
