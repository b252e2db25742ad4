"""Attacks on the running stack that are the platform's doing, not the file's, and a CSV record too big to send.

Each test records its figures (junit properties) for `bench.reliability`:
- storage frozen for 40 s in the middle of reading a file (the emulator
  process stopped with SIGSTOP, then continued): the file must not fail, its
  attempt is given back and the redelivered event processes it;
- the extraction worker killed from outside (SIGKILL, as the OOM killer or an
  operator would) while it reads a file: the same;
- a CSV whose first record is over 1 MiB (more than an SQS message holds):
  one failed row with its reason, true counts, and the records reach a final
  state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chalicelib.extraction import sandbox
from chalicelib.extraction.reader import RangedReader
from chalicelib.ingest import dropped_document_id
from tests.reliability.support.scenarios import wait_until
from tests.support import samples
from tests.support.sandbox import idle_workers, kill_workers

pytestmark = pytest.mark.emulator

FREEZE_SECONDS = 40.0
Record = Callable[[str, object], None]


@contextlib.contextmanager
def _first_read_of(wanted: str, misbehave: Callable[[], object]) -> Iterator[None]:
    """Make the first ranged read of the object `wanted` misbehave (in the host, which fetches for the worker)."""
    from chalicelib import wiring

    storage = wiring.storage()
    real = storage.reader
    done = threading.Event()

    def reader(bucket: str, key: str, size: int, etag: str | None = None) -> RangedReader:
        good = real(bucket, key, size, etag)
        if key != wanted or done.is_set():
            return good

        def fetch(start: int, end: int) -> bytes:
            if not done.is_set():
                done.set()
                misbehave()
            return good.head(end + 1)[start:]

        return RangedReader(fetch, size)

    storage.reader = reader  # type: ignore[method-assign]
    try:
        yield
    finally:
        del storage.reader


def _processed_despite(
    misbehave: Callable[[], object],
    name: str,
    api: str,
    demo: dict[str, str],
    aws: dict[str, Any],
    bucket: str,
    figure: Record,
    timeout: float,
) -> None:
    """Drop a PDF whose first read misbehaves; it must end PROCESSED and never be FAILED on the way."""
    key = f"uploads/{demo['sub']}/{name}-{uuid.uuid4().hex[:8]}/report.pdf"
    started = time.monotonic()
    doc_id = dropped_document_id(bucket, key)
    seen: list[str] = []

    def final() -> dict[str, Any] | None:
        try:
            resp = requests.get(f"{api}/documents/{doc_id}", headers={"Authorization": demo["token"]}, timeout=5)
        except requests.RequestException:  # the stack is frozen: ask again
            return None
        doc: dict[str, Any] = resp.json() if resp.status_code == 200 else {}
        if doc.get("status") and (not seen or seen[-1] != doc["status"]):
            seen.append(doc["status"])
        return doc if doc.get("status") in ("PROCESSED", "FAILED") else None

    with _first_read_of(key, misbehave):
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=samples.pdf())
        doc = wait_until(final, timeout=timeout, interval=0.5)
    assert doc is not None, f"{key!r} never reached a final status (seen: {seen})"
    figure("final_status", doc["status"])
    figure("seconds_to_final", round(time.monotonic() - started, 1))
    figure("timeline", " > ".join(str(e.get("event")) for e in doc.get("timeline") or []))
    assert doc["status"] == "PROCESSED", doc
    assert doc.get("error") is None and "FAILED" not in seen, (doc, seen)


def test_a_40_s_storage_freeze_mid_read_fails_no_file_and_the_file_is_processed_after_it(
    api, demo, aws, stack, pump, emulator, figure: Record
) -> None:
    def freeze() -> None:
        os.kill(emulator.pid, signal.SIGSTOP)
        threading.Timer(FREEZE_SECONDS, os.kill, (emulator.pid, signal.SIGCONT)).start()

    figure("freeze_seconds", FREEZE_SECONDS)
    try:
        _processed_despite(freeze, "freeze", api, demo, aws, stack.names.bucket, figure, 240)
    finally:
        os.kill(emulator.pid, signal.SIGCONT)  # whatever happened, the stack runs again


def test_an_extraction_worker_killed_from_outside_fails_no_file_and_the_file_is_processed_after_it(
    api, demo, aws, stack, pump, figure: Record
) -> None:
    figure("idle_workers_killed_too", len(idle_workers(sandbox.MAX_IDLE)))  # as after many files: all die at once
    _processed_despite(kill_workers, "killed", api, demo, aws, stack.names.bucket, figure, 180)


def test_a_csv_whose_first_record_is_over_1_mib_is_one_failed_row_with_true_counts(
    api, demo, aws, stack, pump, figure: Record
) -> None:
    big = 1_200_000
    body = ("id,text\n1," + "x" * big + "\n2,fine\n3,also fine\n").encode()
    key = f"uploads/{demo['sub']}/records-{uuid.uuid4().hex[:8]}/wide.csv"
    aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=body)
    doc_id = dropped_document_id(stack.names.bucket, key)
    headers = {"Authorization": demo["token"]}

    def records_final() -> dict[str, Any] | None:
        doc = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=10).json()
        records = doc.get("records") or {}
        return records if records.get("state") in ("COMPLETE", "COMPLETE_WITH_ERRORS") else None

    records = wait_until(records_final, timeout=120, interval=0.5)
    assert records is not None, "the records never reached a final state"
    errors = requests.get(f"{api}/documents/{doc_id}/records/errors", headers=headers, timeout=10).json()["items"]
    rows = requests.get(f"{api}/documents/{doc_id}/records", headers=headers, timeout=10).json()["items"]
    figure("record_bytes", big)
    figure("records", str(records))
    figure("errors", str([{k: e.get(k) for k in ("row", "line", "reason", "message")} for e in errors]))
    assert (records["state"], records["written"], records["failed"]) == ("COMPLETE_WITH_ERRORS", 2, 1), records
    assert records.get("total") in (None, 3), records
    assert len(errors) == 1 and len(rows) == 2, (errors, rows)
