"""Deterministic fault injection into the app's own AWS clients and ranged reads.

Nothing in the app is edited: faults are botocore event handlers registered on
the clients `chalicelib.wiring` created, and a wrapper around
`chalicelib.aws.storage._ranged_get` (the presigned ranged GETs that the forked
extraction child makes). Every injector follows a `FaultPlan`: a seeded RNG
decides which calls fail, `max_faults` bounds the total, and `max_in_a_row`
bounds how many attempts of one call fail (botocore's retry attempt number,
or a per-range count for ranged reads), so a plan below the client's retry
budget must be absorbed without loss, and a plan above it must be recovered
by redelivery.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import threading
import urllib.error
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass(frozen=True)
class FaultPlan:
    seed: int = 10
    rate: float = 0.3
    """Probability that a call (first attempt) is chosen for a fault."""
    max_faults: int = 50
    """Faults injected in all, at most."""
    max_in_a_row: int = 2
    """Attempts of one call that fail, at most (botocore's standard mode makes 5 attempts)."""


@dataclass
class FaultLog:
    """What an injector did: calls seen, faults injected by kind, highest attempt number seen."""

    calls: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    max_attempt: int = 0

    @property
    def total(self) -> int:
        return sum(self.injected.values())


class _Body:
    """The `raw` of a botocore AWSResponse: something with stream()."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _aws_response(url: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse(url, status, headers, _Body(body))


THROTTLES = ("ThrottlingException", "ProvisionedThroughputExceededException")


def dynamodb_throttle(url: str, n: int) -> Any:
    code = THROTTLES[n % 2]
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"})
    return _aws_response(
        url, 400, {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}, body.encode()
    )


def s3_internal_error(url: str, n: int) -> Any:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
        b"<Message>We encountered an internal error. Please try again.</Message></Error>"
    )
    return _aws_response(url, 500, {"Content-Type": "application/xml"}, body)


def read_timeout(url: str, n: int) -> Any:
    from botocore.exceptions import ReadTimeoutError

    raise ReadTimeoutError(endpoint_url=url)


class BotoFaults:
    """Fails chosen attempts of a client's operations before they are sent (so nothing reaches the emulator).

    `responders` are tried in turn for each fault: a function of (url, n) that
    returns a fake AWSResponse or raises a transport error.
    """

    def __init__(
        self,
        client: Any,
        plan: FaultPlan,
        responders: tuple[Callable[[str, int], Any], ...],
        operations: frozenset[str] | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> None:
        self._client = client
        self._match = match
        self._plan = plan
        self._responders = responders
        self._operations = operations
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._chosen: set[str] = set()
        self.log = FaultLog()
        self._event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"

    def _hook(self, request: Any, event_name: str = "", **_: Any) -> Any:
        name = str(event_name).rsplit(".", 1)[-1]
        if self._operations is not None and name not in self._operations:
            return None
        if self._match is not None and not self._match(request):
            return None
        retries = request.context.setdefault("retries", {})
        attempt = int(retries.get("attempt", 1))
        call = retries.setdefault("invocation-id", str(id(request.context)))
        with self._lock:
            self.log.calls += attempt == 1
            self.log.max_attempt = max(self.log.max_attempt, attempt)
            if attempt == 1 and self._rng.random() < self._plan.rate and self.log.total < self._plan.max_faults:
                self._chosen.add(call)
            if call not in self._chosen or attempt > self._plan.max_in_a_row or self.log.total >= self._plan.max_faults:
                return None
            n = self.log.total
            responder = self._responders[n % len(self._responders)]
            self.log.injected[responder.__name__] += 1
        return responder(request.url, n)

    @contextmanager
    def active(self) -> Iterator[BotoFaults]:
        self._client.meta.events.register_first(self._event, self._hook, unique_id=f"faults-{id(self)}")
        try:
            yield self
        finally:
            self._client.meta.events.unregister(self._event, unique_id=f"faults-{id(self)}")


class UnprocessedItems:
    """BatchWriteItem answers as DynamoDB does under pressure: some requests come back unprocessed.

    The chosen requests are removed before the call is sent and returned in
    `UnprocessedItems`, so the caller must resend exactly those.
    """

    def __init__(self, client: Any, plan: FaultPlan) -> None:
        self._client = client
        self._plan = plan
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self.log = FaultLog()

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.log.calls += 1
            if self.log.total >= self._plan.max_faults or self._rng.random() >= self._plan.rate:
                return
            held: dict[str, list[Any]] = {}
            for table, requests in params.get("RequestItems", {}).items():
                if len(requests) < 2:
                    continue
                count = self._rng.randint(1, len(requests) - 1)
                held[table], params["RequestItems"][table] = requests[:count], requests[count:]
                self.log.injected["unprocessed_items"] += count
            context["docpipe_unprocessed"] = held

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held = context.pop("docpipe_unprocessed", None)
        if held:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            for table, requests in held.items():
                unprocessed.setdefault(table, []).extend(requests)

    @contextmanager
    def active(self) -> Iterator[UnprocessedItems]:
        events = self._client.meta.events
        uid = f"unprocessed-{id(self)}"
        events.register("provide-client-params.dynamodb.BatchWriteItem", self._before, unique_id=uid + "-b")
        events.register("after-call.dynamodb.BatchWriteItem", self._after, unique_id=uid + "-a")
        try:
            yield self
        finally:
            events.unregister("provide-client-params.dynamodb.BatchWriteItem", unique_id=uid + "-b")
            events.unregister("after-call.dynamodb.BatchWriteItem", unique_id=uid + "-a")


class Crash(BaseException):
    """What a Lambda timeout or an out-of-memory kill looks like to the code it stops: nothing catches it."""


class FailOnce:
    """Raises `error()` on the first `times` calls of one operation whose request body `match`es, before sending.

    It stands for a call whose retries were all used up: botocore raises the
    last error to the caller, which is what the code under test sees.
    """

    def __init__(
        self,
        client: Any,
        operation: str,
        error: Callable[[], BaseException],
        match: Callable[[str], bool] | None = None,
        times: int = 1,
    ) -> None:
        self._client = client
        self._operation = operation
        self._error = error
        self._match = match
        self._left = times
        self._lock = threading.Lock()
        self.raised = 0

    def _hook(self, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        if self._match is not None and not self._match(text):
            return
        with self._lock:
            if self._left <= 0:
                return
            self._left -= 1
            self.raised += 1
        raise self._error()

    @contextmanager
    def active(self) -> Iterator[FailOnce]:
        service = self._client.meta.service_model.service_id.hyphenize()
        event = f"before-call.{service}.{self._operation}"
        self._client.meta.events.register_first(event, self._hook, unique_id=f"fail-{id(self)}")
        try:
            yield self
        finally:
            self._client.meta.events.unregister(event, unique_id=f"fail-{id(self)}")


def throttled(operation: str) -> Callable[[], BaseException]:
    def error() -> BaseException:
        from botocore.exceptions import ClientError

        body = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
        return ClientError(body, operation)

    return error


class CrashOnce:
    """Raises `Crash` on the first `times` calls of one operation, before anything is sent."""

    def __init__(self, client: Any, operation: str, times: int = 1) -> None:
        self._client = client
        self._operation = operation
        self._left = times
        self._lock = threading.Lock()
        self.crashes = 0

    def _hook(self, **_: Any) -> None:
        with self._lock:
            if self._left <= 0:
                return
            self._left -= 1
            self.crashes += 1
        raise Crash(f"killed during {self._operation}")

    @contextmanager
    def active(self) -> Iterator[CrashOnce]:
        service = self._client.meta.service_model.service_id.hyphenize()
        event = f"before-call.{service}.{self._operation}"
        self._client.meta.events.register_first(event, self._hook, unique_id=f"crash-{id(self)}")
        try:
            yield self
        finally:
            self._client.meta.events.unregister(event, unique_id=f"crash-{id(self)}")


class _Ledger:
    """Bounded counters shared with forked children: one file per unit taken (O_EXCL makes taking atomic)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def take(self, name: str, limit: int) -> bool:
        for i in range(limit):
            try:
                os.close(os.open(os.path.join(self.directory, f"{name}.{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return True
            except FileExistsError:
                continue
        return False

    def count(self, name: str) -> int:
        return sum(1 for f in os.listdir(self.directory) if f.startswith(name + "."))


class RangedReadFaults:
    """HTTP 500s and timeouts on the presigned ranged GETs of the extraction child.

    A range (object path + start) is chosen by a hash of the seed, so the
    choice is the same in every forked child; how often it has failed is
    kept on disk, so `max_in_a_row` holds across processes and retries.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._dir = tempfile.mkdtemp(prefix="docpipe-faults-")
        self._ledger = _Ledger(self._dir)

    def _chosen(self, url: str, start: int) -> bool:
        path = url.split("?", 1)[0]
        digest = hashlib.sha256(f"{self._plan.seed}:{path}:{start}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self._plan.rate

    def wrap(self, real: Callable[..., Callable[[int, int], bytes]]) -> Callable[..., Callable[[int, int], bytes]]:
        def ranged_get(url: str, etag: str | None, *args: Any, **kwargs: Any) -> Callable[[int, int], bytes]:
            fetch = real(url, etag, *args, **kwargs)

            def faulty(start: int, end: int) -> bytes:
                token = hashlib.sha256(f"{url.split('?', 1)[0]}:{start}".encode()).hexdigest()[:16]
                if (
                    self._chosen(url, start)
                    and self._ledger.take(f"range-{token}", self._plan.max_in_a_row)
                    and self._ledger.take("total", self._plan.max_faults)
                ):
                    n = self._ledger.count("total")
                    if n % 2:
                        raise urllib.error.HTTPError(url, 500, "Internal Server Error", Message(), None)
                    raise TimeoutError("The read operation timed out")
                return fetch(start, end)

            return faulty

        return ranged_get

    @property
    def injected(self) -> int:
        return self._ledger.count("total")

    @contextmanager
    def active(self) -> Iterator[RangedReadFaults]:
        import chalicelib.aws.storage as storage

        real = storage._ranged_get
        storage._ranged_get = self.wrap(real)
        try:
            yield self
        finally:
            storage._ranged_get = real
