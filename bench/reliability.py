"""Reliability and security figures, on a local stack of its own: every attack as a test, its figure, PASS/FAIL.

Usage: python -m bench.reliability [--quick] [--rows N] [--runs N]   (`make reliability`)

First the attacks, one row each (the test that plays it, what it measured):
hostile metadata (XML/SVG with a default namespace, 500 KB of metadata, an
item no client can read), an asynchronous delete while a 300,000-row CSV is
still ingesting, a CSV record over 1 MiB, a 40 s storage freeze and an
extraction worker killed from outside (neither may fail a file), group claims,
admin rights, the size limit on every object, nested JSON and NUL paths, parser
chatter, the local stack's POST policy and its emulator dying with its parent,
the tests' independence of their order, and duplicate deliveries over many runs.
The pytest attacks run in one subprocess (one stack of their own); the
figures their tests record come back as junit properties.

Then the standing figures, on the whole local stack (emulator, provisioning,
Lambda-like pump, JWT gateway) on free ports, with the goal next to each:
- idempotency: 50 files x 5 duplicate deliveries, 10 at a time, on the
  emulator (each DynamoDB request atomic, as on DynamoDB: see
  local/moto_server.py) and on the atomic in-memory repository twin;
  20 out-of-order trials; 20 trials of a newer version arriving while an
  older version's attempt runs;
- faults: throttling, S3 500s and timeouts inside the retry budget; ranged
  read faults; a finishing write that exhausts its retries; CSV rows under
  UnprocessedItems and throttling;
- load: 1,000 uploads through the API and presigned POSTs as fast as the
  machine allows (p50/p95 time to PROCESSED, objects = documents, DLQs empty);
- hostile input: the shared corpus (`../shared/corpus` beside the main
  checkout, also from a worktree, or DOCPIPE_CORPUS) and hypothesis mutations
  through detection and bounded extraction, with the peak RSS the extraction
  workers reported to the sandbox (of every file of the run);
- the pytest suites that need fixtures of their own run in a subprocess:
  the sweeper, awkward keys end to end, the auth matrix, two-user isolation
  and the schemathesis API fuzz.
The process exits 1 when a figure misses its goal.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIRECT_BUCKET = "docpipe-bench-direct"


@dataclass
class Figure:
    section: str
    name: str
    goal: str
    measured: str
    ok: bool | None  # None: reported, no goal

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


class Report:
    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def add(self, section: str, name: str, goal: str, measured: Any, ok: bool | None) -> None:
        self.figures.append(Figure(section, name, goal, str(measured), ok))
        print(f"  {section:<12} {name:<52} {measured}", flush=True)

    def guard(self, section: str, run: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            run()
        except Exception as exc:
            self.add(section, "scenario completed", "no exception", f"{type(exc).__name__}: {str(exc)[:120]}", False)
        print(f"  {section:<12} ({time.monotonic() - started:.0f} s)", flush=True)

    def table(self) -> str:
        rows = [("section", "figure", "goal", "measured", "result")]
        rows += [(f.section, f.name, f.goal, f.measured, f.verdict) for f in self.figures]
        widths = [min(60, max(len(r[i]) for r in rows)) for i in range(5)]
        lines = []
        for n, row in enumerate(rows):
            lines.append("  ".join(cell[: widths[i]].ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


# -- the attacks, one row each -------------------------------------------------------
HM = "tests/reliability/test_hostile_metadata.py"
PA = "tests/reliability/test_platform_attacks.py"
ATTACKS: list[tuple[str, str, list[str]]] = [
    (
        "default-namespace SVG/XML",
        "drop drawing.svg and feed.xml; owner list, document, admin list, delete",
        [f"{HM}::test_xml_with_a_default_namespace_is_listed_read_and_deleted"],
    ),
    (
        "500 KB metadata",
        "a PDF whose Info dictionary holds 500 KB: PROCESSED, listed, core fields kept",
        [f"{HM}::test_a_file_with_500_kb_of_metadata_is_processed_with_its_core_fields_and_a_warning"],
    ),
    (
        "metadata gate",
        "generated nested values through the one gate (property-based)",
        ["tests/unit/test_metadata_gate.py"],
    ),
    (
        "unreadable item",
        "an item written around the gate: listed, searched, sorted, read, deleted",
        [f"{HM}::test_a_document_whose_metadata_cannot_be_read_is_listed_read_and_deleted"],
    ),
    (
        "1 MiB+ CSV record",
        "a CSV whose first record is 1.2 MB, on the stack; records final, counts true",
        [
            f"{PA}::test_a_csv_whose_first_record_is_over_1_mib_is_one_failed_row_with_true_counts",
            "tests/unit/test_csv_fanout.py",
        ],
    ),
    (
        "40 s storage freeze",
        "the emulator stopped (SIGSTOP) 40 s mid-read of a PDF, then continued",
        [f"{PA}::test_a_40_s_storage_freeze_mid_read_fails_no_file_and_the_file_is_processed_after_it"],
    ),
    (
        "child killed from outside",
        "every worker SIGKILLed mid-read, idle ones too (on the stack); idle/busy workers, the zygote, both, "
        "during spawn (unit)",
        [
            f"{PA}::test_an_extraction_worker_killed_from_outside_fails_no_file_and_the_file_is_processed_after_it",
            "tests/unit/test_ingest.py::test_a_platform_fault_during_extraction_gives_the_claim_back_and_never_fails_the_file",
            "tests/unit/test_sandbox_recovery.py",
        ],
    ),
    (
        "I/O stall vs file fault",
        "stalled reads, no-progress and killed workers vs CPU/memory limits and crashes",
        ["tests/unit/test_bounds.py", "tests/unit/test_extract_engine.py"],
    ),
    (
        "cognito:groups",
        "'readers,admins' in every shape API Gateway delivers; arrays; bracketed lists",
        ["tests/unit/test_http.py"],
    ),
    (
        "admin rights",
        "owners do all; admins read and reprocess all, delete only ownerless files",
        ["tests/unit/test_access.py", "tests/integration/test_api_on_emulator.py"],
    ),
    (
        "size limit on every object",
        "an ownerless drop over the limit is too_large and never hashed",
        ["tests/unit/test_ingest.py::test_every_dropped_object_has_the_size_limit_and_is_never_hashed_past_it"],
    ),
    (
        "nested JSON / NUL path",
        "a 100,000-deep JSON body; NUL and other refused bytes in static paths",
        [
            "tests/integration/test_gateway_on_emulator.py::test_a_deeply_nested_json_body_is_a_400",
            "tests/integration/test_gateway_on_emulator.py::"
            "test_a_static_path_the_file_system_refuses_is_a_json_404_not_a_dropped_connection",
        ],
    ),
    (
        "parser chatter",
        "a PDF whose every xref offset is wrong: one log line; no object reprs",
        ["tests/unit/test_noise.py"],
    ),
    (
        "POST policy enforced locally",
        "presigned POSTs rewritten: other prefix, policy, size, type, extra field, expiry",
        [
            "tests/unit/test_emulator_fidelity.py",
            "tests/integration/test_api_on_emulator.py::test_an_upload_that_breaks_its_post_policy_is_refused_and_stores_nothing",
        ],
    ),
    (
        "emulator dies with parent",
        "SIGKILL the process that started the emulator; its port is free again",
        ["tests/integration/test_emulator_fidelity.py"],
    ),
]


def attacks(report: Report) -> None:
    """Every pytest attack in one subprocess; a row per item with its tests' outcome and recorded figures."""
    wanted = {node for _, _, group in ATTACKS for node in group}
    nodes = sorted(n for n in wanted if "::" not in n or n.partition("::")[0] not in wanted)  # each test once
    started = time.monotonic()
    cases = _run_pytest(nodes, timeout=3600)
    print(f"  attacks      pytest ({time.monotonic() - started:.0f} s)", flush=True)
    for item, attack, group in ATTACKS:
        mine = [c for c in cases if any(_belongs(c, node) for node in group)]
        failed = [c for c in mine if c.outcome == "failed"]
        passed = sum(1 for c in mine if c.outcome == "passed")
        props = [f"{k}={v}" for c in mine for k, v in c.properties]
        figure = f"{passed} passed, {len(failed)} failed in {sum(c.seconds for c in mine):.0f} s"
        if props:
            figure += "; " + "; ".join(props)
        if failed:
            figure += f"; failed: {failed[0].name}"
        report.add("attack", f"{item}: {attack}", "all pass", figure, passed > 0 and not failed)


@dataclass
class Case:
    file: str
    name: str
    outcome: str
    seconds: float
    properties: list[tuple[str, str]]


def _belongs(case: Case, node: str) -> bool:
    path, _, test = node.partition("::")
    return case.file == path and (not test or case.name == test or case.name.startswith(test + "["))


def _run_pytest(nodes: list[str], timeout: float) -> list[Case]:
    with tempfile.NamedTemporaryFile(suffix=".xml") as junit:
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit.name}", *nodes],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=timeout,
        )
        return _junit_cases(junit.name)


def _junit_cases(path: str) -> list[Case]:
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - pytest's own output
    except ET.ParseError:
        return []
    cases = []
    for case in root.iter("testcase"):
        kinds = {child.tag: child for child in case}
        if "failure" in kinds or "error" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "xfailed" if kinds["skipped"].get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        file = str(case.get("classname", "")).replace(".", "/")
        props = [(str(p.get("name")), str(p.get("value"))) for p in case.iter("property")]
        cases.append(Case(f"{file}.py", str(case.get("name")), outcome, float(case.get("time") or 0), props))
    return cases


def order_independence(report: Report) -> None:
    """The orders that used to break: emulator suites, then tests/unit, then the fault tests and the JSON log tests
    (a document's id bound outside any invocation stuck to every later log line)."""
    nodes = [
        "tests/integration/test_pump_on_emulator.py",
        "tests/unit",
        "tests/reliability/test_faults.py",
        "tests/deploy/test_observability.py",
    ]
    cases = _run_pytest(nodes, timeout=3600)
    faults_cases = [c for c in cases if c.file in nodes[2:]]
    failed = [c for c in cases if c.outcome == "failed"]
    measured = f"{len(cases) - len(failed)} of {len(cases)} passed ({len(faults_cases)} fault and log tests)"
    if failed:
        measured += f"; failed: {', '.join(c.name for c in failed[:3])}"
    report.add("attack", "test order: " + " -> ".join(nodes), "all pass", measured, bool(faults_cases) and not failed)


def delete_during_ingest(report: Report, local: Any, aws: dict[str, Any], rows: int) -> None:
    from local.provision import login
    from tests.reliability.support.deletion import delete_during_ingest as scenario

    stack = local.stack
    tokens = login(aws["cognito-idp"], stack.client_id, "demo", stack.names.demo_password)
    fig = scenario(
        local.api_url,
        tokens["IdToken"],
        stack.user_subs["demo"],
        aws,
        stack.names.bucket,
        stack.names.table,
        rows,
        3600,
    )
    gone = "never" if fig.gone_after_seconds is None else f"{fig.gone_after_seconds:.0f} s"
    measured = (
        f"DELETE {fig.status_code} in {fig.request_seconds:.2f} s with {fig.written_when_deleted} of {rows} rows "
        f"written; gone after {gone}; "
        f"items left {fig.items_left}, object left {fig.object_left}, dead letters {fig.dead_letters}"
    )
    ok = (
        fig.status_code == 202
        and fig.request_seconds < 29
        and fig.written_when_deleted > 0
        and fig.gone_after_seconds is not None
        and (fig.items_left, fig.object_left, fig.dead_letters) == (0, False, 0)
    )
    report.add("attack", f"delete during ingest of {rows:,} rows: 202 at once, nothing left", "all true", measured, ok)


def repeated_duplicates(report: Report, aws: dict[str, Any], files: int, runs: int) -> None:
    """The duplicate-delivery trial run after run on the emulator: every run must end all PROCESSED."""
    from chalicelib import wiring
    from tests.reliability.support import scenarios

    ingest, repo = wiring.ingest_service(), wiring.repository()
    whole, lines = 0, []
    for run in range(runs):
        dup = scenarios.duplicate_deliveries(ingest.process, repo, aws["s3"], DIRECT_BUCKET, files, 5, 10, seed=run)
        whole += dup.documents == dup.processed == dup.extractions == files
        if dup.unfinished:
            lines.append(f"run {run + 1}: {'; '.join(dup.unfinished)[:120]}")
    measured = f"{whole} of {runs} runs {files}/{files} PROCESSED, one extraction each" + (
        f"; {lines[0]}" if lines else ""
    )
    report.add(
        "attack", f"duplicate deliveries, {files} files x 5, {runs} runs in a row", "every run", measured, whole == runs
    )


def idempotency(report: Report, local: Any, aws: dict[str, Any], files: int, trials: int) -> None:
    from chalicelib import wiring
    from chalicelib.ingest import IngestService
    from chalicelib.lifecycle import Lifecycle
    from tests.fakes import InMemoryRepository
    from tests.reliability.support import scenarios

    ingest, repo = wiring.ingest_service(), wiring.repository()
    dup = scenarios.duplicate_deliveries(ingest.process, repo, aws["s3"], DIRECT_BUCKET, files, 5, 10)
    goal = f"{files} docs, {files} extractions"
    measured = f"{dup.documents} docs ({dup.processed} PROCESSED), {dup.extractions} extractions"
    if dup.unfinished:
        measured += f"; not PROCESSED: {'; '.join(dup.unfinished)}"
    ok = dup.documents == dup.processed == dup.extractions == files
    report.add("idempotency", f"{files} files x 5 deliveries, 10 concurrent (emulator)", goal, measured, ok)
    twin = InMemoryRepository()
    service = IngestService(twin, wiring.storage(), wiring.settings(), Lifecycle(None))
    dup = scenarios.duplicate_deliveries(service.process, twin, aws["s3"], DIRECT_BUCKET, files, 5, 10)
    measured = f"{dup.documents} docs ({dup.processed} PROCESSED), {dup.extractions} extractions"
    ok = dup.documents == dup.processed == dup.extractions == files
    report.add("idempotency", f"{files} files x 5 deliveries, 10 concurrent (atomic twin)", goal, measured, ok)
    order = scenarios.out_of_order(ingest.process, repo, aws["s3"], DIRECT_BUCKET, trials)
    report.add(
        "idempotency",
        "out-of-order deliveries end in the newest state",
        f"{trials}/{trials}",
        f"{order.newest}/{trials}",
        order.newest == trials,
    )
    overlap = scenarios.newer_version_during_an_attempt(ingest.process, repo, aws["s3"], DIRECT_BUCKET, trials)
    detail = f"{overlap.newest}/{trials}" + (f" ({overlap.failures[0].split(': ', 1)[1]})" if overlap.failures else "")
    report.add(
        "idempotency",
        "newer version during an older attempt -> newest",
        f"{trials}/{trials}",
        detail,
        overlap.newest == trials,
    )


def faults(report: Report, aws: dict[str, Any], stack: Any, files: int, rows: int) -> None:
    from chalicelib import wiring
    from tests.reliability.support import scenarios
    from tests.reliability.support.faults import (
        BotoFaults,
        FailOnce,
        FaultPlan,
        RangedReadFaults,
        dynamodb_throttle,
        read_timeout,
        s3_internal_error,
        throttled,
    )
    from tests.reliability.support.records import records_under_faults

    ingest, repo = wiring.ingest_service(), wiring.repository()
    plan = FaultPlan(seed=11, rate=0.3, max_faults=files * 2, max_in_a_row=2)
    dynamo = BotoFaults(wiring.client("dynamodb"), plan, (dynamodb_throttle,))
    s3 = BotoFaults(wiring.client("s3"), plan, (s3_internal_error, read_timeout))
    with dynamo.active(), s3.active():
        lost = scenarios.process_all(ingest.process, repo, aws["s3"], DIRECT_BUCKET, files)
    injected = f"{dynamo.log.total} throttles, {s3.log.total} S3 500s/timeouts"
    report.add("faults", f"files lost to {injected}", "0", _lost(lost.lost), not lost.lost)
    attempts = max(dynamo.log.max_attempt, s3.log.max_attempt)
    report.add("faults", "attempts per call (botocore standard mode)", "<= 5", attempts, attempts <= 5)
    ranged = RangedReadFaults(FaultPlan(seed=12, rate=0.5, max_faults=files, max_in_a_row=1))
    with ranged.active():
        lost = scenarios.process_all(ingest.process, repo, aws["s3"], DIRECT_BUCKET, files // 2)
    report.add(
        "faults",
        f"files lost to {ranged.injected} ranged-GET 500s/timeouts",
        "0",
        f"{len(lost.lost)} ({', '.join(sorted({x.split(': ')[1] for x in lost.lost}))})" if lost.lost else "0",
        not lost.lost,
    )
    fail = FailOnce(
        wiring.client("dynamodb"), "UpdateItem", throttled("UpdateItem"), lambda b: '"PROCESSED"' in b, times=10
    )
    with fail.active():
        lost = scenarios.process_all(ingest.process, repo, aws["s3"], DIRECT_BUCKET, 10, workers=1)
    report.add(
        "faults",
        f"{fail.raised} of 10 finishing writes failed (the fault fired); left after 3 deliveries each",
        "10 fired",
        f"{len(lost.lost)} of 10 PROCESSING (claims released)",
        fail.raised == 10,
    )
    from chalicelib.models import Status

    stuck = [d.id for d in repo.overdue(Status.PROCESSING, int(time.time()), 1000) if d.bucket == DIRECT_BUCKET]
    for doc_id in stuck:  # what the scheduled sweeper and on_reprocess do on AWS for an expired or released lease
        ingest.reprocess(doc_id, None)
    still = [i for i in stuck if (doc := repo.get(i)) is None or doc.status.value != "PROCESSED"]
    report.add(
        "faults",
        "... then one sweep + its retry (the AWS backstop)",
        "0 left",
        f"{len(still)} left of {len(stuck)} retried",
        len(stuck) == len(lost.lost) and not still,
    )
    rec = records_under_faults(aws, stack, rows, FaultPlan(seed=13, rate=0.5, max_faults=rows // 10))
    injected = f"{rec.unprocessed_injected} unprocessed items, {rec.throttles_injected} throttles"
    report.add(
        "faults",
        f"CSV rows lost of {rows} ({injected})",
        "0",
        rec.lost + (rows - rec.stored),
        rec.lost == 0 and rec.stored == rows,
    )
    report.add("faults", "records DLQ messages", "0", rec.dead_letters, rec.dead_letters == 0)


def _lost(lost: list[str]) -> str:
    """How many files were lost, and in which states."""
    return f"{len(lost)} ({', '.join(sorted({x.split(': ')[1] for x in lost}))})" if lost else "0"


def load(report: Report, local: Any, aws: dict[str, Any], count: int) -> None:
    from chalicelib import wiring
    from tests.reliability.support.load import new_user, run_load

    token, sub = new_user(aws["cognito-idp"], local.stack)
    fig = run_load(
        local.api_url,
        token,
        sub,
        count,
        wiring.repository(),
        aws["s3"],
        aws["sqs"],
        local.stack.names.bucket,
        workers=8,
        timeout=900,
    )
    report.add(
        "load",
        f"{count} uploads reach a final status",
        "100%",
        f"{100 * fig.final / count:.1f}%",
        fig.final == count and not fig.upload_errors,
    )
    report.add(
        "load", "PROCESSED", f"{count}", f"{fig.processed} (failed: {dict(fig.failed) or 0})", fig.processed == count
    )
    report.add(
        "load",
        "S3 objects = documents",
        "equal",
        f"{fig.objects} = {fig.documents}",
        fig.objects == fig.documents == count,
    )
    report.add("load", "DLQ messages", "0", fig.dead_letters, fig.dead_letters == 0)
    report.add(
        "load", "p50 / p95 time to PROCESSED", "reported", f"{fig.p50_seconds:.2f} s / {fig.p95_seconds:.2f} s", None
    )
    report.add(
        "load",
        "uploads / whole run",
        "reported",
        f"{fig.upload_seconds:.0f} s / {fig.total_seconds:.0f} s ({count / fig.total_seconds:.1f} files/s)",
        None,
    )


def hostile_input(report: Report, detection: int, extraction: int) -> None:
    from chalicelib.extraction.sandbox import pool
    from tests.reliability.support import hostile

    if hostile.corpus_files():
        fig = hostile.run_corpus()
        bad = len(fig.problems)
        report.add(
            "hostile",
            f"corpus files ({fig.inputs}, corrupt/ included): unhandled+hangs",
            "0",
            f"{bad} {fig.problems[:2] if bad else ''}".strip(),
            bad == 0,
        )
        report.add("hostile", "corpus outcomes", "reported", f"{dict(fig.outcomes)} {dict(fig.codes)}", None)
        report.add(
            "hostile",
            "corpus slowest file",
            f"<= {hostile.BUDGET.wall_seconds:g} s + grace",
            f"{fig.max_seconds:.1f} s",
            fig.max_seconds <= hostile.BUDGET.wall_seconds + hostile.GRACE_SECONDS,
        )
    else:
        report.add("hostile", "corpus", "present", f"skipped: no corpus at {hostile.CORPUS}", None)
    for target, examples in (("detection", detection), ("extraction", extraction)):
        try:
            fig = hostile.fuzz(examples, target)
            measured, ok = f"0 of {fig.inputs} ({dict(fig.outcomes)})", True
        except AssertionError as exc:
            measured, ok = f"counterexample: {str(exc)[:100]}", False
        report.add("hostile", f"hypothesis mutations via {target}: unhandled+hangs", "0", measured, ok)
    # the workers' own peak, as the sandbox learns it (RUSAGE_CHILDREN here would count the pytest runs above)
    rss = pool().peak_rss / hostile.MIB
    bound = hostile.BUDGET.memory_bytes / hostile.MIB + 512
    measured = f"{rss:.0f} MiB" if rss else "not reported"
    report.add("hostile", "peak RSS of an extraction worker", f"< {bound:.0f} MiB", measured, 0 < rss < bound)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.add("hostile", "peak RSS of the bench process", "reported", f"{own:.0f} MiB", None)


SUITES = [
    ("sweeper", "stuck PROCESSING retried, bounded; PENDING expires", ["tests/reliability/test_sweeper.py"]),
    ("security", "awkward keys end to end (S3 -> pump -> API)", ["tests/reliability/test_keys_end_to_end.py"]),
    (
        "security",
        "auth matrix + two-user isolation",
        ["tests/integration/test_api_on_emulator.py", "tests/integration/test_gateway_on_emulator.py"],
    ),
    ("security", "fuzzed API: no 5xx, no tracebacks/ARNs/table names", ["tests/integration/test_api_fuzz.py"]),
]


def suites(report: Report) -> None:
    for section, name, paths in SUITES:
        counts = Counter(c.outcome for c in _run_pytest(paths, timeout=900))
        measured = (
            f"{counts['passed']} passed, {counts['failed']} failed, {counts['xfailed']} xfailed, "
            f"{counts['skipped']} skipped"
        )
        report.add(section, name, "0 failed", measured, counts["failed"] == 0 and counts["passed"] > 0)


def _log_to_file(path: str | None = None) -> str:
    """The app logs every document (and every injected fault's traceback): to a file, not over the table."""
    import logging

    if path is None:
        fd, path = tempfile.mkstemp(prefix="docpipe-reliability-", suffix=".log")
        os.close(fd)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for name in ("docpipe", "app", "local"):
        logger = logging.getLogger(name)
        logger.propagate = True
        for old in list(logger.handlers):
            logger.removeHandler(old)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run of the bench itself)")
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the CSV deleted while it ingests")
    parser.add_argument("--runs", type=int, default=20, help="duplicate-delivery runs in a row")
    args = parser.parse_args(argv)
    quick = args.quick
    from local.emulator import free_port
    from local.provision import clients
    from local.stack import LocalStack

    report = Report()
    started = time.monotonic()
    report.guard("attacks", lambda: attacks(report))
    report.guard("order", lambda: order_independence(report))
    log_path = _log_to_file()
    local = LocalStack(api_port=free_port(), aws_port=free_port()).start()
    _log_to_file(log_path)  # importing the app set its loggers' levels again
    try:
        assert local.stack is not None
        aws = clients(local.aws_url, local.stack.names.region)
        aws["s3"].create_bucket(Bucket=DIRECT_BUCKET)
        print(f"local stack on {local.aws_url} (API {local.api_url})", flush=True)
        report.guard("delete", lambda: delete_during_ingest(report, local, aws, 20_000 if quick else args.rows))
        report.guard(
            "duplicates", lambda: repeated_duplicates(report, aws, 10 if quick else 50, 3 if quick else args.runs)
        )
        report.guard("idempotency", lambda: idempotency(report, local, aws, 10 if quick else 50, 3 if quick else 20))
        report.guard("faults", lambda: faults(report, aws, local.stack, 8 if quick else 40, 200 if quick else 2000))
        report.guard("load", lambda: load(report, local, aws, 40 if quick else 1000))
    finally:
        local.stop()
    report.guard("hostile", lambda: hostile_input(report, 200 if quick else 2000, 40 if quick else 300))
    report.guard("suites", lambda: suites(report))
    print()
    print(report.table())
    print(f"\nwhole run: {time.monotonic() - started:.0f} s")
    return 0 if all(f.ok is not False for f in report.figures) else 1


if __name__ == "__main__":
    sys.exit(main())
