"""The cost bench's model: what it bills for alarms, how it turns CPU time and counted requests into Lambda time."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from bench import cost, cputime, percall
from bench.meter import Tally
from bench.percall import Record
from deploy.templates import load_template


def test_the_alarms_billed_are_the_alarms_the_infra_stack_holds_each_once():
    resources = load_template()["Resources"].values()
    alarms = [r for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"]
    per_function = {
        (a["Properties"]["MetricName"], str(a["Properties"]["Dimensions"][0]["Value"]))
        for a in alarms
        if a["Properties"].get("Namespace") == "AWS/Lambda"
    }
    assert {metric for metric, _ in per_function} == {"Errors", "Throttles"}  # the functions' pairs are in there
    assert cost.alarms() == len(alarms)


def test_cpu_bound_time_stretches_below_one_vcpu_and_waiting_on_aws_does_not():
    assert cost.modelled_ms(100.0, {}, cost.FULL_VCPU_MB) == pytest.approx(100.0)
    assert cost.modelled_ms(100.0, {}, 3008) == pytest.approx(100.0)  # more than one vCPU: not faster for one thread
    assert cost.modelled_ms(100.0, {}, 512) == pytest.approx(100.0 * 1769 / 512)
    waits = {"dynamodb:UpdateItem": 2, "dynamodb:Query": 1, "s3:GetObject (presigned range)": 1, "events:PutEvents": 1}
    assert cost.modelled_ms(0.0, waits, 512) == pytest.approx(2 * 10 + 20 + 50 + 50)


def test_the_event_source_mappings_polls_take_none_of_the_functions_time():
    polls = {"sqs:ReceiveMessage (event source mapping)": 1, "sqs:DeleteMessageBatch (event source mapping)": 1}
    assert cost.modelled_ms(5.0, polls, cost.FULL_VCPU_MB) == pytest.approx(5.0)
    assert cost.latency_ms("sqs:SendMessageBatch") == 30.0


def test_lambda_compute_is_billed_from_the_model_not_from_the_emulators_wall_time():
    record = Record("a.pdf", "pdf", 1000, "api", ingest=Tally().to_dict(), api=Tally().to_dict())
    record.lambda_ms = {"on_upload": [900.0]}  # the emulator, on a loaded machine
    record.cpu_ms = {"on_upload": [40.0]}
    record.calls = {"on_upload": {"dynamodb:UpdateItem": 2, "s3:HeadObject": 1}}
    quantities = cost.per_document([record])
    gb = cost.memory_mb("on_upload") / 1024
    assert quantities["lambda_gb_s_wall"] == pytest.approx(0.9 * gb)
    modelled = (40.0 * max(1.0, cost.FULL_VCPU_MB / cost.memory_mb("on_upload")) + 2 * 10 + 50) / 1000
    assert quantities["lambda_gb_s"] == pytest.approx(modelled * gb)
    fixed = {"custom_metrics": 0, "alarms": 0, "secrets": 0, "sweep": {}}
    billed = cost.monthly(1_000_000, quantities, fixed)["Lambda compute"]
    assert billed == pytest.approx(1_000_000 * modelled * gb * cost.PRICES["lambda_gb_s"])
    others = cost.compute_alternatives(1_000_000, quantities, fixed)
    assert others["Lambda compute, emulator wall time x memory (x86_64)"] > billed


def spinner(cpu_seconds: float, then_sleep: float) -> subprocess.Popen[bytes]:
    code = f"import time\nend = time.process_time() + {cpu_seconds}\nwhile time.process_time() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code + f"time.sleep({then_sleep})"])


def test_a_childs_cpu_time_is_counted_alive_and_reaped_and_an_excluded_tree_is_not():
    earlier = frozenset(cputime.descendants(os.getpid(), frozenset()))  # whatever the suite started before
    excluded = spinner(0.6, 10)  # the emulator's place: busy at the same time, never counted
    try:
        processes = cputime.Processes(earlier | {excluded.pid})
        before = processes.cpu()
        child = spinner(0.3, 0.5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (cputime.read(child.pid) or cputime.Sample(0, 0.0, 0)).cpu < 0.3:
            time.sleep(0.05)
        alive = processes.cpu() - before  # running: read from /proc
        child.wait()
        reaped = processes.cpu() - before  # reaped by this process: from getrusage
        while (cputime.read(excluded.pid) or cputime.Sample(0, 1.0, 0)).cpu < 0.6 and time.monotonic() < deadline:
            time.sleep(0.05)
        done = processes.cpu() - before
    finally:
        excluded.kill()
        excluded.wait()
    assert 0.28 <= alive < 0.5
    assert 0.28 <= reaped < 0.5
    assert done == pytest.approx(reaped, abs=0.02)
    assert os.getpid() not in cputime.descendants(os.getpid(), frozenset())


def test_the_backfill_bench_prices_every_line_of_its_cost_table():
    from bench import backfill

    rows = [
        {"caller": "state machine", "service": "sqs", "operation": "SendMessage", "count": 10},
        {"caller": "app", "service": "dynamodb", "operation": "UpdateItem", "count": 2000},
        {"caller": "app", "service": "s3", "operation": "HeadObject", "count": 1000},
        {"caller": "app", "service": "s3", "operation": "GetObject", "count": 1000},
        {"caller": "app", "service": "s3", "operation": "PutObject", "count": 900},
    ]
    lines = backfill.cost_per_million(rows, 1000, cpu_seconds=20.0, item_kb=1.5)
    priced = {what: qty * unit for _, what, qty, unit in lines}
    assert priced["S3 PUT (renditions, manifest)"] == pytest.approx(900_000 * cost.PRICES["s3_put_class"])
    # two item writes of 2 KB each, plus the seven index entries counted for a new document
    assert priced["DynamoDB writes, documents (WRU)"] == pytest.approx((2_000_000 * 2 + 7_000_000) * 0.625 / 1e6)


def _run(kind: str) -> dict:
    record = Record("f", kind, 1000, "api", ingest=Tally().to_dict(), api=Tally().to_dict())
    record.lambda_ms, record.cpu_ms, record.calls = {"on_upload": [90.0]}, {"on_upload": [9.0]}, {"on_upload": {}}
    return {"records": [dataclasses.asdict(record)], "fixed": cost.fixed_quantities(4), "peak_kb": {}}


def test_a_report_without_the_corpus_says_its_mix_is_the_generated_files_only():
    assert "NO CORPUS" in percall.report({"this tree": _run("gen: small PDF")})
    assert "NO CORPUS" not in percall.report({"this tree": _run("pdf")})


def _reading(kind: str, kb: int, text: bool) -> dict:
    run = _run(kind)
    record = run["records"][0]
    record["ingest"]["s3_read_bytes"], record["text"], record["family"] = kb * 1024, text, kind
    return record


def test_reads_for_text_extraction_are_held_to_its_cap_and_every_other_read_to_256_kb():
    data = _run("pdf")
    data["records"] = [_reading("pdf", 3 * 1024, True), _reading("image", 300, False)]
    figures = percall.summary(data)
    assert figures["max S3 read with text extraction (KB)"] == 3 * 1024
    assert figures["max non-CSV S3 read (KB)"] == 300
    assert not percall.goals_met(data)
