"""Monthly AWS cost of docpipe from counted per-document figures and dated us-east-1 prices.

Usage: python -m bench.cost [same options as bench.percall]   (`make cost`)

Nothing here is assumed about what the code does: `bench.percall` counts the
requests, bytes, capacity units, invocations and milliseconds of each
document on the emulator, and the custom metrics the run emitted; this module
turns their means over the corpus mix into dollars. What is not per document
is counted from the code too: the alarms of `infra/docpipe.yaml` (which
holds every function's Errors/Throttles pair), the sweeper's
calls (one counted run, times its schedule), the cursor secret.

Prices are us-east-1 list prices without free tiers, checked on the date in
PRICES_CHECKED against the AWS pricing pages named beside each.

Lambda time. On the emulator a handler's wall time is mostly the loaded
machine and moto answering over HTTP (one DynamoDB call there takes 100-300
ms, a few ms on AWS), so the total does not use it. It uses a model of what
AWS would bill: the code's own CPU time, measured in the same run (the
handler's threads and the extraction sandbox's processes, `bench.cputime`),
stretched where the configured memory gives less than one vCPU (Lambda gives
CPU in proportion to memory, one vCPU at 1,769 MB:
https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), plus
each counted AWS request times a stated per-operation latency (LATENCY_MS,
conservative figures, sources beside them). The wall-time figure is printed
beside it, not added.
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
# USD per GB-s on arm64 (Graviton), https://aws.amazon.com/lambda/pricing/, first 7.5 billion GB-s
ARM64_GB_S = 0.0000133334
FULL_VCPU_MB = 1769  # "At 1,769 MB, a function has the equivalent of one vCPU" (Lambda Developer Guide)
# Stated latency of one request from a Lambda function in the same region, milliseconds (conservative):
# - DynamoDB: GetItem/PutItem/UpdateItem average single-digit ms server side
#   (https://repost.aws/knowledge-center/dynamodb-high-latency); 10 ms with the network. Query and batch
#   operations depend on what they return or write: 20 ms.
# - S3: "small requests (less than 512 KB) ... median latencies are often in the range of tens of
#   milliseconds" (https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/
#   timeouts-and-retries-for-latency-sensitive-applications.html): 50 ms per request, reads <= 256 KB here.
# - EventBridge PutEvents, SQS SendMessageBatch: no published figure; 50 ms and 30 ms stated.
# Calls the Lambda service makes itself (the event source mapping's polls) take none of the function's time.
LATENCY_MS = {
    "dynamodb": 10.0,
    "dynamodb:Query": 20.0,
    "dynamodb:Scan": 20.0,
    "dynamodb:BatchWriteItem": 20.0,
    "dynamodb:BatchGetItem": 20.0,
    "dynamodb:TransactWriteItems": 20.0,
    "s3": 50.0,
    "events": 50.0,
    "sqs": 30.0,
    "secretsmanager": 50.0,
    "states": 50.0,
}
MEMORY_MB = "lambda_memory_size"
# Lambda's own START, END and REPORT lines for each invocation (request id, durations, memory): ~330 bytes
PLATFORM_LOG_BYTES = 330
SWEEPS_PER_MONTH = 12 * 24 * 30  # rate(5 minutes)
# an SQS event source mapping long-polls an idle queue with five pollers, one 20 s ReceiveMessage each
IDLE_POLLS_PER_MONTH = 5 * 3 * 60 * 24 * 30
_PUT_CLASS = re.compile(r"s3:(Put|Post|Copy|List|CreateMultipartUpload|UploadPart|CompleteMultipartUpload)")
_FREE = re.compile(r"s3:(DeleteObject|DeleteObjects|AbortMultipartUpload)")


def latency_ms(operation: str) -> float:
    """The stated AWS latency of one request ("service:Operation[ (note)]")."""
    if "(event source mapping)" in operation:
        return 0.0
    name = operation.split(" ", 1)[0]
    return LATENCY_MS.get(name, LATENCY_MS[name.split(":", 1)[0]])


def modelled_ms(cpu_ms: float, requests: dict[str, int], memory: int) -> float:
    """What AWS would bill for one invocation: CPU time at the memory's CPU share, plus waiting on AWS."""
    return cpu_ms * max(1.0, FULL_VCPU_MB / memory) + sum(n * latency_ms(op) for op, n in requests.items())


def modelled_invocations(record: Record, memory: dict[str, int] | None = None) -> dict[str, list[float]]:
    """Modelled billed ms of each invocation, by function (requests spread evenly over a function's calls)."""
    out: dict[str, list[float]] = {}
    for function, cpu in record.cpu_ms.items():
        calls = record.calls.get(function, {})
        share = {op: n / len(cpu) for op, n in calls.items()}
        mb = (memory or {}).get(function) or memory_mb(function)
        out[function] = [modelled_ms(ms, share, mb) for ms in cpu]  # type: ignore[arg-type]
    return out


def gb_seconds(milliseconds: dict[str, list[float]], memory: dict[str, int] | None = None) -> float:
    return sum(sum(ms) / 1000 * ((memory or {}).get(fn) or memory_mb(fn)) / 1024 for fn, ms in milliseconds.items())


def memory_mb(function: str) -> int:
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return int(config["lambda_functions"].get(function, {}).get(MEMORY_MB, config[MEMORY_MB]))


def configured_memory() -> dict[str, int]:
    """Every function's memory setting in this tree (a run records it: another revision's may differ)."""
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return {function: memory_mb(function) for function in config["lambda_functions"]}


def alarms() -> int:
    """The infra stack's alarms: its queues' and state machine's, and each function's Errors and Throttles pair.

    (Revisions before the infra stack held the pairs had deploy.configure add them: two per function.)
    """
    template = (REPO / "infra" / "docpipe.yaml").read_text(encoding="utf-8")
    found = len(re.findall(r"Type:\s*AWS::CloudWatch::Alarm", template))
    if re.search(r"Namespace:\s*AWS/Lambda", template):
        return found
    from deploy.calls import handler_kinds

    return found + 2 * len(handler_kinds(REPO / "app.py"))


def fixed_quantities(custom_metrics: int, sweep: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"custom_metrics": custom_metrics, "alarms": alarms(), "secrets": 1, "sweep": sweep or {}}


def per_document(records: list[Record], memory: dict[str, int] | None = None) -> dict[str, float]:
    """Means over the documents of what the bill counts (`memory`: the run's settings, else this tree's)."""
    rows = [_quantities(r, memory) for r in records]
    return {name: statistics.fmean(row[name] for row in rows) for name in rows[0]} if rows else {}


def _quantities(record: Record, memory: dict[str, int] | None = None) -> dict[str, float]:
    total = record.total
    requests = {**total.requests}
    for op, n in record.user.items():
        requests[op] = requests.get(op, 0) + n
    s3 = {op: n for op, n in requests.items() if op.startswith("s3:") and not _FREE.match(op)}
    invocations = sum(len(v) for v in record.lambda_ms.values())
    return {
        "lambda_requests": invocations,
        "lambda_gb_s_wall": gb_seconds(record.lambda_ms, memory),
        "lambda_gb_s": gb_seconds(modelled_invocations(record, memory), memory),
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
    gb = 1024**3
    return {
        "Lambda compute": (n * doc["lambda_gb_s"] + sweep_gb_s(fixed)) * p["lambda_gb_s"],
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


def sweep_gb_s(fixed: dict[str, Any], wall: bool = False) -> float:
    """The month's sweeps (GB-s): modelled like a document's invocations, or from the emulator's wall time."""
    sweep = fixed.get("sweep") or {}
    if wall or "cpu_ms" not in sweep:
        ms = sweep.get("ms", 0.0)
    else:
        ms = modelled_ms(sweep["cpu_ms"], sweep.get("requests", {}), memory_mb("sweep"))
    return ms / 1000 * memory_mb("sweep") / 1024 * SWEEPS_PER_MONTH


def compute_alternatives(n: int, doc: dict[str, float], fixed: dict[str, Any]) -> dict[str, float]:
    """Lambda compute lines the total does not use, for comparison with the modelled x86_64 line it does."""
    p = PRICES
    return {
        "Lambda compute, emulator wall time x memory (x86_64)": (
            (n * doc["lambda_gb_s_wall"] + sweep_gb_s(fixed, wall=True)) * p["lambda_gb_s"]
        ),
        "Lambda compute, modelled, arm64 (speed on Graviton not measured)": (
            (n * doc["lambda_gb_s"] + sweep_gb_s(fixed)) * ARM64_GB_S
        ),
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
