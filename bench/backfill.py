"""A backfill of N objects (10,000 by default) on the emulator, and what one of 1M objects costs on AWS.

Usage: python -m bench.backfill [--objects N] [--max-concurrency M] [--stale]   (`make bench-backfill`)

Starts the whole local stack on free ports, puts N small files (text, JSON,
PNG, PDF; each different) into the bucket with its notifications off, then
runs `POST /admin/backfills {"missing": ...}` through the real state machine
and the backfill queue's consumer until the run ends, and checks that every
object has a PROCESSED document at the current extractor version. With
--stale it then marks them all as extracted by an older version and runs a
stale re-extraction of the same documents too.

Printed side by side: wall time and objects/s; requests served by the
emulator, by caller (the state machine's own calls vs the app's) and
operation; peak memory of the app process (pump and handlers), of its forked
extraction children, and of the emulator; and the AWS cost per 1M objects
backfilled, from the measured requests per object and list prices (PRICES,
with their date), each assumption named.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cost import PRICES as SHARED_PRICES
from bench.cost import PRICES_CHECKED as SHARED_PRICES_CHECKED
from bench.cost import memory_mb

PRICES = {  # USD, us-east-1, no free tier: bench/cost.py's (pages named there) and Step Functions'
    **SHARED_PRICES,
    # https://aws.amazon.com/step-functions/pricing/ (Standard workflows, per state transition)
    "sfn_transition": 0.025 / 1000,
}
PRICES_CHECKED = SHARED_PRICES_CHECKED  # the date PRICES were compared with AWS's price pages
ASSUME = {
    "parent_transitions": 5,  # Choice, Map, Choice, Record success, Succeed
    "states_per_batch": 2,  # Count listed, Hand over (each child execution)
    "esm_requests_per_message": 2,  # Lambda's poller: a ReceiveMessage share and a DeleteMessage per message
    # index entries a backfilled document writes, counted (tests/integration/test_request_counts.py, a file
    # dropped into the bucket): the claim puts its by_owner, all_docs and by_deadline entries, the finish
    # updates by_owner and all_docs, puts by_size and deletes by_deadline; each entry is under 1 KB (one unit)
    "index_units_per_document": 7,
    "run_record_wcu": 2,  # a run-record update: the item (<1 KB) and its all_docs index copy
    "aws_request_ms": 15,  # one in-region AWS call from Lambda, added to the CPU time measured here
}


def put_files(s3: Any, bucket: str, prefix: str, n: int) -> list[str]:
    """n small, all different files (4 kinds), put in parallel."""
    from tests.support import samples

    pdf, png = samples.pdf(pages=1), samples.png(width=16, height=16)

    def body(i: int) -> tuple[str, bytes]:
        kind = i % 4
        if kind == 0:
            return f"{prefix}{i:06d}.txt", f"line {i}\n".encode() * (1 + i % 7)
        if kind == 1:
            return f"{prefix}{i:06d}.json", json.dumps({"id": i, "tags": ["a", "b"][: i % 3]}).encode()
        if kind == 2:
            return f"{prefix}{i:06d}.png", png + b"\0" * (i % 97)
        return f"{prefix}{i:06d}.pdf", pdf + f"\n% object {i}\n".encode()

    def put(i: int) -> str:
        key, data = body(i)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        return key

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(put, range(n)))


def emulator_requests(endpoint: str, reset: bool = False) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{endpoint}/docpipe-emulator/requests", method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=30) as resp:
        rows: list[dict[str, Any]] = json.loads(resp.read())
    return rows


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (its peak resident set) of a process in kB (Linux); empty once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split() for line in lines if line.startswith(("VmRSS:", "VmHWM:")))
    return {f[0].rstrip(":"): int(f[1]) for f in fields}


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root`, as pid -> parent pid (one pass over /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = ppid
                frontier.append(pid)
    return found


class MemorySampler:
    """Samples, every few seconds, the memory of the emulator, this app process and the extraction processes.

    Extraction runs in a zygote (a child of the app) and the workers it forks,
    which come and go, so `getrusage(RUSAGE_CHILDREN)` never sees them: their
    peaks (VmHWM) and CPU time are read from /proc while they live. Every
    minute it prints a progress line (run progress, resident memory, load),
    and it says at once when the emulator has ended, with its exit code.
    """

    def __init__(self, emulator: Any, interval: float = 5.0, every: float = 60.0) -> None:
        self.emulator, self.interval, self.every = emulator, interval, every
        self.peak_kb: Counter[str] = Counter()  # app, emulator, zygote, worker (largest), extraction (sum of RSS)
        self.cpu: dict[int, float] = {}  # extraction pid -> CPU seconds last seen
        self.run: dict[str, Any] = {}
        self.run_read_at = time.monotonic()  # when `run` was last read from the API
        self.failed_reads = 0  # progress requests the API did not answer in time, or answered with an error
        self.started = time.monotonic()
        self.emulator_exit: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()

    def extraction_cpu(self) -> float:
        return sum(self.cpu.values())

    def _loop(self) -> None:
        last_line = time.monotonic()
        while not self._stop.wait(self.interval):
            rss = self.sample()
            if self.emulator_exit is None and self.emulator.returncode is not None:
                self.emulator_exit = self.emulator.returncode
                print(
                    f"[{self.clock()}] THE EMULATOR ENDED with exit code {self.emulator_exit} "
                    f"(negative: killed by that signal); its output is in {self.emulator.log}",
                    flush=True,
                )
            if time.monotonic() - last_line >= self.every:
                last_line = time.monotonic()
                print(self.progress_line(rss), flush=True)

    def clock(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, +{time.monotonic() - self.started:.0f} s"

    def sample(self) -> dict[str, int]:
        rss: Counter[str] = Counter()
        me, emulator = os.getpid(), self.emulator.pid
        roles = [(me, "app"), (emulator, "emulator")] if emulator is not None else [(me, "app")]
        for pid, ppid in descendants(me).items():
            if pid != emulator:
                roles.append((pid, "zygote" if ppid == me else "worker"))
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), proc_cpu_seconds(pid))
        for pid, role in roles:
            status = proc_status(pid)
            if status:
                rss[role] += status["VmRSS"] if role in ("app", "emulator") else 0
                rss["extraction"] += status["VmRSS"] if role in ("zygote", "worker") else 0
                self.peak_kb[role] = max(self.peak_kb[role], status["VmHWM"])
        self.peak_kb["extraction"] = max(self.peak_kb["extraction"], rss["extraction"])
        return dict(rss)

    def progress_line(self, rss: dict[str, int]) -> str:
        run = self.run
        where = f"{run.get('status', 'starting')} {run.get('progress', {})}" if run else "putting objects"
        age = time.monotonic() - self.run_read_at
        if run and age > 10:  # the API's answers lag: say how old this reading is
            where += f" (read {age:.0f} s ago; {self.failed_reads} progress requests unanswered so far)"
        mb = {k: v / 1024 for k, v in rss.items()}
        return (
            f"[{self.clock()}] {where}; RSS MB: emulator {mb.get('emulator', 0):.0f}, app {mb.get('app', 0):.0f}, "
            f"extraction processes {mb.get('extraction', 0):.0f}; load {Path('/proc/loadavg').read_text().split()[0]}"
        )

    def summary(self) -> str:
        mb = {k: v / 1024 for k, v in self.peak_kb.items()}
        return (
            f"peak memory (VmHWM, sampled every {self.interval:.0f} s from /proc): app process (pump, gateway, "
            f"handlers) {mb['app']:.0f} MB; emulator {mb['emulator']:.0f} MB (moto keeps every object and item "
            f"in memory); extraction zygote {mb['zygote']:.0f} MB, largest extraction worker {mb['worker']:.0f} MB, "
            f"all extraction processes together {mb['extraction']:.0f} MB resident at most"
        )


class Timed:
    """Wraps a Lambda handler to sum its wall time and its own thread's CPU time."""

    def __init__(self, handler: Callable[..., Any]) -> None:
        self.handler = handler
        self.reset()

    def reset(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.invocations = 0

    def __call__(self, event: Any, context: Any) -> Any:
        started, cpu = time.monotonic(), time.thread_time()
        try:
            return self.handler(event, context)
        finally:
            self.seconds += time.monotonic() - started
            self.cpu_seconds += time.thread_time() - cpu
            self.invocations += 1


def run_backfill(
    api: str, token: str, body: dict[str, Any], timeout: float, sampler: MemorySampler
) -> tuple[dict[str, Any], float]:
    import requests

    headers = {"Authorization": token}
    started = time.monotonic()
    resp = requests.post(f"{api}/admin/backfills", headers=headers, json=body, timeout=30)
    resp.raise_for_status()
    run_id = resp.json()["id"]
    while time.monotonic() - started < timeout:
        if sampler.emulator.returncode is not None:
            raise RuntimeError(
                f"the emulator ended (exit code {sampler.emulator.returncode}) with the run at {sampler.run}; "
                f"its output: {sampler.emulator.log}"
            )
        try:
            run: dict[str, Any] = requests.get(f"{api}/admin/backfills/{run_id}", headers=headers, timeout=120).json()
        except (requests.RequestException, ValueError):
            run = {}  # a busy emulator answered too slowly, or not with JSON
        if "status" in run:
            sampler.run, sampler.run_read_at = run, time.monotonic()
            if run["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                return run, time.monotonic() - started
        else:
            sampler.failed_reads += 1  # an error answer: ask again after the same pause, never in a tight loop
        time.sleep(2.0)
    raise RuntimeError(f"the backfill did not end within {timeout:.0f} s")


def check_documents(reads: Any, bucket: str, keys: list[str]) -> Counter[str]:
    from chalicelib.extraction.version import EXTRACTOR_VERSION
    from chalicelib.ingest import dropped_document_id

    outcome: Counter[str] = Counter()
    ids = [dropped_document_id(bucket, k) for k in keys]
    for start in range(0, len(ids), 100):
        found = reads.get_many(ids[start : start + 100])
        for doc_id in ids[start : start + 100]:
            doc = found.get(doc_id)
            if doc is None:
                outcome["missing"] += 1
            else:
                current = doc.extractor_version == EXTRACTOR_VERSION
                outcome[f"{doc.status.value}{'' if current else ' (older version)'}"] += 1
    return outcome


def mean_item_kb(aws: dict[str, Any], table: str, doc_ids: list[str]) -> float:
    from chalicelib.aws.table import doc_key, dump

    sizes = []
    for doc_id in doc_ids:
        item = aws["dynamodb"].get_item(TableName=table, Key=dump(doc_key(doc_id))).get("Item")
        if item:
            sizes.append(len(json.dumps(item)) / 1024)
    return sum(sizes) / max(1, len(sizes))


def request_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"  {'caller':<14} {'service':<9} {'operation':<26} {'requests':>9}"]
    for row in sorted(rows, key=lambda r: (r["caller"], r["service"], -r["count"])):
        lines.append(f"  {row['caller']:<14} {row['service']:<9} {row['operation']:<26} {row['count']:>9,}")
    lines.append(f"  {'total':<51} {sum(r['count'] for r in rows):>9,}")
    return "\n".join(lines)


def count(rows: list[dict[str, Any]], caller: str | None = None, service: str | None = None, op: str = "") -> int:
    return sum(
        r["count"]
        for r in rows
        if (caller is None or r["caller"] == caller)
        and (service is None or r["service"] == service)
        and (not op or r["operation"] == op)
    )


def cost_per_million(rows: list[dict[str, Any]], n: int, cpu_seconds: float, item_kb: float) -> list[tuple]:
    """(group, what, quantity per 1M objects, unit price, USD) from this run's measured requests per object."""
    p, a, scale = PRICES, ASSUME, 1e6 / n
    batches = count(rows, "state machine", "sqs", "SendMessage")
    transitions = a["parent_transitions"] + a["states_per_batch"] * batches * scale
    sqs = (batches * (1 + a["esm_requests_per_message"]) + count(rows, "app", "sqs", "SendMessage")) * scale
    run_writes = count(rows, "state machine", "dynamodb") + 2 * count(rows, "app", "dynamodb", "TransactWriteItems")
    run_wcu = run_writes * a["run_record_wcu"] * scale
    doc_writes = count(rows, "app", "dynamodb", "UpdateItem") + count(rows, "app", "dynamodb", "PutItem")
    doc_wcu = doc_writes * math.ceil(item_kb) * scale + 1e6 * a["index_units_per_document"]
    reads = count(rows, "app", "dynamodb", "GetItem") + 25 * count(rows, "app", "dynamodb", "BatchGetItem")
    rcu = reads * math.ceil(item_kb / 4) * scale
    s3_get = (count(rows, None, "s3", "GetObject") + count(rows, None, "s3", "HeadObject")) * scale
    s3_put = sum(count(rows, None, "s3", op) for op in ("PutObject", "UploadPart", "CompleteMultipartUpload")) * scale
    s3_list = count(rows, None, "s3", "ListObjectsV2") * scale
    events = count(rows, None, "events", "PutEvents") * scale  # bus.py sends one entry (< 64 KB) per call
    app_requests = sum(r["count"] for r in rows if r["caller"] == "app" and r["operation"] != "ReceiveMessage")
    seconds = cpu_seconds + app_requests * a["aws_request_ms"] / 1000
    gb_s = seconds * scale * memory_mb("on_backfill") / 1024
    invocations = batches * scale
    orchestration, processing = "what the backfill adds", "processing, as for a live upload"
    return [
        (orchestration, "Step Functions state transitions", transitions, p["sfn_transition"]),
        (orchestration, "SQS requests (hand-over, poll, delete)", sqs, p["sqs_request"]),
        (orchestration, "DynamoDB writes, run record (WRU)", run_wcu, p["ddb_wru"]),
        (orchestration, "S3 LIST (the missing selection)", s3_list, p["s3_put_class"]),
        (orchestration, "Lambda requests (one per batch)", invocations, p["lambda_request"]),
        (processing, "DynamoDB writes, documents (WRU)", doc_wcu, p["ddb_wru"]),
        (processing, "DynamoDB reads (RRU)", rcu, p["ddb_rru"]),
        (processing, "S3 GET/HEAD", s3_get, p["s3_get_class"]),
        (processing, "S3 PUT (renditions, manifest)", s3_put, p["s3_put_class"]),
        (processing, "EventBridge PutEvents (lifecycle events)", events, p["eventbridge_event"]),
        (processing, "Lambda on_backfill (GB-s)", gb_s, p["lambda_gb_s"]),
    ]


def cost_table(lines: list[tuple]) -> str:
    out = [f"  {'':<42} {'per 1M objects':>16} {'unit price':>12} {'USD':>9}"]
    for group in dict.fromkeys(line[0] for line in lines):
        out.append(f"  {group}:")
        rows = [line for line in lines if line[0] == group]
        for _, what, qty, unit in rows:
            out.append(f"    {what:<40} {qty:>16,.0f} {unit:>12.3g} {qty * unit:>9.2f}")
        out.append(f"    {'subtotal':<40} {'':>16} {'':>12} {sum(q * u for _, _, q, u in rows):>9.2f}")
    out.append(f"  {'total':<42} {'':>16} {'':>12} {sum(q * u for _, _, q, u in lines):>9.2f}")
    return "\n".join(out)


def stamp_all_old(aws: dict[str, Any], table: str, doc_ids: list[str]) -> None:
    from chalicelib.aws.table import doc_key, dump

    def forget(doc_id: str) -> None:
        aws["dynamodb"].update_item(
            TableName=table, Key=dump(doc_key(doc_id)), UpdateExpression="REMOVE extractor_version"
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(forget, doc_ids))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--max-concurrency", type=int, default=8, help="batches in flight (the Map's MaxConcurrency)")
    parser.add_argument("--stale", action="store_true", help="then re-extract the same documents as stale")
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    parser.add_argument("--emulator-log", help="file for the emulator's output (default: one under /tmp)")
    args = parser.parse_args(argv)

    import app as app_module
    from chalicelib.aws.document_reads import DynamoDocumentReads
    from chalicelib.ingest import dropped_document_id
    from chalicelib.models import utcnow
    from local.emulator import free_port
    from local.provision import clients, login
    from local.stack import LocalStack

    logging.getLogger("docpipe").setLevel(logging.WARNING)
    timed = Timed(app_module.on_backfill)
    app_module.on_backfill = timed  # the pump looks handlers up on the module
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log = Path(args.emulator_log or Path(tempfile.gettempdir()) / f"docpipe-bench-backfill-emulator-{os.getpid()}.log")
    print(f"the emulator's output (requests, errors, why it stops) goes to {log}", flush=True)
    local = LocalStack(api_port=free_port(), aws_port=free_port(), emulator_log=log).start()
    assert local.stack is not None and local._emulator is not None
    sampler = MemorySampler(local._emulator).start()
    try:
        stack, n = local.stack, args.objects
        aws = clients(local.aws_url, stack.names.region)
        token = login(aws["cognito-idp"], stack.client_id, stack.names.admin_user, stack.names.admin_password)
        bucket, prefix = stack.names.bucket, f"uploads/bench-{int(time.time())}/"
        saved = aws["s3"].get_bucket_notification_configuration(Bucket=bucket)
        saved.pop("ResponseMetadata", None)
        aws["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        started = time.monotonic()
        keys = put_files(aws["s3"], bucket, prefix, n)
        print(f"{n:,} objects put with notifications off in {time.monotonic() - started:.0f} s", flush=True)
        aws["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)

        emulator_requests(local.aws_url, reset=True)
        extraction_cpu = sampler.extraction_cpu()
        body = {"missing": {"prefix": prefix}, "max_concurrency": args.max_concurrency}
        run, seconds = run_backfill(local.api_url, token["IdToken"], body, args.timeout, sampler)
        rows = emulator_requests(local.aws_url)
        reads = DynamoDocumentReads(aws["dynamodb"], stack.names.table)
        outcome = check_documents(reads, bucket, keys)
        ids = [dropped_document_id(bucket, k) for k in keys]
        item_kb = mean_item_kb(aws, stack.names.table, ids[:: max(1, n // 200)])
        sampler.sample()
        handler_seconds = timed.cpu_seconds + sampler.extraction_cpu() - extraction_cpu
        print(
            f"\nbackfill of {n:,} objects without a document (max concurrency {args.max_concurrency}, "
            f"4 consumer pollers): {run['status']} in {seconds:.0f} s = {n / seconds:.1f} objects/s"
        )
        print(f"  progress {run['progress']}  skipped_by {run['skipped_by']}")
        print(f"  documents: {dict(outcome)}")
        print(
            f"  on_backfill: {timed.invocations:,} invocations, {timed.seconds:.0f} s of handler wall time, "
            f"{handler_seconds:.0f} s of CPU (handler threads {timed.cpu_seconds:.0f} s, extraction processes "
            f"{handler_seconds - timed.cpu_seconds:.0f} s); load average "
            f"{Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} cores"
        )
        print(f"\nrequests served by the emulator during the backfill:\n{request_table(rows)}")
        print(f"\n{sampler.summary()}; the app process was {baseline_mb:.0f} MB before the stack started")
        print(f"mean document item: {item_kb:.1f} KB")
        print(
            f"\nAWS cost per 1M objects backfilled (us-east-1 list prices as of {PRICES_CHECKED}, PRICES in "
            "bench/backfill.py):"
        )
        print(cost_table(cost_per_million(rows, n, handler_seconds, item_kb)))
        print("assumptions: " + ", ".join(f"{k}={v}" for k, v in ASSUME.items()))
        print(
            "(Lambda GB-s: the CPU time measured here plus aws_request_ms per AWS call; on Lambda 1,769 MB is one "
            "full vCPU, and the wall time of this shared machine would overstate it.)"
        )

        if args.stale:
            stamp_all_old(aws, stack.names.table, ids)
            emulator_requests(local.aws_url, reset=True)
            timed.reset()
            extraction_cpu = sampler.extraction_cpu()
            stale_body = {"stale": {"created_from": utcnow()[:10]}, "max_concurrency": args.max_concurrency}
            stale_run, stale_seconds = run_backfill(local.api_url, token["IdToken"], stale_body, args.timeout, sampler)
            stale_rows = emulator_requests(local.aws_url)
            print(
                f"\nstale re-extraction of the same {n:,} documents: {stale_run['status']} in "
                f"{stale_seconds:.0f} s = {n / stale_seconds:.1f} documents/s; progress {stale_run['progress']}"
            )
            print(f"  documents: {dict(check_documents(reads, bucket, keys))}")
            print(f"\nrequests served by the emulator during the re-extraction:\n{request_table(stale_rows)}")
            print("\nAWS cost per 1M documents re-extracted:")
            print(
                cost_table(
                    cost_per_million(
                        stale_rows, n, timed.cpu_seconds + sampler.extraction_cpu() - extraction_cpu, item_kb
                    )
                )
            )
        ok = run["status"] == "SUCCEEDED" and outcome == Counter({"PROCESSED": n})
        return 0 if ok else 1
    finally:
        sampler.stop()
        local.stop()


if __name__ == "__main__":
    sys.exit(main())
