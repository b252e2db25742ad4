"""Counting what docpipe asks of AWS, call by call, through botocore's event hooks.

`Meter.attach(client)` registers on a boto3 client's event system:
`before-parameter-build` keeps each call's parameters (and, for a DynamoDB
write, the items as they were: read with a second client the meter does not
count), `after-call` / `after-call-error` record the request, the bytes S3
sent or received, EventBridge and SQS billing units, and DynamoDB capacity
units computed from item sizes and index projections (`bench.capacity`).

S3 reads that do not go through botocore — the ranged GETs of presigned URLs
that forked extraction children make with urllib — are counted by
`PresignedReads`, which wraps `urllib.request.urlopen` for URLs on the
emulator and keeps its tallies in shared memory, so a child's requests reach
the parent.

A `Tally` is what one document cost; the meter fills whichever tally is
current (`Meter.start()` / `Meter.stop()`).
"""

from __future__ import annotations

import copy
import ctypes
import json
import math
import multiprocessing
import re
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import Schema, item_size, read_units, write_cost

EVENT_CHUNK = 64 * 1024  # EventBridge bills each 64 KB chunk of an entry as one event
SQS_CHUNK = 64 * 1024  # SQS bills each 64 KB chunk of a request's payload as one request
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")
_urlopen = urllib.request.urlopen  # the meter's own calls, never counted
# attributes whose write cost is measured: each write is also costed as if its items had no such attribute
PROBED = ("search",)


@dataclass
class Tally:
    """Everything one document (or one step) asked of AWS."""

    requests: Counter[str] = field(default_factory=Counter)  # "s3:GetObject" -> n
    s3_read_bytes: int = 0
    s3_written_bytes: int = 0
    wcu: float = 0.0
    rcu: float = 0.0
    wcu_by: Counter[str] = field(default_factory=Counter)  # "table" or an index name -> units
    item_writes: Counter[str] = field(default_factory=Counter)  # item kind (DOC, ROW, MARK, ...) -> writes
    wcu_without: Counter[str] = field(default_factory=Counter)  # attribute -> units had items never held it
    wcu_steps: Counter[str] = field(default_factory=Counter)  # "UpdateItem DOC|by_owner" -> units (write, target)
    event_entries: int = 0
    events_billed: int = 0
    sqs_billed: int = 0

    def add(self, other: Tally) -> None:
        self.requests.update(other.requests)
        self.wcu_by.update(other.wcu_by)
        self.item_writes.update(other.item_writes)
        self.wcu_without.update(other.wcu_without)
        self.wcu_steps.update(other.wcu_steps)
        for name in ("s3_read_bytes", "s3_written_bytes", "wcu", "rcu", "event_entries", "events_billed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sqs_billed += other.sqs_billed

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "s3_read_bytes": self.s3_read_bytes,
            "s3_written_bytes": self.s3_written_bytes,
            "wcu": self.wcu,
            "rcu": self.rcu,
            "wcu_by": dict(self.wcu_by),
            "item_writes": dict(self.item_writes),
            "wcu_without": dict(self.wcu_without),
            "wcu_steps": dict(self.wcu_steps),
            "event_entries": self.event_entries,
            "events_billed": self.events_billed,
            "sqs_billed": self.sqs_billed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        tally = cls(
            requests=Counter(data["requests"]),
            wcu_by=Counter(data["wcu_by"]),
            item_writes=Counter(data["item_writes"]),
            wcu_without=Counter(data.get("wcu_without", {})),
            wcu_steps=Counter(data.get("wcu_steps", {})),
        )
        for name in ("s3_read_bytes", "s3_written_bytes", "wcu", "rcu", "event_entries", "events_billed"):
            setattr(tally, name, data[name])
        tally.sqs_billed = data["sqs_billed"]
        return tally


def item_kind(key: dict[str, Any]) -> str:
    """DOC, ROW, ROWERR, MARK or EVENT: the first part of an item's sort key."""
    sk = str((key.get("sk") or {}).get("S", ""))
    return sk.split("#", 1)[0] or "?"


class Meter:
    def __init__(self, endpoint: str, region: str, table: str) -> None:
        self.raw = self._peek = RawDynamo(endpoint, region)
        self._table = table
        self._schema: Schema | None = None
        self.current: Tally | None = None
        self.overhead = 0.0  # seconds while any of the meter's own hooks ran (taken out of every timing)
        self.cpu_overhead = 0.0  # CPU seconds of those hooks, all threads (taken out of every CPU figure)
        self._active = 0  # hooks running now (a thread pool's calls overlap: their time counts once)
        self._since = 0.0
        self._lock = threading.Lock()

    # -- wiring ----------------------------------------------------------------------
    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build", self._before)
        events.register("after-call", self._after)
        events.register("after-call-error", self._after_error)

    @contextmanager
    def counting(self, tally: Tally) -> Iterator[Tally]:
        previous, self.current = self.current, tally
        try:
            yield tally
        finally:
            self.current = previous

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = Schema.from_description(self._peek.call("DescribeTable", TableName=self._table)["Table"])
        return self._schema

    def refresh_schema(self) -> None:
        self._schema = None

    # -- hooks ---------------------------------------------------------------------------
    def _enter(self) -> float:
        with self._lock:
            if not self._active:
                self._since = time.perf_counter()
            self._active += 1
        return time.thread_time()

    def _leave(self, cpu: float) -> None:
        used = time.thread_time() - cpu
        with self._lock:
            self.cpu_overhead += used
            self._active -= 1
            if not self._active:
                self.overhead += time.perf_counter() - self._since

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.current is None:
            return
        cpu = self._enter()
        try:
            self._remember(params, model, context)
        finally:
            self._leave(cpu)

    def _remember(self, params: dict[str, Any], model: Any, context: dict[str, Any]) -> None:
        service = model.service_model.service_name
        entry: dict[str, Any] = {
            "tally": self.current,
            "params": copy.deepcopy(params),
            "operation": f"{service}:{model.name}",
        }
        if service == "dynamodb":
            entry["before"] = self._images_before(model.name, params)
        context["bench_meter"] = entry

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        entry = context.pop("bench_meter", None)
        if entry is None:
            return
        cpu = self._enter()
        try:
            self._record(entry, http_response, parsed, model)
        finally:
            self._leave(cpu)

    def _record(self, entry: dict[str, Any], http_response: Any, parsed: dict[str, Any], model: Any) -> None:
        tally: Tally = entry["tally"]
        service, operation = model.service_model.service_name, model.name
        tally.requests[f"{service}:{operation}"] += 1
        ok = http_response.status_code < 300
        params = entry["params"]
        if service == "s3":
            self._s3(tally, operation, params, parsed, ok)
        elif service == "dynamodb":
            self._dynamodb(tally, operation, params, parsed, entry.get("before"), ok)
        elif service == "events" and operation == "PutEvents":
            tally.event_entries += len(params.get("Entries", []))
            tally.events_billed += sum(math.ceil(max(1, _entry_bytes(e)) / EVENT_CHUNK) for e in params["Entries"])
        elif service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
            bodies = params.get("Entries") or [params]
            payload = sum(len(json.dumps(b.get("MessageAttributes") or {})) + len(b["MessageBody"]) for b in bodies)
            tally.sqs_billed += max(1, math.ceil(payload / SQS_CHUNK))
        elif service == "sqs":
            tally.sqs_billed += 1

    def _after_error(self, context: dict[str, Any], **_: Any) -> None:
        entry = context.pop("bench_meter", None)
        if entry is not None:
            entry["tally"].requests[entry["operation"]] += 1

    # -- S3 ----------------------------------------------------------------------------------
    @staticmethod
    def _s3(tally: Tally, operation: str, params: dict[str, Any], parsed: dict[str, Any], ok: bool) -> None:
        if operation == "GetObject" and ok:
            tally.s3_read_bytes += int(parsed.get("ContentLength") or 0)
        if operation == "PutObject":
            body = params.get("Body")
            tally.s3_written_bytes += len(body) if isinstance(body, (bytes, bytearray, str)) else 0

    # -- DynamoDB -------------------------------------------------------------------------
    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._peek.get_item(self._table, key)

    def _key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.schema.table_keys}

    def _images_before(self, operation: str, params: dict[str, Any]) -> Any:
        if operation in _WRITES:
            key = params.get("Key") or self._key_of(params["Item"])
            return self._get(key)
        if operation == "BatchWriteItem":
            requests = params.get("RequestItems", {}).get(self._table, [])
            keys = [
                r["DeleteRequest"]["Key"] if "DeleteRequest" in r else self._key_of(r["PutRequest"]["Item"])
                for r in requests
            ]
            return [self._get(k) for k in keys]
        return None

    def _dynamodb(
        self, tally: Tally, operation: str, params: dict[str, Any], parsed: dict[str, Any], before: Any, ok: bool
    ) -> None:
        if operation in _WRITES:
            key = params.get("Key") or self._key_of(params["Item"])
            after = None if operation == "DeleteItem" or not ok else self._get(key)
            if not ok:
                after = before
            self._charge_write(tally, key, before, after, ok, operation)
        elif operation == "BatchWriteItem" and ok:
            self._batch_write(tally, params, parsed, before or [])
        elif operation == "GetItem":
            full = self._get(params["Key"]) if "ProjectionExpression" in params else parsed.get("Item")
            tally.rcu += read_units([item_size(full)], bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            self._batch_get(tally, params, parsed)
        elif operation in ("Query", "Scan") and ok:
            tally.rcu += read_units(self._evaluated(operation, params, parsed), bool(params.get("ConsistentRead")))

    def _charge_write(
        self, tally: Tally, key: dict[str, Any], before: Any, after: Any, ok: bool, operation: str
    ) -> None:
        cost = write_cost(self.schema, before, after, succeeded=ok)
        tally.wcu += cost.total
        tally.wcu_by["table"] += cost.table
        tally.wcu_by.update(cost.indexes)
        kind = item_kind(key)
        tally.item_writes[kind] += 1
        status = ((after or {}).get("status") or {}).get("S")
        step = f"{operation} {kind}" + (f" -> {status}" if status and ok else "")
        step += "" if ok else " (condition failed)"
        tally.wcu_steps[f"{step}|writes"] += 1
        tally.wcu_steps[f"{step}|table"] += cost.table
        for index, spent in cost.indexes.items():
            tally.wcu_steps[f"{step}|{index}"] += spent
        for name in PROBED:
            tally.wcu_without[name] += write_cost(self.schema, _without(before, name), _without(after, name), ok).total

    def _batch_write(self, tally: Tally, params: dict[str, Any], parsed: dict[str, Any], before: list[Any]) -> None:
        requests = params.get("RequestItems", {}).get(self._table, [])
        unprocessed = [json.dumps(r, sort_keys=True) for r in parsed.get("UnprocessedItems", {}).get(self._table, [])]
        for request, old in zip(requests, before, strict=True):
            if json.dumps(request, sort_keys=True) in unprocessed:
                continue
            if "PutRequest" in request:
                item = request["PutRequest"]["Item"]
                self._charge_write(tally, self._key_of(item), old, item, True, "BatchWriteItem put")
            else:
                self._charge_write(tally, request["DeleteRequest"]["Key"], old, None, True, "BatchWriteItem delete")

    def _batch_get(self, tally: Tally, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        asked = params.get("RequestItems", {}).get(self._table, {})
        keys = asked.get("Keys", [])
        sizes = [item_size(self._get(k)) for k in keys]
        tally.rcu += read_units(sizes, bool(asked.get("ConsistentRead")), each=True)

    def _evaluated(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> list[int]:
        """Sizes of the entries a Query/Scan read before its filter: the same request again, unfiltered."""
        scanned = int(parsed.get("ScannedCount") or 0)
        if scanned == 0:
            return []
        again: dict[str, Any] = {
            k: params[k]
            for k in ("TableName", "IndexName", "ExclusiveStartKey", "ScanIndexForward", "ConsistentRead")
            if k in params
        }
        condition = params.get("KeyConditionExpression")
        if condition:
            again["KeyConditionExpression"] = condition
            used = set(_PLACEHOLDER.findall(condition))
            names = {k: v for k, v in (params.get("ExpressionAttributeNames") or {}).items() if k in used}
            values = {k: v for k, v in (params.get("ExpressionAttributeValues") or {}).items() if k in used}
            if names:
                again["ExpressionAttributeNames"] = names
            if values:
                again["ExpressionAttributeValues"] = values
        again["Limit"] = scanned
        items = self._peek.call(operation, **again).get("Items", [])
        if "IndexName" in params:
            index = self.schema.index(params["IndexName"])
            items = [index.entry(i, self.schema.table_keys) for i in items]
        return [item_size(i) for i in items]


class RawDynamo:
    """DynamoDB calls the meter makes for itself, uncounted, read as plain JSON.

    Not through botocore: the emulator answers items holding an empty map key
    with JSON botocore cannot parse, and the bench must still size them.
    """

    def __init__(self, endpoint: str, region: str) -> None:
        self._endpoint = endpoint
        self._scope = f"docpipe-bench/20260101/{region}/dynamodb/aws4_request"

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            self._endpoint,
            data=json.dumps(params).encode(),
            headers={
                "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={self._scope}, SignedHeaders=host, Signature=0",
            },
        )
        with _urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.loads(response.read())
        for name in ("Item", "Items"):
            if name in answer:
                answer[name] = _repaired_items(answer[name])
        return answer

    def get_item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.call("GetItem", TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item


def _repaired_items(found: Any) -> Any:
    if isinstance(found, list):
        return [_repaired_items(i) for i in found]
    return {k: _repaired(v) for k, v in found.items()}


def _repaired(value: Any) -> Any:
    """An attribute value as DynamoDB would hold it; a malformed emulator answer counts as a string."""
    if not isinstance(value, dict) or len(value) != 1:
        return {"S": json.dumps(value)}
    ((kind, inner),) = value.items()
    if kind == "M" and isinstance(inner, dict):
        return {"M": {k: _repaired(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_repaired(v) for v in inner]}
    if kind in ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"):
        return value
    return {"S": json.dumps(value)}


def _without(item: Any, name: str) -> Any:
    return {k: v for k, v in item.items() if k != name} if item else item


def _entry_bytes(entry: dict[str, Any]) -> int:
    """An EventBridge entry's billed size: source, detail type, detail, resources (and 14 bytes for a time)."""
    parts = [entry.get("Source", ""), entry.get("DetailType", ""), entry.get("Detail", "")]
    parts += list(entry.get("Resources") or [])
    return sum(len(str(p).encode()) for p in parts) + (14 if "Time" in entry else 0)


class PresignedReads:
    """Counts GETs made with urllib on a bucket's URLs, in this process and in forked children."""

    def __init__(self, endpoint: str, bucket: str) -> None:
        self._prefix = f"{endpoint}/{bucket}/"
        self._counts = multiprocessing.RawArray(ctypes.c_longlong, 2)  # requests, bytes
        self._lock = multiprocessing.Lock()
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        original = self._original = urllib.request.urlopen

        def counted(url: Any, *args: Any, **kwargs: Any) -> Any:
            target = url.full_url if isinstance(url, urllib.request.Request) else str(url)
            if not target.startswith(self._prefix):
                return original(url, *args, **kwargs)
            try:
                response = original(url, *args, **kwargs)
            except Exception:
                self._bump(0)
                raise
            self._bump(int(response.headers.get("Content-Length") or 0))
            return response

        urllib.request.urlopen = counted

    def uninstall(self) -> None:
        if self._original is not None:
            urllib.request.urlopen = self._original
            self._original = None

    def _bump(self, size: int) -> None:
        with self._lock:
            self._counts[0] += 1
            self._counts[1] += size

    def read(self) -> tuple[int, int]:
        with self._lock:
            return int(self._counts[0]), int(self._counts[1])
