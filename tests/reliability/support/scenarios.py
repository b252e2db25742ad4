"""Reliability scenarios, each returning its figures: the fast tests run them small, the bench full size.

A scenario takes the parts it drives (the ingest use case, a repository,
boto3 clients, a bucket) so that the same code runs under pytest fixtures
and in `bench.reliability`'s own local stack. Deliveries are modelled on
Lambda: an S3 event handler that raises is invoked again (twice, as S3's
asynchronous invocation does); one that returns is never called again.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.ingest import dropped_document_id
from chalicelib.models import ObjectRef, Status

LAMBDA_RETRIES = 2


def sample_file(i: int) -> tuple[str, bytes]:
    """A small real file, distinct for each i: PDFs, JPEGs, PNGs, CSVs and plain text in turn."""
    from tests.support import samples

    kind = i % 5
    if kind == 0:
        return f"report {i}.pdf", samples.pdf(pages=1 + i % 3, title=f"Report {i}")
    if kind == 1:
        return f"photo {i}.jpg", samples.jpeg(width=16 + i % 64, height=16 + i % 32)
    if kind == 2:
        return f"icon {i}.png", samples.png(width=8 + i % 40, height=8 + i % 20)
    if kind == 3:
        rows = "".join(f"{n},item {n},{n * i % 97}\n" for n in range(1, 6 + i % 7))
        return f"table {i}.csv", f"id,name,amount\n{rows}".encode()
    return f"note {i}.txt", f"Note number {i}.\nThe quick brown fox jumps over the lazy dog.\n".encode()


class Sequencer:
    """S3 sequencers for one bucket: hex, increasing with every write, of varying length like the real ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._n = 0x0055AED6D6C8F1000

    def next(self) -> str:
        with self._lock:
            self._n += 1 + random.randrange(1000)
            return f"{self._n:X}"


def put(s3: Any, bucket: str, key: str, body: bytes, sequencer: Sequencer) -> ObjectRef:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    return ObjectRef(bucket, key, len(body), etag, None, sequencer.next())


def deliver(process: Callable[[ObjectRef], Any], ref: ObjectRef, retries: int = LAMBDA_RETRIES) -> str:
    """One S3 event as Lambda delivers it: retried when the handler raises. Returns the last outcome."""
    for attempt in range(retries + 1):
        try:
            return str(process(ref).status)
        except Exception:
            if attempt == retries:
                return "RAISED"
    return "RAISED"


class ExtractionCounter:
    """Counts calls of the extraction engine per file name (patched where ingest imports it from)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def active(self) -> Iterator[ExtractionCounter]:
        import chalicelib.extraction.extract as engine

        real = engine.extract

        def counted(reader: Any, filename: str, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[filename] += 1
            return real(reader, filename, *args, **kwargs)

        engine.extract = counted
        try:
            yield self
        finally:
            engine.extract = real


# -- idempotency -----------------------------------------------------------------


@dataclass
class DuplicateFigures:
    files: int
    deliveries: int
    documents: int = 0
    processed: int = 0
    extractions: int = 0
    max_extractions_per_file: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unfinished: list[str] = field(default_factory=list)
    """Each document that did not end PROCESSED: its status, error code and timeline (for diagnosis)."""


def duplicate_deliveries(
    process: Callable[[ObjectRef], Any],
    repository: Any,
    s3: Any,
    bucket: str,
    files: int = 50,
    duplicates: int = 5,
    workers: int = 10,
    seed: int = 10,
) -> DuplicateFigures:
    """Every file's event delivered `duplicates` times, shuffled, `workers` at a time."""
    run, sequencer = uuid.uuid4().hex[:8], Sequencer()
    refs = []
    for i in range(files):
        name, body = sample_file(i)
        refs.append(put(s3, bucket, f"uploads/dup-{run}/{i:04d}-{name}", body, sequencer))
    deliveries = [ref for ref in refs for _ in range(duplicates)]
    random.Random(seed).shuffle(deliveries)
    figures = DuplicateFigures(files=files, deliveries=len(deliveries))
    with ExtractionCounter().active() as counter, ThreadPoolExecutor(workers) as pool:
        figures.outcomes.update(pool.map(lambda ref: deliver(process, ref), deliveries))
    docs = [repository.get(dropped_document_id(bucket, ref.key)) for ref in refs]
    figures.documents = sum(1 for d in docs if d is not None)
    figures.processed = sum(1 for d in docs if d is not None and d.status is Status.PROCESSED)
    figures.unfinished = [
        f"{d.status.value} {(d.error or {}).get('code', '')} {[e.get('event') for e in d.timeline]}"
        for d in docs
        if d is not None and d.status is not Status.PROCESSED
    ]
    per_file = [counter.calls[ref.key.rsplit("/", 1)[-1]] for ref in refs]
    figures.extractions = sum(per_file)
    figures.max_extractions_per_file = max(per_file, default=0)
    return figures


@dataclass
class OrderFigures:
    trials: int
    newest: int = 0
    failures: list[str] = field(default_factory=list)


def _is_newest(repository: Any, bucket: str, key: str, newest: ObjectRef, body: bytes) -> str | None:
    doc = repository.get(dropped_document_id(bucket, key))
    if doc is None:
        return "no document"
    if doc.status is not Status.PROCESSED:
        return f"status {doc.status.value} ({(doc.error or {}).get('code')})"
    if doc.metadata.get("sha256") != hashlib.sha256(body).hexdigest():
        return "metadata of an older version"
    if doc.etag != newest.etag:
        return "etag of an older version"
    return None


def out_of_order(
    process: Callable[[ObjectRef], Any],
    repository: Any,
    s3: Any,
    bucket: str,
    trials: int = 20,
    versions: int = 3,
    seed: int = 10,
) -> OrderFigures:
    """Write `versions` versions of one key, then deliver their events (plus a duplicate) in a shuffled order."""
    rng = random.Random(seed)
    figures = OrderFigures(trials)
    for trial in range(trials):
        key, sequencer = f"uploads/order-{uuid.uuid4().hex[:8]}/ledger.txt", Sequencer()
        bodies = [f"ledger version {v} of trial {trial}\n".encode() * (v + 1) for v in range(versions)]
        refs = [put(s3, bucket, key, body, sequencer) for body in bodies]
        events = [*refs, rng.choice(refs)]
        while events[-1] is refs[-1]:
            rng.shuffle(events)  # the newest event is never simply the last one
        for ref in events:
            deliver(process, ref)
        problem = _is_newest(repository, bucket, key, refs[-1], bodies[-1])
        if problem is None:
            figures.newest += 1
        else:
            figures.failures.append(f"trial {trial}: {problem}")
    return figures


class Gate:
    """Holds the first extraction until released (after it has read the file), to overlap two attempts."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def active(self) -> Iterator[Gate]:
        import chalicelib.extraction.extract as engine

        real = engine.extract

        def gated(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            with self._lock:
                first, self._first = self._first, False
            if first:
                self.entered.set()
                self.release.wait(30)
            return result

        engine.extract = gated
        try:
            yield self
        finally:
            self.release.set()
            engine.extract = real


def newer_version_during_an_attempt(
    process: Callable[[ObjectRef], Any], repository: Any, s3: Any, bucket: str, trials: int = 20
) -> OrderFigures:
    """A new version is written, and its event delivered, while the previous version's attempt is running."""
    figures = OrderFigures(trials)
    for trial in range(trials):
        key, sequencer = f"uploads/overlap-{uuid.uuid4().hex[:8]}/ledger.txt", Sequencer()
        old_body, new_body = b"old ledger\n" * (trial + 1), b"new ledger\n" * (trial + 2)
        old = put(s3, bucket, key, old_body, sequencer)
        with Gate().active() as gate:
            first = threading.Thread(target=deliver, args=(process, old))
            first.start()
            gate.entered.wait(30)
            new = put(s3, bucket, key, new_body, sequencer)
            deliver(process, new)
            gate.release.set()
            first.join(60)
        problem = _is_newest(repository, bucket, key, new, new_body)
        if problem is None:
            figures.newest += 1
        else:
            figures.failures.append(f"trial {trial}: {problem}")
    return figures


# -- faults ------------------------------------------------------------------------


@dataclass
class LossFigures:
    files: int
    processed: int = 0
    lost: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


def process_all(
    process: Callable[[ObjectRef], Any],
    repository: Any,
    s3: Any,
    bucket: str,
    files: int,
    workers: int = 4,
    prefix: str = "faults",
) -> LossFigures:
    """Deliver one event per new file (Lambda-like retries); a file not PROCESSED at the end is lost."""
    run, sequencer = uuid.uuid4().hex[:8], Sequencer()
    refs = []
    for i in range(files):
        name, body = sample_file(i)
        refs.append(put(s3, bucket, f"uploads/{prefix}-{run}/{i:04d}-{name}", body, sequencer))
    figures = LossFigures(files)
    with ThreadPoolExecutor(workers) as pool:
        figures.outcomes.update(pool.map(lambda ref: deliver(process, ref), refs))
    for ref in refs:
        doc = repository.get(dropped_document_id(bucket, ref.key))
        if doc is not None and doc.status is Status.PROCESSED:
            figures.processed += 1
        else:
            state = "missing" if doc is None else f"{doc.status.value} {(doc.error or {}).get('code', '')}".strip()
            figures.lost.append(f"{ref.key.rsplit('/', 1)[-1]}: {state}")
    return figures


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by the nearest-rank method (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
