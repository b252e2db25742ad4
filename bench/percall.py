"""What one document costs on AWS, counted call by call on the emulator.

Usage: python -m bench.percall [--corpus DIR] [--quick] [--huge] [--against REV] [--json FILE]
       (`make cost`)

Starts the emulator, provisions the stack from the app, starts the JWT-checking
gateway, and then, for every file of the mix (the shared corpus, or without it
generated files, plus generated kinds: a small PDF, a 1 MB and a 100 MB video,
a 5,000-row CSV; `--huge` adds a 1 GB video dropped straight into the bucket),
does what a user and the platform do for one document, one at a time:

  POST /uploads, the browser's presigned POST, the S3 notification handed to
  the real `on_upload` handler, the records queue drained into the real
  `on_records` handler (CSV), then GET /documents/{id}, whose answer carries
  the download link the web app uses, and one list page (GET /documents?limit=20):
  three API calls (against code whose answer has no link, the bench asks
  GET /documents/{id}/download too: four).

Every AWS call the app makes is counted through botocore's event hooks
(`bench.meter`): requests per service and operation, bytes S3 sent (the
extraction children's ranged GETs included), DynamoDB capacity units from item
sizes and index projections (`bench.capacity`), EventBridge and SQS billing
units. Wall time is split by stage (claim, head, detect+extract, hash,
rendition, finish, events, records) by timing the use case's collaborators;
each invocation's CPU time (its threads here and the extraction sandbox's
processes, `bench.cputime`) is measured beside it. The cost per month comes
from those counts and `bench.cost`'s dated prices; Lambda time is billed from
the CPU time and the counted requests (`bench.cost`'s model), not from the
emulator's clock, which is printed beside it.

`--against REV` runs this same bench on another revision of the code (an
archive of REV in a temporary folder) first, and prints both side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import math
import mimetypes
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.capacity import item_size
from bench.cputime import Processes, own_peak_kb
from bench.meter import Meter, PresignedReads, Tally

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
MB = 1024 * 1024
READ_GOAL_BYTES = 256 * 1024  # any non-CSV file, text extraction aside
TEXT_READ_CAP_BYTES = 64 * MB  # what text extraction may read of a file (chalicelib/extraction/text.py)
WRITE_GOAL = 3
COST_GOAL = 40.0
ENV = {
    "AWS_ACCESS_KEY_ID": "docpipe-bench",
    "AWS_SECRET_ACCESS_KEY": "docpipe-bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "DOCPIPE_CURSOR_SECRET": "docpipe-bench-cursor-key",
    "DOCPIPE_LOG_JSON": "1",
}
STAGES = ("claim", "head", "extract", "hash", "rendition", "finish", "events", "records", "other")
# the use case's collaborators whose calls make up each stage (names missing in a revision are skipped)
SEAMS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "repository": (
        ("claim", ("get", "begin_processing", "note_pending")),
        ("finish", ("complete", "fail", "set_hash", "take_pending", "find_by_hash", "find_candidates", "release")),
    ),
    "storage": (("head", ("head",)), ("hash", ("sha256", "content_sha256")), ("rendition", ("put_rendition",))),
    "lifecycle": (("events", ("processed", "failed")),),
}
MODULE_SEAMS = (
    ("extract", "chalicelib.extraction.extract", "extract"),
    ("rendition", "chalicelib.extraction.rendition", "render"),
)


@dataclass
class Record:
    """One document's counts: what the platform did (ingest), what the user's calls cost (api, user)."""

    name: str
    kind: str
    size: int
    upload: str  # api or drop
    status: str = ""
    reason: str | None = None
    family: str | None = None
    text: bool = False  # its plain text was extracted (text extraction may read past the 256 KB goal)
    ingest: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)
    user: dict[str, int] = field(default_factory=dict)  # S3 requests the user's browser makes
    lambda_ms: dict[str, list[float]] = field(default_factory=dict)  # wall time per invocation, by function
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # CPU time per invocation (children included)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)  # requests by function and operation
    stages: dict[str, float] = field(default_factory=dict)
    log_bytes: int = 0
    api_calls: int = 0
    stored_item_bytes: int = 0  # DynamoDB storage: items + index entries + per-item overhead
    stored_object_bytes: int = 0  # S3: the upload and its rendition
    it_transitions: int = 0  # lifecycle transitions into Intelligent-Tiering (objects >= 128 KB in STANDARD)

    @property
    def total(self) -> Tally:
        tally = Tally.from_dict(self.ingest)
        tally.add(Tally.from_dict(self.api))
        return tally


# -- the stack ------------------------------------------------------------------------------


class LogSink(io.TextIOBase):
    """Counts what a function prints (JSON log lines and EMF documents) and remembers metric combinations."""

    def __init__(self) -> None:
        self.bytes = 0
        self.metrics: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        for line in text.splitlines():
            if '"_aws"' in line:
                self._metric(json.loads(line))
        return len(text)

    def _metric(self, doc: dict[str, Any]) -> None:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    self.metrics.add((metric["Name"], tuple((d, str(doc[d])) for d in dims)))


class StageClock:
    """Times calls to the use case's collaborators while a document is being ingested.

    Every timing leaves out what the meter's hooks spent (`Meter.overhead`): the
    bench's own reads of items before and after each write are not docpipe's time.
    """

    def __init__(self, meter: Meter) -> None:
        self.current: dict[str, float] | None = None
        self._meter = meter

    def now(self) -> float:
        """A clock that stands still while the meter works (seconds)."""
        return time.perf_counter() - self._meter.overhead

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        original = getattr(owner, attr, None)
        if original is None or getattr(original, "_bench_stage", None):
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = self.now()
            try:
                return original(*args, **kwargs)
            finally:
                if self.current is not None:
                    self.current[stage] = self.current.get(stage, 0.0) + (self.now() - started) * 1000

        timed._bench_stage = stage  # type: ignore[attr-defined]
        setattr(owner, attr, timed)


class Bench:
    def __init__(self) -> None:
        os.environ.update(ENV)
        from local.emulator import Emulator, free_port

        self.emulator = Emulator(port=free_port()).start()
        self.app = importlib.import_module("app")
        from chalicelib import observability, wiring
        from local.provision import StackNames, clients, login, provision

        self.names = StackNames()
        self.stack = provision(self.emulator.endpoint, self.app.app, self.names)
        os.environ.update(self.stack.app_environment())
        os.environ["DOCPIPE_LOG_JSON"] = "1"
        wiring.reset()
        self.wiring = wiring
        self.sink = LogSink()
        observability.setup_logging(stream=self.sink, force_json=True)  # type: ignore[arg-type]
        self.peek = clients(self.emulator.endpoint, self.names.region)  # uncounted: the bench's own view
        self.meter = Meter(self.emulator.endpoint, self.names.region, self.names.table)
        for service in ("s3", "dynamodb", "events", "sqs"):
            self.meter.attach(wiring.client(service))
        self.presigned = PresignedReads(self.emulator.endpoint, self.names.bucket)
        self.presigned.install()
        self.clock = StageClock(self.meter)
        emulator_pid = getattr(self.emulator, "pid", None) or self.emulator._proc.pid  # type: ignore[union-attr]
        self.processes = Processes(frozenset({emulator_pid}))
        self._install_seams()
        self.record: Record | None = None
        self.api_url = self._start_gateway()
        tokens = login(self.peek["cognito-idp"], self.stack.client_id, "demo", self.names.demo_password)
        self.token = tokens["IdToken"]
        self.sub = self.stack.user_subs["demo"]

    def close(self) -> None:
        self.presigned.uninstall()
        self.server.shutdown()
        self.server.server_close()
        self.emulator.stop()

    def _install_seams(self) -> None:
        owners = {
            "repository": self.wiring.repository(),
            "storage": self.wiring.storage(),
            "lifecycle": self.wiring.lifecycle(),
        }
        for owner, seams in SEAMS.items():
            for stage, attrs in seams:
                for attr in attrs:
                    self.clock.wrap(owners[owner], attr, stage)
        for stage, module, attr in MODULE_SEAMS:
            self.clock.wrap(importlib.import_module(module), attr, stage)
        self.clock.wrap(self.wiring.csv_fanout(), "start", "records")

    def _start_gateway(self) -> str:
        from local.auth import CognitoVerifier
        from local.emulator import free_port
        from local.gateway import make_server

        verifier = CognitoVerifier(self.stack.jwks_url, self.stack.cognito_issuer, (self.stack.client_id,))
        port = free_port()
        self.server = make_server(self.app.app, verifier, "127.0.0.1", port)
        bench = self
        base = type(self.app.app)

        class Timed(base):  # type: ignore[misc, valid-type]
            """The API function, timed as Lambda would bill it (the gateway's JWT check is not part of it)."""

            def __call__(self, event: Any, context: Any) -> Any:
                started, cpu, hooks = bench.clock.now(), time.thread_time(), bench.meter.cpu_overhead
                try:
                    return super().__call__(event, context)
                finally:
                    used = time.thread_time() - cpu - (bench.meter.cpu_overhead - hooks)
                    if bench.record is not None:
                        elapsed = (bench.clock.now() - started) * 1000
                        bench.record.lambda_ms.setdefault("api_handler", []).append(elapsed)
                        bench.record.cpu_ms.setdefault("api_handler", []).append(used * 1000)

        self.app.app.__class__ = Timed
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{port}"

    # -- metered steps -----------------------------------------------------------------------
    @contextlib.contextmanager
    def cpu_timed(self, function: str) -> Iterator[None]:
        """The CPU time one invocation of `function` used: its threads here and the sandbox's processes."""
        assert self.record is not None
        record, children, hooks = self.record, self._children_cpu(), self.meter.cpu_overhead
        started = time.process_time()
        try:
            yield
        finally:
            used = time.process_time() - started - (self.meter.cpu_overhead - hooks)
            used += self._children_cpu() - children
            record.cpu_ms.setdefault(function, []).append(used * 1000)

    def _children_cpu(self) -> float:
        """Reads /proc; the clocks stand still meanwhile, as for the meter's hooks (the bench's own work)."""
        started = time.perf_counter()
        try:
            return self.processes.cpu()
        finally:
            self.meter.overhead += time.perf_counter() - started

    @contextlib.contextmanager
    def metered(self, part: str, function: str) -> Iterator[Tally]:
        assert self.record is not None
        tally = Tally()
        reads_before = self.presigned.read()
        stdout, sys.stdout = sys.stdout, self.sink  # EMF documents are printed to stdout
        logged = self.sink.bytes
        try:
            with self.meter.counting(tally):
                yield tally
        finally:
            sys.stdout = stdout
            self.record.log_bytes += self.sink.bytes - logged
            requests, got = (a - b for a, b in zip(self.presigned.read(), reads_before, strict=True))
            if requests:
                tally.requests["s3:GetObject (presigned range)"] += requests
                tally.s3_read_bytes += got
            calls = self.record.calls.setdefault(function, {})
            for op, n in tally.requests.items():
                calls[op] = calls.get(op, 0) + n
            merged = Tally.from_dict(getattr(self.record, part)) if getattr(self.record, part) else Tally()
            merged.add(tally)
            setattr(self.record, part, merged.to_dict())

    def call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.record is not None
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={"Authorization": self.token, "Content-Type": "application/json"},
        )
        with self.metered("api", "api_handler"), urllib.request.urlopen(request, timeout=120) as response:
            self.record.api_calls += 1
            return json.loads(response.read() or b"null")

    # -- one document --------------------------------------------------------------------------
    def run(self, path: Path, kind: str, upload: str = "api") -> Record:
        size = path.stat().st_size
        self.record = record = Record(path.name, kind, size, upload)
        try:
            doc_id = self._upload_via_api(path) if upload == "api" else None
            if doc_id is None:  # a file the API refuses (empty, a name it rejects) is dropped into the bucket
                record.upload = "drop"
                doc_id = self._drop(path)
            self._ingest()
            self._records()
            doc = self._user_calls(doc_id)
            record.status, record.family = doc["status"], (doc.get("metadata") or {}).get("family")
            record.text = bool(((doc.get("metadata") or {}).get("details") or {}).get("text"))
            record.reason = (doc.get("error") or {}).get("code")
            self._storage(doc_id, doc)
        finally:
            self.record = None
        return record

    def _user_calls(self, doc_id: str) -> dict[str, Any]:
        """What a user then asks: the document (its answer carries the download link), the list page the web app shows.

        With POST /uploads that is three API calls per document (four against
        code whose answer has no link). A call the API cannot answer is kept as
        the document's status.
        """
        try:
            doc: dict[str, Any] = self.call("GET", f"/documents/{doc_id}")
            self.call("GET", "/documents?limit=20")
            if doc["status"] == "PROCESSED" and "download" not in doc:
                self.call("GET", f"/documents/{doc_id}/download")
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            self.forget(doc_id)
            return {"id": doc_id, "status": f"API {exc.code}", "error": {"code": body.get("code", "")}}
        return doc

    def _upload_via_api(self, path: Path) -> str | None:
        import requests

        assert self.record is not None
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = {"filename": path.name, "content_type": content_type, "size": path.stat().st_size}
        try:
            created = self.call("POST", "/uploads", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 400:
                raise
            return None
        post = created["upload"]
        with path.open("rb") as handle:
            answer = requests.post(post["url"], data=post["fields"], files={"file": (path.name, handle)}, timeout=600)
        answer.raise_for_status()
        self.record.user["s3:PostObject"] = self.record.user.get("s3:PostObject", 0) + 1
        return str(created["document"]["id"])

    def _drop(self, path: Path) -> str:
        from chalicelib.ingest import dropped_document_id

        assert self.record is not None
        key = f"uploads/{self.sub}/{uuid.uuid4().hex[:8]}-{path.name}"
        with path.open("rb") as handle:
            self.peek["s3"].put_object(Bucket=self.names.bucket, Key=key, Body=handle)
        self.record.user["s3:PutObject"] = self.record.user.get("s3:PutObject", 0) + 1
        return dropped_document_id(self.names.bucket, key)

    def _ingest(self) -> None:
        from local.pump import lambda_context

        assert self.record is not None
        event = self._notification()
        stages: dict[str, float] = {}
        self.clock.current = stages
        started = self.clock.now()
        try:
            with self.metered("ingest", "on_upload"), self.cpu_timed("on_upload"):
                self.app.on_upload(event, lambda_context("on_upload", 300))
        finally:
            elapsed = (self.clock.now() - started) * 1000
            self.clock.current = None
        stages["other"] = max(0.0, elapsed - sum(stages.values()))
        self.record.stages = stages
        self.record.lambda_ms.setdefault("on_upload", []).append(elapsed)

    def _notification(self) -> dict[str, Any]:
        from local.pump import _s3_event

        url = self.stack.queues[self.names.notifications_queue]
        sqs = self.peek["sqs"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                event = _s3_event(message["Body"])
                if event is not None:
                    return event
        raise RuntimeError("no S3 notification arrived within 60 s")

    def _records(self) -> None:
        """Drain the records queue into on_records, as the event source mapping would (batches of 10)."""
        from local.provision import queue_arn
        from local.pump import failed_ids, lambda_context, sqs_record

        assert self.record is not None
        sqs, url = self.peek["sqs"], self.stack.queues[self.names.records_queue]
        arn, idle = queue_arn(sqs, url), 0
        while idle < 2:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                idle += 1
                time.sleep(0.2)
                continue
            idle = 0
            event = {"Records": [sqs_record(m, arn, self.names.region) for m in messages]}
            started = self.clock.now()
            with self.metered("ingest", "on_records") as tally:
                with self.cpu_timed("on_records"):
                    response = self.app.on_records(event, lambda_context("on_records", 60))
                tally.requests["sqs:ReceiveMessage (event source mapping)"] += 1
                tally.requests["sqs:DeleteMessageBatch (event source mapping)"] += 1
                tally.sqs_billed += 2
            self.record.lambda_ms.setdefault("on_records", []).append((self.clock.now() - started) * 1000)
            keep = failed_ids(response, {m["MessageId"] for m in messages})
            done = [m for m in messages if m["MessageId"] not in keep]
            if done:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def _partition(self, doc_id: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.names.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"DOC#{doc_id}"}},
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.meter.raw.call("Query", **params)
            items += page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return items
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, doc_id: str) -> None:
        """Remove a document the API cannot read back, so that later list pages still answer (uncounted)."""
        for item in self._partition(doc_id):
            self.meter.raw.call("DeleteItem", TableName=self.names.table, Key={"pk": item["pk"], "sk": item["sk"]})

    def sweep(self) -> dict[str, Any]:
        """One scheduled sweep, counted: the month has one every five minutes."""
        from local.pump import lambda_context, scheduled_event

        self.record = record = Record("sweep", "sweep", 0, "none")
        try:
            started = self.clock.now()
            with self.metered("ingest", "sweep") as tally, self.cpu_timed("sweep"):
                self.app.sweep(scheduled_event(self.names.region, "sweep"), lambda_context("sweep", 120))
            return {
                "ms": (self.clock.now() - started) * 1000,
                "cpu_ms": record.cpu_ms["sweep"][0],
                "rru": tally.rcu,
                "requests": dict(tally.requests),
            }
        finally:
            self.record = None

    def _storage(self, doc_id: str, doc: dict[str, Any]) -> None:
        """What the document leaves stored: its items and index entries, its object and rendition."""
        try:
            from chalicelib.aws.storage import rendition_key
        except ImportError:  # revisions before it moved
            from chalicelib.extraction.rendition import rendition_key  # type: ignore[attr-defined, no-redef]

        assert self.record is not None
        schema = self.meter.schema
        s3 = self.peek["s3"]
        stored = 0
        for item in self._partition(doc_id):
            stored += item_size(item) + 100
            for index in schema.indexes:
                if index.holds(item):
                    stored += item_size(index.entry(item, schema.table_keys)) + 100
        self.record.stored_item_bytes = stored
        for key in (doc.get("key") or "", rendition_key(doc_id)):
            with contextlib.suppress(Exception):
                head = s3.head_object(Bucket=self.names.bucket, Key=key)
                self.record.stored_object_bytes += int(head["ContentLength"])
                standard = head.get("StorageClass", "STANDARD") == "STANDARD"
                self.record.it_transitions += int(standard and head["ContentLength"] >= 128 * 1024)


# -- the mix ------------------------------------------------------------------------------------


def generated(folder: Path, huge: bool) -> list[tuple[Path, str, str]]:
    """Files made on the spot: (path, kind, upload)."""
    sys.path.insert(0, str(REPO))
    from tests.support import media, samples

    out: list[tuple[Path, str, str]] = []
    small = folder / "report.pdf"
    small.write_bytes(samples.pdf(pages=3))
    out.append((small, "gen: small PDF", "api"))
    for label, size in (("1MB", MB), ("100MB", 100 * MB)):
        path = folder / f"clip-{label}.mp4"
        media.write_large_mp4(path, size)
        out.append((path, f"gen: video {label}", "api"))
    if huge:
        path = folder / "clip-1GB.mp4"
        media.write_large_mp4(path, 1024 * MB)
        out.append((path, "gen: video 1GB (dropped)", "drop"))
    table = folder / "table.csv"
    table.write_bytes(b"id,name,amount\n" + b"".join(b"%d,row %d,%d.50\n" % (i, i, i % 97) for i in range(5000)))
    out.append((table, "gen: CSV 5,000 rows", "api"))
    return out


def corpus(folder: Path | None, quick: bool) -> list[tuple[Path, str, str]]:
    if folder is None or not folder.is_dir():
        return []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder)
    if quick:
        seen: set[str] = set()
        files = [p for p in files if not (p.parent.name in seen or seen.add(p.parent.name))]  # type: ignore[func-returns-value]
    return [(p, p.parent.name, "api") for p in files]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the mix; returns every record and the fixed monthly quantities."""
    from bench.cost import configured_memory, fixed_quantities

    records: list[Record] = []
    bench = Bench()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mix = generated(Path(tmp), args.huge) + corpus(args.corpus, args.quick)
            warm = Path(tmp) / "warm-up.csv"
            warm.write_bytes(b"a,b\n1,2\n")
            bench.run(warm, "warm-up")  # cold-start calls (queue attributes, imports) are not a document's
            for n, (path, kind, upload) in enumerate(mix, 1):
                records.append(bench.run(path, kind, upload))
                if n % 25 == 0:
                    print(f"  {n}/{len(mix)} documents", file=sys.stderr, flush=True)
        sweep = bench.sweep()
        metrics = sorted(bench.sink.metrics)
        peaks = {"bench process (all handlers, the bench, boto3 clients)": own_peak_kb(), **bench.processes.peak_kb}
    finally:
        bench.close()
    return {
        "records": [asdict(r) for r in records],
        "fixed": fixed_quantities(len(metrics), sweep),
        "metrics": [[name, list(map(list, dims))] for name, dims in metrics],
        "peak_kb": peaks,
        "memory": configured_memory(),
    }


# -- the report --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def load_records(data: dict[str, Any]) -> list[Record]:
    return [Record(**r) for r in data["records"]]


def non_csv(record: Record) -> bool:
    return record.family != "tabular" and "CSV" not in record.kind


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """The figures the report prints (and compares across revisions)."""
    from bench.cost import compute_alternatives, monthly, per_document

    records = load_records(data)
    mix = [r for r in records if not r.kind.startswith("gen:")] or records
    reads = [r.total.s3_read_bytes for r in records if non_csv(r) and not r.text]
    text_reads = [r.total.s3_read_bytes for r in records if non_csv(r) and r.text]
    doc_writes = [r.total.item_writes.get("DOC", 0) for r in records]
    ingest_ms = [r.lambda_ms["on_upload"][0] for r in records]
    doc = per_document(mix, data.get("memory"))
    costs = monthly(1_000_000, doc, data["fixed"])
    return {
        "documents": len(records),
        "max non-CSV S3 read (KB)": max(reads, default=0) / 1024,
        "max S3 read with text extraction (KB)": max(text_reads, default=0) / 1024,
        "max document-item writes": max(doc_writes, default=0),
        "mean document-item writes": statistics.fmean(doc_writes) if doc_writes else 0.0,
        "ingest p50 (ms)": percentile(ingest_ms, 0.5),
        "ingest p95 (ms)": percentile(ingest_ms, 0.95),
        "cost per month, 1M documents ($)": sum(costs.values()),
        "costs": costs,
        "alternatives": compute_alternatives(1_000_000, doc, data["fixed"]),
    }


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [_row(rows[0], widths), _row(["-" * w for w in widths], widths)]
    return "\n".join([*lines, *(_row(r, widths) for r in rows[1:])])


def kinds_table(records: list[Record]) -> str:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r.kind].append(r)
    rows = [
        [
            "kind",
            "docs",
            "mean KB",
            "S3 req",
            "S3 KB read",
            "max KB",
            "DDB writes",
            "WCU",
            "RCU",
            "events",
            "SQS",
            "on_upload ms",
        ]
    ]
    for kind, group in sorted(groups.items()):
        totals = [r.total for r in group]
        s3_requests = [sum(n for op, n in t.requests.items() if op.startswith("s3:")) for t in totals]
        rows.append(
            [
                kind,
                str(len(group)),
                f"{statistics.fmean(r.size for r in group) / 1024:,.0f}",
                f"{statistics.fmean(s3_requests):.1f}",
                f"{statistics.fmean(t.s3_read_bytes for t in totals) / 1024:,.1f}",
                f"{max(t.s3_read_bytes for t in totals) / 1024:,.1f}",
                f"{statistics.fmean(sum(t.item_writes.values()) for t in totals):.1f}",
                f"{statistics.fmean(t.wcu for t in totals):.1f}",
                f"{statistics.fmean(t.rcu for t in totals):.1f}",
                f"{statistics.fmean(t.events_billed for t in totals):.1f}",
                f"{statistics.fmean(t.sqs_billed for t in totals):.1f}",
                f"{statistics.fmean(r.lambda_ms['on_upload'][0] for r in group):,.0f}",
            ]
        )
    return table(rows)


def calls_table(runs: dict[str, list[Record]]) -> str:
    """Mean requests per document by operation, for the platform (ingest) and the user's API calls."""
    labels = list(runs)
    ops: set[tuple[str, str]] = set()
    means: dict[tuple[str, str, str], float] = {}
    for label, records in runs.items():
        for part in ("ingest", "api"):
            counted: Counter[str] = Counter()
            for r in records:
                counted.update(Tally.from_dict(getattr(r, part)).requests)
            for op, n in counted.items():
                ops.add((part, op))
                means[(label, part, op)] = n / len(records)
    rows = [["part", "operation", *labels]]
    for part, op in sorted(ops):
        rows.append([part, op, *(f"{means.get((label, part, op), 0.0):.2f}" for label in labels)])
    return table(rows)


def write_units_table(runs: dict[str, list[Record]]) -> str:
    """Mean DynamoDB write units per document (corpus mix) by write and by what it touched: the item, each index."""
    labels = list(runs)
    steps: dict[str, defaultdict[tuple[str, str], float]] = {}
    targets: set[str] = set()
    for label, records in runs.items():
        mix = [r for r in records if not r.kind.startswith("gen:")] or records
        counted: defaultdict[tuple[str, str], float] = defaultdict(float)
        for r in mix:
            for part in ("api", "ingest"):
                for name, n in Tally.from_dict(getattr(r, part)).wcu_steps.items():
                    step, target = name.rsplit("|", 1)
                    counted[(f"{part}: {step}", target)] += n / len(mix)
                    targets.add(target)
        steps[label] = counted
    indexes = sorted(targets - {"writes", "table"})
    latest = labels[-1]
    rows = [["write (per document)", "writes", "item", *indexes, *(f"total {label}" for label in labels)]]
    names = sorted({step for counted in steps.values() for step, _ in counted})
    for step in names:
        mine = steps[latest]  # a defaultdict: a write this tree does not make reads 0
        cells = [step, f"{mine[(step, 'writes')]:.2f}", f"{mine[(step, 'table')]:.2f}"]
        cells += [f"{mine[(step, i)]:.2f}" for i in indexes]
        totals = [sum(n for (s_, t), n in steps[label].items() if s_ == step and t != "writes") for label in labels]
        rows.append([*cells, *(f"{t:.2f}" for t in totals)])
    return table(rows)


def stages_table(runs: dict[str, list[Record]]) -> str:
    rows = [["stage", *(f"{label} p50/p95 ms" for label in runs)]]
    for stage in (*STAGES, "on_upload"):
        cells = [stage]
        for records in runs.values():
            if stage == "on_upload":
                values = [r.lambda_ms["on_upload"][0] for r in records]
            else:
                values = [r.stages.get(stage, 0.0) for r in records]
            cells.append(f"{percentile(values, 0.5):,.1f} / {percentile(values, 0.95):,.1f}")
        rows.append(cells)
    return table(rows)


def report(runs: dict[str, dict[str, Any]]) -> str:
    from bench.cost import PRICES_CHECKED, price_lines

    labels = list(runs)
    records = {label: load_records(data) for label, data in runs.items()}
    latest = records[labels[-1]]
    out = [f"Counted on the emulator; {len(latest)} documents; prices us-east-1, checked {PRICES_CHECKED}", ""]
    if all(r.kind.startswith("gen:") for r in latest):
        out += [
            "NO CORPUS: only the generated files were run (--corpus, default ../shared/corpus), so the monthly cost",
            "below prices every document as the mean of a small PDF, two videos and a 5,000-row CSV: not a real mix.",
            "",
        ]
    out += [f"== per kind ({labels[-1]}) ==", kinds_table(latest), ""]
    out += ["== requests per document (mean over every document) ==", calls_table(records), ""]
    out += ["== DynamoDB write units per document (corpus mix), by write and by what it wrote ==", ""]
    out += [write_units_table(records), "", *WRITE_NOTE, ""]
    out += ["== ingest time per document on the emulator (one at a time) ==", stages_table(records), ""]
    out += ["== Lambda time per invocation: emulator wall time, measured CPU time, modelled AWS time ==", ""]
    out += [time_table(records, {label: data.get("memory") or {} for label, data in runs.items()}), "", *MODEL_NOTE, ""]
    summaries = {label: summary(data) for label, data in runs.items()}
    costs = {label: s.pop("costs") for label, s in summaries.items()}
    others = {label: s.pop("alternatives") for label, s in summaries.items()}
    lines = sorted({line for c in costs.values() for line in c})
    rows = [["1M documents/month (corpus mix)", *labels]]
    rows += [[line, *(f"${costs[label].get(line, 0.0):,.2f}" for label in labels)] for line in lines]
    rows += [["total", *(f"${sum(costs[label].values()):,.2f}" for label in labels)]]
    for line in others[labels[-1]]:
        rows.append([f"(not in total) {line}", *(f"${others[label].get(line, 0.0):,.2f}" for label in labels)])
    out += ["== monthly cost ==", table(rows), "", *price_lines(), ""]
    out += [probe_line(label, records[label]) for label in labels] + [""]
    out += [f"== Lambda memory setting ({labels[-1]}): modelled compute per 1M documents / p95 billed ms ==", ""]
    out += [memory_table(latest), "", *MEMORY_NOTE, ""]
    out += ["== peak resident memory seen (KB) ==", peaks_table(runs[labels[-1]].get("peak_kb", {})), ""]
    goals = {
        "max non-CSV S3 read (KB)": f"<= {READ_GOAL_BYTES // 1024}",
        "max S3 read with text extraction (KB)": f"<= {TEXT_READ_CAP_BYTES // 1024:,}",
        "max document-item writes": f"<= {WRITE_GOAL}",
        "cost per month, 1M documents ($)": f"<= {COST_GOAL:.0f}",
    }
    rows = [["figure", "goal", *labels]]
    for name in summaries[labels[-1]]:
        rows.append([name, goals.get(name, ""), *(_figure(summaries[label][name]) for label in labels)])
    out += ["== goals ==", table(rows)]
    return "\n".join(out)


def probe_line(label: str, records: list[Record]) -> str:
    """What the `search` attribute (title, author, start of the text; item and both listing indexes) costs."""
    from bench.cost import PRICES

    mix = [r for r in records if not r.kind.startswith("gen:")] or records
    if not any("search" in r.total.wcu_without for r in mix):
        return f"{label}: the write cost of the search attribute was not measured"
    extra = statistics.fmean(r.total.wcu - r.total.wcu_without["search"] for r in mix)
    whole = statistics.fmean(r.total.wcu for r in mix)
    dollars = extra * PRICES["ddb_wru"] * 1e6
    return (
        f"{label}: the search attribute costs {extra:.2f} of {whole:.2f} write units per document "
        f"(${dollars:,.2f} per 1M documents): the same writes costed as if items never held it"
    )


MODEL_NOTE = [
    "Lambda compute in the total is the modelled AWS time x configured memory: the code's own CPU time (the",
    "handler's threads plus the extraction sandbox's processes, measured in this run), stretched by 1,769 MB /",
    "memory where the setting gives less than one vCPU, plus every counted request x its stated AWS latency",
    "(bench/cost.py LATENCY_MS: DynamoDB 10 ms, Query/batch 20 ms, S3 50 ms, EventBridge 50 ms, SQS 30 ms).",
    "Emulator wall time is printed beside it, not used: it is mostly moto over HTTP and a shared, loaded CPU.",
    "Not modelled: cold starts (imports, the sandbox's zygote), this machine's CPU speed against Lambda's.",
]
WRITE_NOTE = [
    "Item: units of the item itself (per started KB of the larger of before and after). An index costs a unit",
    "per started KB of its entry when the write adds or removes the entry or changes a projected attribute, two",
    "when it changes the index's key (delete + put), nothing otherwise (bench/capacity.py, DynamoDB Developer",
    "Guide). Columns per index are this tree's; the last columns are each run's total for that write.",
]
MEMORY_NOTE = [
    "Memory buys CPU: below 1,769 MB a function gets memory/1,769 of a vCPU, so CPU-bound work costs the same",
    "GB-s at any setting but takes longer; time spent waiting on AWS costs in proportion to memory. A lower",
    "setting is cheaper when a function mostly waits, slower when it mostly computes, and it must hold the peak",
    "memory: on_upload's sandbox lets a parser add 1,024 MB at one vCPU, in proportion below it (592 MB at",
    "1,024 MB; chalicelib.config.ParserBudget; python -m bench.memory_fit checks the corpus fits). * = now.",
]
CANDIDATE_MB = (256, 512, 1024, 1769)


def time_table(runs: dict[str, list[Record]], memories: dict[str, dict[str, int]]) -> str:
    from bench.cost import memory_mb, modelled_invocations

    rows = [["function", "run", "calls/doc", "wall p50/p95", "CPU p50/p95", "modelled p50/p95", "MB"]]
    for label, records in runs.items():
        memory = memories.get(label) or {}
        modelled: dict[str, list[float]] = defaultdict(list)
        for r in records:
            for fn, ms in modelled_invocations(r, memory).items():
                modelled[fn] += ms
        for fn in sorted(modelled):
            wall = [ms for r in records for ms in r.lambda_ms.get(fn, [])]
            cpu = [ms for r in records for ms in r.cpu_ms.get(fn, [])]
            rows.append(
                [
                    fn,
                    label,
                    f"{len(wall) / len(records):.2f}",
                    _p(wall),
                    _p(cpu),
                    _p(modelled[fn]),
                    str(memory.get(fn) or memory_mb(fn)),
                ]
            )
    return table(rows)


def _p(values: list[float]) -> str:
    return f"{percentile(values, 0.5):,.0f} / {percentile(values, 0.95):,.0f} ms"


def memory_table(records: list[Record]) -> str:
    from bench.cost import PRICES, gb_seconds, memory_mb, modelled_invocations

    mix = [r for r in records if not r.kind.startswith("gen:")] or records
    functions = sorted({fn for r in mix for fn in r.cpu_ms})
    rows = [["function", *(f"{mb} MB" for mb in CANDIDATE_MB)]]
    for fn in functions:
        cells = [fn]
        for mb in CANDIDATE_MB:
            per_doc = [modelled_invocations(r, {fn: mb}).get(fn, []) for r in mix]
            dollars = statistics.fmean(gb_seconds({fn: ms}, {fn: mb}) for ms in per_doc) * 1e6 * PRICES["lambda_gb_s"]
            mark = "*" if mb == memory_mb(fn) else ""
            cells.append(f"{mark}${dollars:,.2f} / {percentile([x for ms in per_doc for x in ms], 0.95):,.0f} ms")
        rows.append(cells)
    return table(rows)


def peaks_table(peaks: dict[str, int]) -> str:
    rows = [["process", "peak KB"]] + [[name, f"{kb:,}"] for name, kb in sorted(peaks.items())]
    return table(rows)


def _figure(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def goals_met(data: dict[str, Any]) -> bool:
    s = summary(data)
    return (
        s["max non-CSV S3 read (KB)"] <= READ_GOAL_BYTES / 1024
        and s["max S3 read with text extraction (KB)"] <= TEXT_READ_CAP_BYTES / 1024
        and s["max document-item writes"] <= WRITE_GOAL
        and s["cost per month, 1M documents ($)"] <= COST_GOAL
    )


# -- another revision ----------------------------------------------------------------------------


def run_revision(rev: str, argv: list[str]) -> dict[str, Any]:
    """This bench on `rev`'s code: an archive of it, with this bench folder laid over it."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        shutil.rmtree(tree / "bench", ignore_errors=True)
        shutil.copytree(REPO / "bench", tree / "bench", ignore=shutil.ignore_patterns("__pycache__"))
        support = tree / "tests" / "support"
        support.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "tests" / "support" / "media.py", support / "media.py")
        out = Path(tmp) / "out.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, "-m", "bench.percall", *argv, "--json", str(out)]
        subprocess.run(command, cwd=tree, env=env, check=True)
        return dict(json.loads(out.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.percall", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="default: ../shared/corpus")
    parser.add_argument("--quick", action="store_true", help="one corpus file per family")
    parser.add_argument("--huge", action="store_true", help="add a 1 GB video dropped into the bucket")
    parser.add_argument("--against", metavar="REV", help="also run this bench on another revision, side by side")
    parser.add_argument("--json", type=Path, help="write the raw counts here instead of printing the report")
    args = parser.parse_args(argv)
    runs: dict[str, dict[str, Any]] = {}
    if args.against:
        same = ["--corpus", str(args.corpus.resolve())] + ["--quick"] * args.quick + ["--huge"] * args.huge
        runs[args.against] = run_revision(args.against, same)
    data = measure(args)
    if args.json:
        args.json.write_text(json.dumps(data))
        return 0
    runs["this tree"] = data
    print(report(runs))
    return 0 if goals_met(data) else 1


if __name__ == "__main__":
    raise SystemExit(main())
