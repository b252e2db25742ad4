"""Drive the app's event handlers the way Lambda's event sources do.

- S3 notifications land in a queue; each message is one S3 event, handed to
  the app's `on_s3_event` handler as Lambda would (keys still URL-encoded).
- The records queue is polled like an SQS event source mapping with
  ReportBatchItemFailures: batches up to the handler's batch size; when the
  handler returns, every message not named in `batchItemFailures` is deleted;
  when it raises (or names an unknown id) none is. Undeleted messages come back
  after the visibility timeout, and SQS moves them to the DLQ after
  maxReceiveCount.
- Each EventBridge rule targets a queue; its events go to the matching
  `on_cw_event` handler, one at a time, retried the same way.
- Each `schedule` handler is invoked on its rate with a "Scheduled Event"
  (DOCPIPE_LOCAL_SCHEDULE_SECONDS overrides the rate, for tests and demos).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

from chalice.app import Chalice, CloudWatchEventConfig, Rate, S3EventConfig, ScheduledEventConfig, SQSEventConfig
from chalice.local import LambdaContext

log = logging.getLogger("docpipe.pump")

Invoke = Callable[[dict[str, Any], Any], Any]


def lambda_context(name: str, timeout_seconds: int = 900) -> LambdaContext:
    return LambdaContext(function_name=name, memory_size=1024, max_runtime_ms=timeout_seconds * 1000)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message in the shape Lambda's event source mapping delivers it."""
    attrs = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attrs.get("SentTimestamp", "0"),
            "SenderId": attrs.get("SenderId", ""),
            "ApproximateFirstReceiveTimestamp": attrs.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """Which messages to keep, per Lambda's ReportBatchItemFailures rules."""
    if not isinstance(response, dict) or "batchItemFailures" not in response:
        return set()
    failures = response.get("batchItemFailures") or []
    ids = set()
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not ident or ident not in batch_ids:
            return set(batch_ids)  # a malformed response fails the whole batch
        ids.add(ident)
    return ids


class QueuePoller(threading.Thread):
    """Long-polls one queue and hands batches to `deliver`, which returns ids to keep."""

    def __init__(
        self,
        name: str,
        sqs: Any,
        queue_url: str,
        batch_size: int,
        deliver: Callable[[list[dict[str, Any]]], set[str]],
        stop: threading.Event,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._sqs = sqs
        self._url = queue_url
        self._batch = batch_size
        self._deliver = deliver
        self._halt = stop

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._poll_once()
            except Exception:
                if self._halt.is_set():
                    return
                log.exception("poller %s failed; retrying", self.name)
                self._halt.wait(1.0)

    def _poll_once(self) -> None:
        resp = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if not messages:
            return
        keep = self._deliver(messages)
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)


class Pump:
    """Starts one or more pollers per event source declared by the app."""

    def __init__(self, app: Chalice, module: Any, sqs: Any, stack: Any, concurrency: int = 4) -> None:
        self._app = app
        self._module = module
        self._sqs = sqs
        self._stack = stack
        self._concurrency = concurrency
        self._halt = threading.Event()
        self.threads: list[QueuePoller] = []
        self.timers: list[threading.Thread] = []
        self.invocations = 0
        self.errors = 0
        self._count_lock = threading.Lock()

    def _handler(self, handler_string: str) -> Invoke:
        fn: Invoke = getattr(self._module, handler_string.rsplit(".", 1)[-1])
        return fn

    def _invoke(self, name: str, fn: Invoke, event: dict[str, Any]) -> Any:
        with self._count_lock:
            self.invocations += 1
        try:
            return fn(event, lambda_context(name))
        except Exception as exc:
            with self._count_lock:
                self.errors += 1
            if self._halt.is_set():  # the stack is stopping: its event stays queued for the next start
                log.warning("handler %s was cut short by the stop (%s); its event will be retried", name, exc)
            else:
                log.exception("handler %s raised (the event will be retried)", name)
            raise

    def start(self) -> Pump:
        names = self._stack.names
        for source in self._app.event_sources:
            if isinstance(source, S3EventConfig):
                url = self._stack.queues[names.notifications_queue]
                deliver = self._per_message(source.name, self._handler(source.handler_string), _s3_event)
                self._add(source.name, url, 1, deliver, self._concurrency)
            elif isinstance(source, SQSEventConfig):
                url = self._stack.queues[source.queue]
                deliver = self._batch_delivery(source.name, self._handler(source.handler_string), url)
                # an event source's MaximumConcurrency caps its pollers, as it caps Lambda's
                pollers = source.maximum_concurrency or max(1, self._concurrency // 2)
                self._add(source.name, url, source.batch_size, deliver, pollers)
            elif isinstance(source, CloudWatchEventConfig):
                url = self._stack.rule_queues[source.name]
                deliver = self._per_message(source.name, self._handler(source.handler_string), _eventbridge_event)
                self._add(source.name, url, 1, deliver, 1)
            elif isinstance(source, ScheduledEventConfig):
                self.timers.append(self._timer(source))
        for thread in [*self.threads, *self.timers]:
            thread.start()
        return self

    def _timer(self, source: ScheduledEventConfig) -> threading.Thread:
        fn = self._handler(source.handler_string)
        interval = schedule_seconds(source.schedule_expression)

        def tick() -> None:
            while not self._halt.wait(interval):
                # a failure is logged by _invoke; the next tick tries again, as EventBridge Scheduler would
                with contextlib.suppress(Exception):
                    self._invoke(source.name, fn, scheduled_event(self._stack.names.region, source.name))

        return threading.Thread(target=tick, name=f"pump-{source.name}", daemon=True)

    def _add(
        self, name: str, url: str, batch: int, deliver: Callable[[list[dict[str, Any]]], set[str]], count: int
    ) -> None:
        for i in range(count):
            self.threads.append(QueuePoller(f"pump-{name}-{i}", self._sqs, url, batch, deliver, self._halt))

    def _per_message(
        self, name: str, fn: Invoke, parse: Callable[[str], Any]
    ) -> Callable[[list[dict[str, Any]]], set[str]]:
        def deliver(messages: list[dict[str, Any]]) -> set[str]:
            keep = set()
            for message in messages:
                event = parse(message["Body"])
                if event is None:
                    continue
                try:
                    self._invoke(name, fn, event)
                except Exception:
                    keep.add(message["MessageId"])
            return keep

        return deliver

    def _batch_delivery(self, name: str, fn: Invoke, url: str) -> Callable[[list[dict[str, Any]]], set[str]]:
        from local.provision import queue_arn

        arn = queue_arn(self._sqs, url)
        region = self._stack.names.region

        def deliver(messages: list[dict[str, Any]]) -> set[str]:
            ids = {m["MessageId"] for m in messages}
            event = {"Records": [sqs_record(m, arn, region) for m in messages]}
            try:
                response = self._invoke(name, fn, event)
            except Exception:
                return ids
            return failed_ids(response, ids)

        return deliver

    def stop(self, timeout: float = 60.0) -> list[str]:
        """Stop polling and wait (up to `timeout` in all) for the handlers in flight: the emulator they
        call must outlive them. Returns the threads still busy after that (logged)."""
        self._halt.set()
        deadline = time.monotonic() + timeout
        for thread in [*self.threads, *self.timers]:
            thread.join(max(0.0, deadline - time.monotonic()))
        busy = [t.name for t in [*self.threads, *self.timers] if t.is_alive()]
        if busy:
            log.warning("still handling an event after %.0f s, left behind: %s", timeout, ", ".join(busy))
        return busy


def _eventbridge_event(body: str) -> dict[str, Any]:
    """An EventBridge event as a rule's target receives it.

    The emulator leaves out `account`, which EventBridge always sends (and
    Chalice's CloudWatchEvent requires): it is filled with the emulator's
    account. S3 puts object keys into its EventBridge events URL-encoded, as in
    its notifications; the emulator sends them raw, so they are encoded here.
    """
    from urllib.parse import quote_plus

    from local.provision import ACCOUNT

    event: dict[str, Any] = json.loads(body)
    event.setdefault("account", ACCOUNT)
    event.setdefault("version", "0")
    event.setdefault("resources", [])
    obj = (event.get("detail") or {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(obj, dict) and isinstance(obj.get("key"), str):
        obj["key"] = quote_plus(obj["key"], safe="/")
    return event


def _s3_event(body: str) -> dict[str, Any] | None:
    """The notification body is the Lambda S3 event itself; test events are dropped."""
    event = json.loads(body)
    if event.get("Event") == "s3:TestEvent" or "Records" not in event:
        return None
    for record in event["Records"]:
        record.setdefault("userIdentity", {"principalId": "docpipe-local"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault("responseElements", {"x-amz-request-id": uuid.uuid4().hex[:16].upper()})
    return event


def schedule_seconds(expression: Any, env: dict[str, str] | None = None) -> float:
    """How often a schedule fires locally: DOCPIPE_LOCAL_SCHEDULE_SECONDS, else its own rate (cron: hourly)."""
    import os

    override = (env if env is not None else os.environ).get("DOCPIPE_LOCAL_SCHEDULE_SECONDS")
    if override:
        return max(0.1, float(override))
    if isinstance(expression, Rate):
        unit = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}[expression.unit]
        return float(expression.value * unit)
    return 3600.0


def scheduled_event(region: str, name: str) -> dict[str, Any]:
    """The event EventBridge Scheduler hands a scheduled Lambda."""
    from datetime import datetime

    from local.provision import ACCOUNT

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/docpipe-{name}"],
        "detail": {},
    }
