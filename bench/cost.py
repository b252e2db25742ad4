"""Estimated monthly AWS cost of docpipe for N documents a month.

Usage: python -m bench.cost [N ...] [--corpus FOLDER]

Extraction time, bytes and ranged requests per file are measured here by
running the real extractor over the shared corpus (or, without it, over
files generated on the spot); memory sizes and function settings come from
.chalice/config.json; prices are us-east-1 list prices (PRICES, dated).
What is not measured is named as an assumption (ASSUME) and printed.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.extract import DEFAULT_CORPUS, run_one

REPO = Path(__file__).resolve().parents[1]
SEED_ESTIMATE = 23.92  # the seed project's own monthly figure, shown for comparison
PRICES = {  # us-east-1 list prices, USD (checked 2026)
    "lambda_gb_s": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "ddb_gb_month": 0.25,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_it_gb_month": 0.023,
    "s3_it_monitoring_object": 0.0025 / 1000,
    "eventbridge_custom_event": 1.00 / 1e6,
    "logs_ingest_gb": 0.50,
    "cw_metric_month": 0.30,
    "cw_alarm_month": 0.10,
    "secret_month": 0.40,
}
ASSUME = {
    "aws_overhead_ms": 150.0,  # on_upload's DynamoDB/S3 round trips around extraction (claim, head, hash, finish)
    "api_calls_per_doc": 4,  # create upload, two status polls, one download
    "api_ms": 60.0,  # one API request at 512 MB
    "item_kb": 4.0,  # document item with metadata and timeline
    "item_writes": 3,  # pending, claim, finish
    "gsis": 3,  # every write also updates by_owner, all_docs, by_hash
    "lifecycle_events": 2,  # custom events per document on docpipe's bus
    "log_kb_per_doc": 3.0,
    "custom_metrics": 42,  # EMF metric x dimension combinations (families, failure reasons)
    "alarms": 14,  # infra DLQ/metric alarms + Errors/Throttles per function
    "months_kept": 1,  # storage of one month's documents
}


@dataclass(frozen=True)
class Measured:
    files: int
    mean_ms: float
    p95_ms: float
    mean_bytes: float
    mean_requests: float


def _generated(folder: Path) -> list[Path]:
    from PIL import Image
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(612, 792)
    pdf = io.BytesIO()
    writer.write(pdf)
    image = io.BytesIO()
    Image.new("RGB", (640, 480), "navy").save(image, "JPEG")
    files = {
        "report.pdf": pdf.getvalue(),
        "photo.jpg": image.getvalue(),
        "data.csv": b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(5000)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / n for n in files]


def measure(corpus: Path | None) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        if corpus and corpus.is_dir():
            paths = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix not in (".json", ".tsv"))
        else:
            paths = _generated(Path(tmp))
        runs = [run_one(p) for p in paths]
    times = sorted(r.seconds * 1000 for r in runs)
    return Measured(
        files=len(runs),
        mean_ms=statistics.fmean(times),
        p95_ms=times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)],
        mean_bytes=statistics.fmean(r.size for r in runs),
        mean_requests=statistics.fmean(r.requests for r in runs),
    )


def memory_mb(function: str) -> int:
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return int(config["lambda_functions"].get(function, {}).get("lambda_memory_size", config["lambda_memory_size"]))


def monthly_cost(n: int, m: Measured) -> dict[str, float]:
    p, a = PRICES, ASSUME
    upload_s = (m.mean_ms + a["aws_overhead_ms"]) / 1000
    api_requests = n * a["api_calls_per_doc"]
    lambda_gb_s = n * upload_s * memory_mb("on_upload") / 1024 + api_requests * a["api_ms"] / 1000 * (
        memory_mb("api_handler") / 1024
    )
    wru = n * a["item_writes"] * math.ceil(a["item_kb"]) * (1 + a["gsis"])
    rru = api_requests * math.ceil(a["item_kb"] / 4)
    stored_gb = n * a["months_kept"] * m.mean_bytes / 1024**3
    return {
        "Lambda compute": lambda_gb_s * p["lambda_gb_s"],
        "Lambda requests": (n + api_requests) * p["lambda_request"],
        "API Gateway": api_requests * p["apigw_rest_request"],
        "DynamoDB requests": wru * p["ddb_wru"] + rru * p["ddb_rru"],
        "DynamoDB storage": n * a["months_kept"] * a["item_kb"] * (1 + a["gsis"]) / 1024**2 * p["ddb_gb_month"],
        "S3 requests": n * 2 * p["s3_put"] + n * (m.mean_requests + 3) * p["s3_get"],
        "S3 storage": stored_gb * p["s3_it_gb_month"] + n * a["months_kept"] * p["s3_it_monitoring_object"],
        "EventBridge": n * a["lifecycle_events"] * p["eventbridge_custom_event"],
        "CloudWatch logs": n * a["log_kb_per_doc"] / 1024**2 * p["logs_ingest_gb"],
        "CloudWatch metrics+alarms": a["custom_metrics"] * p["cw_metric_month"] + a["alarms"] * p["cw_alarm_month"],
        "Secrets Manager": p["secret_month"],
    }


def report(counts: list[int], m: Measured) -> str:
    lines = [
        f"measured: {m.files} files, extraction mean {m.mean_ms:.1f} ms, p95 {m.p95_ms:.1f} ms, "
        f"mean size {m.mean_bytes / 1024:.0f} KiB, {m.mean_requests:.1f} ranged GETs per file",
        f"memory: on_upload {memory_mb('on_upload')} MB, api_handler {memory_mb('api_handler')} MB",
        "assumed: " + ", ".join(f"{k}={v}" for k, v in ASSUME.items()),
        "",
    ]
    for n in counts:
        parts = monthly_cost(n, m)
        lines.append(f"{n:>10,} documents/month: ${sum(parts.values()):,.2f}/month (seed estimate ${SEED_ESTIMATE})")
        lines += [f"    {k:<28}${v:>10,.2f}" for k, v in parts.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description="Estimated monthly AWS cost.")
    parser.add_argument("documents", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    print(report(args.documents, measure(args.corpus)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
