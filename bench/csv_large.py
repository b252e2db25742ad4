"""The CSV producer on a 200 MB, 2.3 M-row file: bounded memory, continued across Lambda-sized legs.

Usage: python -m bench.csv_large [ROWS] [--leg-seconds S]   (default 2,300,000 rows, 60 s legs)

Generates a CSV of ~87-byte rows (quoted fields with commas and newlines
included) in a temporary folder, then runs the real producer (`fan_out` and
`SqsSender`, the code on_upload and on_records run) leg after leg: each leg
stops at its deadline and hands a continuation with the byte offset to the
next, as a Lambda invocation would before its timeout. SQS is replaced by a
counter that enforces the message and batch limits, so the figures are the
producer's own: legs, messages, requests, rows/s and peak RSS (measured in a
child process that does nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, BinaryIO, cast

SQS_MESSAGE_LIMIT = 256 * 1024
SQS_BATCH_LIMIT = 1024 * 1024


def generate(path: str, rows: int) -> int:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("id,date,customer,amount,note,reference\r\n")
        for i in range(1, rows + 1):
            note = f'"delivered, signed by ""J. Doe""\nsecond line {i % 97}"' if i % 50 == 0 else f"order {i:09d}"
            date = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
            customer, amount = f"customer-name-{i % 10007:05d}", f"{i % 100000 / 100:.2f}"
            out.write(f"{i},{date},{customer},{amount},{note},ref-{i % 999999:06d}-warehouse-{i % 7}\r\n")
    return os.path.getsize(path)


class CountingSqs:
    """send_message_batch that enforces SQS's limits and counts, keeping no bodies."""

    def __init__(self) -> None:
        self.requests = 0
        self.messages = 0
        self.largest = 0
        self.bytes = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        sizes = [len(e["MessageBody"].encode()) for e in Entries]
        assert len(Entries) <= 10 and sum(sizes) <= SQS_BATCH_LIMIT and max(sizes) <= SQS_MESSAGE_LIMIT
        self.requests += 1
        self.messages += len(Entries)
        self.largest = max(self.largest, *sizes)
        self.bytes += sum(sizes)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def produce(path: str, leg_seconds: float) -> dict[str, Any]:
    from chalicelib.aws.sqs import SqsSender
    from chalicelib.config import FanOutSettings
    from chalicelib.csv_production import fan_out, first_leg
    from chalicelib.extraction.extractors.tabular import SAMPLE_BYTES
    from tests.fakes import InMemoryRecordsStore

    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    store = InMemoryRecordsStore()
    doc_id = "b" * 32
    store.add_document(doc_id)
    cont = first_leg(doc_id, "bench", "uploads/big.csv", None, size, sample)
    store.begin(doc_id, cont.run)
    sqs, settings = CountingSqs(), FanOutSettings()

    def open_at(offset: int) -> BinaryIO:
        handle = open(path, "rb")  # noqa: SIM115 - fan_out closes it
        handle.seek(offset)
        return cast(BinaryIO, handle)

    started, legs, rows = time.monotonic(), 0, 0
    while True:
        legs += 1
        sender = SqsSender(sqs, "queue", SQS_MESSAGE_LIMIT, settings)
        result = fan_out(cont, open_at, sender, store, settings, time.monotonic() + leg_seconds)
        rows += result.rows
        if result.continuation is None:
            break
        cont = result.continuation
    elapsed = time.monotonic() - started
    progress = store.progress(doc_id)
    return {
        "bytes": size,
        "rows": rows,
        "total": progress.total if progress else None,
        "failed": result.failed,
        "error": result.error,
        "legs": legs,
        "messages": sqs.messages,
        "requests": sqs.requests,
        "largest_message": sqs.largest,
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=2_300_000)
    parser.add_argument("--leg-seconds", type=float, default=60.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(produce(args.child, args.leg_seconds)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.csv")
        t0 = time.monotonic()
        size = generate(path, args.rows)
        print(f"generated {args.rows:,} rows, {size / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s")
        cmd = [
            sys.executable,
            "-m",
            "bench.csv_large",
            str(args.rows),
            "--leg-seconds",
            str(args.leg_seconds),
            "--child",
            path,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    ok = figures["rows"] == args.rows == figures["total"] and not figures["error"]
    print(
        f"rows numbered {figures['rows']:,} of {args.rows:,} (total recorded {figures['total']}), "
        f"failed {figures['failed']}, error {figures['error']}"
    )
    print(f"legs {figures['legs']} of <= {args.leg_seconds:.0f} s (Lambda on_upload/on_records timeouts: 300/60 s)")
    print(
        f"SQS: {figures['messages']} messages in {figures['requests']} SendMessageBatch requests "
        f"(largest {figures['largest_message'] / 1024:.0f} KiB; one message per row would be {args.rows:,})"
    )
    print(
        f"producer: {figures['seconds']} s, {figures['rows'] / max(figures['seconds'], 0.001):,.0f} rows/s, "
        f"peak RSS {figures['peak_rss_mib']} MiB"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
