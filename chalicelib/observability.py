"""Structured JSON logs and CloudWatch embedded-metric-format (EMF) metrics.

On Lambda every line a function prints lands in CloudWatch Logs; a JSON line
is searchable field by field (Logs Insights), and a JSON line carrying an
`_aws` block is also turned into CloudWatch metrics, with no API call and no
extra permission. This module does both with the standard library only
(cold start matters more than a logging framework).

    setup_logging()                      once, at import of app.py
    with invocation(context, doc_id=...) every log line inside carries the ids
    file_processed("pdf", 812.5)         metrics: FilesProcessed, ExtractionDuration
    file_failed("pdf", "corrupt")        metric: FilesFailed
    rows_ingested(500)                   metric: RowsIngested

Every metric has one dimension, Stage: each metric x dimension-value
combination is a billed custom metric, and the alarms watch the stage total.
Family and Reason ride along in the same JSON line as plain fields, so
CloudWatch Logs Insights still breaks the counts down by them for free
(`stats sum(FilesFailed) by Reason`).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TextIO

from chalicelib.config import Settings

NAMESPACE = "docpipe"
_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "docpipe_log_context", default=MappingProxyType({})
)
# LogRecord attributes that are not user-supplied `extra` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: level, logger, message, the bound ids and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_CONTEXT.get())
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_enabled(env: Mapping[str, str] | None = None) -> bool:
    """JSON lines on Lambda, plain text elsewhere, unless DOCPIPE_LOG_JSON says otherwise (see `Settings`)."""
    return Settings.from_env(env).log_json


def setup_logging(level: int = logging.INFO, stream: TextIO | None = None, force_json: bool | None = None) -> None:
    """Send the `docpipe` loggers through one handler: JSON on Lambda, plain text elsewhere. Idempotent."""
    logger = logging.getLogger("docpipe")
    logger.setLevel(level)
    use_json = json_enabled() if force_json is None else force_json
    for handler in list(logger.handlers):
        if getattr(handler, "_docpipe", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler._docpipe = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = not use_json  # Lambda's root handler would print every JSON line a second time


def traced(handler: Any) -> Any:
    """Wrap a Chalice event handler: its log lines carry the Lambda request id."""

    @functools.wraps(handler)
    def wrapper(event: Any) -> Any:
        with invocation(getattr(event, "context", None)):
            return handler(event)

    return wrapper


@contextmanager
def invocation(context: Any = None, **ids: str | None) -> Iterator[None]:
    """Bind the Lambda request id (from the context object) and any ids (doc_id=...) to every log line."""
    bound = dict(_CONTEXT.get())
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        bound["request_id"] = str(request_id)
    bound.update({k: str(v) for k, v in ids.items() if v is not None})
    token = _CONTEXT.set(bound)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def emf(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    dimension_sets: list[list[str]] | None = None,
    stream: TextIO | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Print one EMF document (metrics: name -> (value, unit)) and return it.

    Without an explicit stream it prints only where logs are JSON (on Lambda,
    or DOCPIPE_LOG_JSON=1): elsewhere the document is built and returned only.
    """
    sets = dimension_sets or [sorted(dimensions)]
    for dims in sets:
        missing = set(dims) - set(dimensions)
        if missing:
            raise ValueError(f"dimension set names undefined dimensions: {sorted(missing)}")
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
        **_CONTEXT.get(),
    }
    if stream is not None or json_enabled():
        print(json.dumps(doc, default=str), file=stream or sys.stdout, flush=True)
    return doc


def _stage() -> str:
    return Settings.from_env().stage


def file_processed(family: str | None, duration_ms: float, stream: TextIO | None = None) -> dict[str, Any]:
    fields = {"Stage": _stage(), "Family": family or "unknown"}
    metrics = {"FilesProcessed": (1.0, "Count"), "ExtractionDuration": (round(duration_ms, 3), "Milliseconds")}
    return emf(metrics, fields, [["Stage"]], stream)


def file_failed(family: str | None, code: str, stream: TextIO | None = None) -> dict[str, Any]:
    fields = {"Stage": _stage(), "Family": family or "unknown", "Reason": code}
    return emf({"FilesFailed": (1.0, "Count")}, fields, [["Stage"]], stream)


def rows_ingested(count: int, stream: TextIO | None = None) -> dict[str, Any]:
    return emf({"RowsIngested": (float(count), "Count")}, {"Stage": _stage()}, [["Stage"]], stream)
