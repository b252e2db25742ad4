"""Monthly AWS cost of docpipe from counted per-document figures and dated us-east-1 prices.

Usage: python -m bench.cost [same options as bench.percall]   (`make cost`)

Nothing here is assumed about what the code does: `bench.percall` counts the
requests, bytes, capacity units, invocations and milliseconds of each
document on the emulator, and the custom metrics the run emitted; this module
turns their means over the corpus mix into dollars. What is not per document
is counted from the code too: alarms from `infra/docpipe.yaml` plus the
Errors/Throttles pair `deploy.configure` adds per function, the sweeper's
calls (one counted run, times its schedule), the cursor secret.

Prices are us-east-1 list prices without free tiers, checked on the date in
PRICES_CHECKED against the AWS pricing pages named beside each.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.percall import Record

REPO = Path(__file__).resolve().parents[1]
PRICES_CHECKED = "2026-11-28"
PRICES = {  # USD, us-east-1, no free tier
    # https://aws.amazon.com/lambda/pricing/ (x86_64, first 6 billion GB-s)
    "lambda_gb_s": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    # https://aws.amazon.com/api-gateway/pricing/ (REST API, first 333 million)
    "apigw_rest_request": 3.50 / 1e6,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class)
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "ddb_gb_month": 0.25,
    # https://aws.amazon.com/s3/pricing/ (PUT/COPY/POST/LIST; GET/HEAD and the rest; Intelligent-Tiering)
    "s3_put_class": 0.005 / 1000,
    "s3_get_class": 0.0004 / 1000,
    "s3_it_gb_month": 0.023,  # Intelligent-Tiering frequent access = S3 Standard
    "s3_it_transition": 0.01 / 1000,  # lifecycle transition into Intelligent-Tiering
    # https://aws.amazon.com/eventbridge/pricing/ (custom events, per 64 KB chunk)
    "eventbridge_event": 1.00 / 1e6,
    # https://aws.amazon.com/sqs/pricing/ (standard queue, per 64 KB chunk)
    "sqs_request": 0.40 / 1e6,
    # https://aws.amazon.com/cloudwatch/pricing/ (logs ingestion, first 10,000 metrics, standard alarms)
    "logs_ingest_gb": 0.50,
    "cw_metric_month": 0.30,
    "cw_alarm_month": 0.10,
    # https://aws.amazon.com/secrets-manager/pricing/
    "secret_month": 0.40,
}
MEMORY_MB = "lambda_memory_size"
# Lambda's own START, END and REPORT lines for each invocation (request id, durations, memory): ~330 bytes
PLATFORM_LOG_BYTES = 330
SWEEPS_PER_MONTH = 12 * 24 * 30  # rate(5 minutes)
# an SQS event source mapping long-polls an idle queue with five pollers, one 20 s ReceiveMessage each
IDLE_POLLS_PER_MONTH = 5 * 3 * 60 * 24 * 30
_PUT_CLASS = re.compile(r"s3:(Put|Post|Copy|List|CreateMultipartUpload|UploadPart|CompleteMultipartUpload)")
_FREE = re.compile(r"s3:(DeleteObject|DeleteObjects|AbortMultipartUpload)")


def memory_mb(function: str) -> int:
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return int(config["lambda_functions"].get(function, {}).get(MEMORY_MB, config[MEMORY_MB]))


def lambda_functions() -> list[str]:
    from deploy.calls import handler_kinds

    return sorted(handler_kinds(REPO / "app.py"))


def alarms() -> int:
    """The infra stack's alarms plus the Errors and Throttles alarm deploy.configure adds per function."""
    template = (REPO / "infra" / "docpipe.yaml").read_text(encoding="utf-8")
    return len(re.findall(r"Type:\s*AWS::CloudWatch::Alarm", template)) + 2 * len(lambda_functions())


def fixed_quantities(custom_metrics: int, sweep: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"custom_metrics": custom_metrics, "alarms": alarms(), "secrets": 1, "sweep": sweep or {}}


def per_document(records: list[Record]) -> dict[str, float]:
    """Means over the documents of what the bill counts."""
    rows = [_quantities(r) for r in records]
    return {name: statistics.fmean(row[name] for row in rows) for name in rows[0]} if rows else {}


def _quantities(record: Record) -> dict[str, float]:
    total = record.total
    requests = {**total.requests}
    for op, n in record.user.items():
        requests[op] = requests.get(op, 0) + n
    s3 = {op: n for op, n in requests.items() if op.startswith("s3:") and not _FREE.match(op)}
    invocations = sum(len(v) for v in record.lambda_ms.values())
    return {
        "lambda_requests": invocations,
        "lambda_gb_s": sum(sum(ms) / 1000 * memory_mb(fn) / 1024 for fn, ms in record.lambda_ms.items()),
        "apigw_requests": record.api_calls,
        "wru": total.wcu,
        "rru": total.rcu,
        "ddb_bytes": record.stored_item_bytes,
        "s3_put_class": sum(n for op, n in s3.items() if _PUT_CLASS.match(op)),
        "s3_get_class": sum(n for op, n in s3.items() if not _PUT_CLASS.match(op)),
        "s3_bytes": record.stored_object_bytes,
        "s3_transitions": record.it_transitions,
        "events": total.events_billed,
        "sqs": total.sqs_billed,
        "log_bytes": record.log_bytes + PLATFORM_LOG_BYTES * invocations,
    }


def monthly(n: int, doc: dict[str, float], fixed: dict[str, Any]) -> dict[str, float]:
    """Dollars a month for n documents a month (storage: one month's documents)."""
    p = PRICES
    sweep = fixed.get("sweep") or {}
    sweep_gb_s = sweep.get("ms", 0.0) / 1000 * memory_mb("sweep") / 1024 * SWEEPS_PER_MONTH
    gb = 1024**3
    return {
        "Lambda compute": n * doc["lambda_gb_s"] * p["lambda_gb_s"] + sweep_gb_s * p["lambda_gb_s"],
        "Lambda requests": (n * doc["lambda_requests"] + SWEEPS_PER_MONTH) * p["lambda_request"],
        "API Gateway": n * doc["apigw_requests"] * p["apigw_rest_request"],
        "DynamoDB writes": n * doc["wru"] * p["ddb_wru"],
        "DynamoDB reads": (n * doc["rru"] + sweep.get("rru", 0.0) * SWEEPS_PER_MONTH) * p["ddb_rru"],
        "DynamoDB storage": n * doc["ddb_bytes"] / gb * p["ddb_gb_month"],
        "S3 requests": n * (doc["s3_put_class"] * p["s3_put_class"] + doc["s3_get_class"] * p["s3_get_class"]),
        "S3 storage": n * doc["s3_bytes"] / gb * p["s3_it_gb_month"],
        "S3 lifecycle transitions": n * doc["s3_transitions"] * p["s3_it_transition"],
        "EventBridge": n * doc["events"] * p["eventbridge_event"],
        "SQS": (n * doc["sqs"] + IDLE_POLLS_PER_MONTH) * p["sqs_request"],
        "CloudWatch logs": n * doc["log_bytes"] / gb * p["logs_ingest_gb"],
        "CloudWatch metrics": fixed["custom_metrics"] * p["cw_metric_month"],
        "CloudWatch alarms": fixed["alarms"] * p["cw_alarm_month"],
        "Secrets Manager": fixed["secrets"] * p["secret_month"],
    }


def price_lines() -> list[str]:
    p = PRICES
    return [
        f"Prices (us-east-1, USD, no free tier, checked {PRICES_CHECKED}): Lambda ${p['lambda_gb_s']:.10f}/GB-s "
        f"(x86_64) + $0.20/M requests; API Gateway REST $3.50/M; DynamoDB on-demand $0.625/M WRU, $0.125/M RRU, "
        f"$0.25/GB-month; S3 $0.005/1k PUT-class, $0.0004/1k GET-class, $0.023/GB-month, $0.01/1k transitions "
        f"into Intelligent-Tiering; EventBridge $1.00/M; SQS $0.40/M; CloudWatch Logs $0.50/GB, $0.30/metric, "
        f"$0.10/alarm; Secrets Manager $0.40/secret.",
        "Storage lines hold one month's documents. Not counted: Cognito (priced per monthly active user), "
        "data transfer out when users download their files ($0.09/GB after 100 GB/month), X-Ray when enabled.",
    ]


def main(argv: list[str] | None = None) -> int:
    from bench import percall

    return percall.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
