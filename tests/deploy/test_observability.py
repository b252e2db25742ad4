"""JSON log lines carry the request and document ids; EMF documents are what CloudWatch parses."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

from bench.cost import monthly
from chalicelib import observability


def test_json_log_lines_carry_the_request_id_document_id_and_extra_fields():
    out = io.StringIO()
    observability.setup_logging(stream=out, force_json=True)
    try:
        with observability.invocation(SimpleNamespace(aws_request_id="req-1"), doc_id="d" * 32):
            logging.getLogger("docpipe.ingest").info("document processed", extra={"family": "pdf"})
        logging.getLogger("docpipe.ingest").info("after")
    finally:
        observability.setup_logging(force_json=False)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "document processed" and first["level"] == "INFO"
    assert (first["request_id"], first["doc_id"], first["family"]) == ("req-1", "d" * 32, "pdf")
    assert "request_id" not in second and "doc_id" not in second


def test_exceptions_are_logged_as_one_json_line():
    out = io.StringIO()
    observability.setup_logging(stream=out, force_json=True)
    try:
        try:
            raise ValueError("bad <input>")
        except ValueError:
            logging.getLogger("docpipe").exception("failed")
    finally:
        observability.setup_logging(force_json=False)
    (line,) = out.getvalue().splitlines()
    assert "ValueError: bad <input>" in json.loads(line)["exception"]


def test_file_metrics_are_emf_documents_with_one_stage_dimension_and_the_family_as_a_field(monkeypatch):
    monkeypatch.setenv("DOCPIPE_STAGE", "prod")
    out = io.StringIO()
    doc = observability.file_processed("pdf", 812.5, stream=out)
    assert json.loads(out.getvalue()) == doc
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "docpipe"
    assert directive["Dimensions"] == [["Stage"]]  # one billed metric each, whatever the family
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "FilesProcessed": "Count",
        "ExtractionDuration": "Milliseconds",
    }
    values = (doc["Stage"], doc["Family"], doc["FilesProcessed"], doc["ExtractionDuration"])
    assert values == ("prod", "pdf", 1.0, 812.5)


def test_failed_files_and_ingested_rows_are_counted():
    failed = observability.file_failed(None, "corrupt", stream=io.StringIO())
    assert (failed["Family"], failed["Reason"], failed["FilesFailed"]) == ("unknown", "corrupt", 1.0)
    rows = observability.rows_ingested(500, stream=io.StringIO())
    assert rows["RowsIngested"] == 500.0


def test_the_billed_metric_count_does_not_grow_with_families_or_failure_reasons():
    docs = [observability.file_processed(f, 10.0, stream=io.StringIO()) for f in ("pdf", "image", "media")]
    docs += [
        observability.file_failed(f, r, stream=io.StringIO()) for f, r in (("pdf", "corrupt"), ("image", "timeout"))
    ]
    docs.append(observability.rows_ingested(5, stream=io.StringIO()))
    combos = {
        (metric["Name"], tuple((d, doc[d]) for d in dims))
        for doc in docs
        for directive in doc["_aws"]["CloudWatchMetrics"]
        for dims in directive["Dimensions"]
        for metric in directive["Metrics"]
    }
    assert len(combos) == 4  # FilesProcessed, ExtractionDuration, FilesFailed, RowsIngested, each by Stage
    assert {doc.get("Family") for doc in docs[:5]} == {"pdf", "image", "media"}  # still in the line for Logs Insights


def test_json_logs_are_on_for_lambda_and_off_locally_unless_asked():
    assert observability.json_enabled({"AWS_LAMBDA_FUNCTION_NAME": "docpipe-prod"})
    assert not observability.json_enabled({})
    assert observability.json_enabled({"DOCPIPE_LOG_JSON": "1"})
    assert not observability.json_enabled({"AWS_LAMBDA_FUNCTION_NAME": "x", "DOCPIPE_LOG_JSON": "0"})


def test_the_cost_model_grows_with_volume_and_keeps_fixed_costs():
    per_doc = {
        "lambda_requests": 5, "lambda_gb_s": 0.5, "apigw_requests": 4, "wru": 12, "rru": 3, "ddb_bytes": 3000,
        "s3_put_class": 2, "s3_get_class": 4, "s3_bytes": 150_000, "s3_transitions": 0.3, "events": 1, "sqs": 0,
        "log_bytes": 3000,
    }  # fmt: skip
    fixed = {"custom_metrics": 4, "alarms": 16, "secrets": 1, "sweep": {"ms": 40.0, "rru": 1.0}}
    small, large = monthly(10_000, per_doc, fixed), monthly(1_000_000, per_doc, fixed)
    assert sum(large.values()) > sum(small.values())
    assert large["DynamoDB writes"] == small["DynamoDB writes"] * 100
    assert large["Secrets Manager"] == small["Secrets Manager"] > 0
    assert large["CloudWatch metrics"] == small["CloudWatch metrics"] == 4 * 0.30
