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
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cost import PRICES as SHARED_PRICES
from bench.cost import memory_mb

PRICES = {  # us-east-1 list prices, USD: bench/cost.py's (dated there), Step Functions and SQS as of 2025
    **SHARED_PRICES,
    "sfn_transition": 0.025 / 1000,  # Step Functions Standard, per state transition
    "sqs_request": 0.40 / 1e6,  # SQS standard queue, per request (64 KB chunk)
    "s3_list": 0.005 / 1000,  # LIST is priced as a PUT-class request
}
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


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process: its peak resident set (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Timed:
    """Wraps a Lambda handler to sum its wall time and its own thread's CPU time."""

    def __init__(self, handler: Callable[..., Any]) -> None:
        self.handler = handler
        self.reset()

    def reset(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.invocations = 0
        self.children_at_reset = children_cpu()

    def __call__(self, event: Any, context: Any) -> Any:
        started, cpu = time.monotonic(), time.thread_time()
        try:
            return self.handler(event, context)
        finally:
            self.seconds += time.monotonic() - started
            self.cpu_seconds += time.thread_time() - cpu
            self.invocations += 1

    def total_cpu(self) -> float:
        """The handlers' CPU time plus their forked extraction children's (which the handler waits for)."""
        return self.cpu_seconds + children_cpu() - self.children_at_reset


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_backfill(api: str, token: str, body: dict[str, Any], timeout: float) -> tuple[dict[str, Any], float]:
    import requests

    headers = {"Authorization": token}
    started = time.monotonic()
    resp = requests.post(f"{api}/admin/backfills", headers=headers, json=body, timeout=30)
    resp.raise_for_status()
    run_id = resp.json()["id"]
    while time.monotonic() - started < timeout:
        try:
            run: dict[str, Any] = requests.get(f"{api}/admin/backfills/{run_id}", headers=headers, timeout=120).json()
        except requests.RequestException:
            continue  # a busy emulator answered slowly: ask again
        if run["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
            return run, time.monotonic() - started
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
    app_requests = sum(r["count"] for r in rows if r["caller"] == "app" and r["operation"] != "ReceiveMessage")
    seconds = cpu_seconds + app_requests * a["aws_request_ms"] / 1000
    gb_s = seconds * scale * memory_mb("on_backfill") / 1024
    invocations = batches * scale
    orchestration, processing = "what the backfill adds", "processing, as for a live upload"
    return [
        (orchestration, "Step Functions state transitions", transitions, p["sfn_transition"]),
        (orchestration, "SQS requests (hand-over, poll, delete)", sqs, p["sqs_request"]),
        (orchestration, "DynamoDB writes, run record (WRU)", run_wcu, p["ddb_wru"]),
        (orchestration, "S3 LIST (the missing selection)", s3_list, p["s3_list"]),
        (orchestration, "Lambda requests (one per batch)", invocations, p["lambda_request"]),
        (processing, "DynamoDB writes, documents (WRU)", doc_wcu, p["ddb_wru"]),
        (processing, "DynamoDB reads (RRU)", rcu, p["ddb_rru"]),
        (processing, "S3 GET/HEAD", s3_get, p["s3_get_class"]),
        (processing, "S3 PUT (renditions, manifest)", s3_put, p["s3_put_class"]),
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
    local = LocalStack(api_port=free_port(), aws_port=free_port()).start()
    try:
        assert local.stack is not None and local._emulator is not None and local._emulator._proc is not None
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
        body = {"missing": {"prefix": prefix}, "max_concurrency": args.max_concurrency}
        run, seconds = run_backfill(local.api_url, token["IdToken"], body, args.timeout)
        rows = emulator_requests(local.aws_url)
        reads = DynamoDocumentReads(aws["dynamodb"], stack.names.table)
        outcome = check_documents(reads, bucket, keys)
        ids = [dropped_document_id(bucket, k) for k in keys]
        item_kb = mean_item_kb(aws, stack.names.table, ids[:: max(1, n // 200)])
        handler_seconds = timed.total_cpu()
        print(
            f"\nbackfill of {n:,} objects without a document (max concurrency {args.max_concurrency}, "
            f"4 consumer pollers): {run['status']} in {seconds:.0f} s = {n / seconds:.1f} objects/s"
        )
        print(f"  progress {run['progress']}  skipped_by {run['skipped_by']}")
        print(f"  documents: {dict(outcome)}")
        print(
            f"  on_backfill: {timed.invocations:,} invocations, {timed.seconds:.0f} s of handler wall time, "
            f"{handler_seconds:.0f} s of CPU (handlers and extraction children); load average "
            f"{Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} cores"
        )
        print(f"\nrequests served by the emulator during the backfill:\n{request_table(rows)}")
        print(
            f"\npeak memory: app process (pump, gateway, handlers) "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (at start {baseline_mb:.0f} MB); "
            f"largest extraction child {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB; "
            f"emulator {peak_rss_mb(local._emulator._proc.pid):.0f} MB (moto keeps every object and item in memory)"
        )
        print(f"mean document item: {item_kb:.1f} KB")
        print("\nAWS cost per 1M objects backfilled (us-east-1 list prices of 2025, PRICES in bench/backfill.py):")
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
            stale_body = {"stale": {"created_from": utcnow()[:10]}, "max_concurrency": args.max_concurrency}
            stale_run, stale_seconds = run_backfill(local.api_url, token["IdToken"], stale_body, args.timeout)
            stale_rows = emulator_requests(local.aws_url)
            print(
                f"\nstale re-extraction of the same {n:,} documents: {stale_run['status']} in "
                f"{stale_seconds:.0f} s = {n / stale_seconds:.1f} documents/s; progress {stale_run['progress']}"
            )
            print(f"  documents: {dict(check_documents(reads, bucket, keys))}")
            print(f"\nrequests served by the emulator during the re-extraction:\n{request_table(stale_rows)}")
            print("\nAWS cost per 1M documents re-extracted:")
            print(cost_table(cost_per_million(stale_rows, n, timed.total_cpu(), item_kb)))
        ok = run["status"] == "SUCCEEDED" and outcome == Counter({"PROCESSED": n})
        return 0 if ok else 1
    finally:
        local.stop()


if __name__ == "__main__":
    sys.exit(main())
