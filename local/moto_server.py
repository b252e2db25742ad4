"""The emulator process: `moto.server`, made faithful to AWS where docpipe depends on it.

    python -m local.moto_server -H 127.0.0.1 -p 4566      (what `local.emulator.Emulator` runs)

- Step Functions: `local.sfn_shim` (ItemBatcher, tolerated failures, the full
  S3 listing, ResultWriter parameters).
- S3 browser uploads checked against their signed POST policy, and the
  process ending with its parent: `local.emulator_fidelity`.
- DynamoDB: on AWS every request sees and leaves each item whole (a
  conditional update is checked and applied as one step, a read never sees
  half an update). moto applies an update's actions to the stored item one by
  one, without a lock, so two concurrent conditional writes could both
  succeed, two ADDs could lose one, and a read could catch an item created by
  an update before its attributes are set. Its DynamoDB requests are handled
  one at a time here (stricter than AWS, never weaker).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate

- Memory: moto keeps every model object it ever creates in a class-level
  list (`instances_tracked`, for its `/moto-api/data.json` dashboard), and
  builds a new DynamoDB `Item` for every item a Query, Scan or update touches,
  so the emulator grew by gigabytes in a long run (10,000 backfilled objects:
  3.4 GB at 2,600 and climbing faster than linearly, 420,000 tracked items for
  a table of 2,600). Here nothing is tracked: objects live as long as the
  backend holds them, as the data on AWS does. The dashboard is not used.

- Time: moto's DynamoDB answers every Query by sorting the whole table and
  walking all of it (`Table.all_items`), and deep-copies the whole table before
  each TransactWriteItems so that it can roll back. Each request then costs in
  proportion to the table, not to what it reads or writes: a 10,000-object
  backfill slowed from ~200 to ~50 objects a minute as the table grew. That is
  the emulator's cost, not AWS's: on AWS a Query reads one partition of the
  table or index, in sort-key order, and a transaction costs what its items
  cost. Here a Query is given only its partition's items (moto's own
  per-hash-key dict for the table; for a secondary index, an index by
  partition kept in step with every write), and a transaction keeps copies of
  only the items it names, put back if it is cancelled. moto itself still
  orders, filters, pages, limits and projects those items, so answers are
  unchanged (tests/integration/test_emulator_dynamodb_partitions.py).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html

It also counts the requests it serves, by caller (the emulator's own state
machine interpreter signs with the access key "ak"; everything else is the
app), service and operation: GET /docpipe-emulator/requests returns the
counts, DELETE resets them (benches read them to count requests).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import json
import os
import re
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from local import emulator_fidelity, sfn_shim

_dynamodb_lock = threading.RLock()


def serialize_dynamodb() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_docpipe_serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    call_action._docpipe_serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def untrack_models() -> None:
    """Stop moto from keeping a reference to every model object it creates (see the module docstring)."""
    from moto.core.common_models import BaseModel

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign]


Key = tuple[Any, Any]  # a stored item's (hash key, range key or None), as moto's DynamoTypes
_PARTITIONS = "_docpipe_partitions"  # a moto Table's {index name: Partitions}, built on its first Query
_KEY_TYPES = frozenset({"S", "N", "B"})  # the only types a key attribute can have


@dataclasses.dataclass
class Partitions:
    """A secondary index's partitions: the table keys of the items in each, and the partition of each item."""

    hash_attrs: tuple[str, ...]
    members: dict[tuple[Any, ...], dict[Key, None]] = dataclasses.field(default_factory=dict)
    partition_of: dict[Key, tuple[Any, ...]] = dataclasses.field(default_factory=dict)

    def place(self, key: Key, item: Any) -> None:
        """File the item now stored under `key` (None: deleted) in its partition, out of its former one."""
        former = self.partition_of.pop(key, None)
        if former is not None:
            self.members[former].pop(key, None)
            if not self.members[former]:
                del self.members[former]
        values = tuple(item.attrs.get(name) for name in self.hash_attrs) if item is not None else ()
        if values and all(v is not None and v.type in _KEY_TYPES for v in values):
            self.partition_of[key] = values
            self.members.setdefault(values, {})[key] = None


def _stored(table: Any, key: Key) -> Any:
    """The item stored under `key`, or None (moto keeps {hash: item} or {hash: {range: item}})."""
    from moto.dynamodb.models.dynamo_type import Item

    found = table.items.get(key[0])
    if table.range_key_attr is not None:
        found = found.get(key[1]) if isinstance(found, dict) else None
    return found if isinstance(found, Item) else None


def _all_stored(table: Any) -> Iterator[tuple[Key, Any]]:
    for hash_key, stored in list(table.items.items()):
        if isinstance(stored, dict):
            yield from (((hash_key, range_key), item) for range_key, item in list(stored.items()))
        else:
            yield (hash_key, None), stored


def _refile(table: Any, key: Key) -> None:
    """Keep every partition index of the table in step with what is now stored under `key`."""
    for partitions in getattr(table, _PARTITIONS, {}).values():
        partitions.place(key, _stored(table, key))


def _index_partitions(table: Any, index: Any) -> Partitions:
    hash_attrs = tuple(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    built: dict[str, Partitions] = table.__dict__.setdefault(_PARTITIONS, {})
    partitions = built.get(index.name)
    if partitions is None or partitions.hash_attrs != hash_attrs:  # first Query, or index re-created
        partitions = built[index.name] = Partitions(hash_attrs)
        for key, item in _all_stored(table):
            partitions.place(key, item)
    return partitions


def _partition_items(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any] | None:
    """The items of the partition a Query names (None: leave the Query to moto's whole-table walk)."""
    if not index_name:
        if hash_key is None:
            return None
        stored = table.items.get(hash_key)
        return list(stored.values()) if isinstance(stored, dict) else [stored] if stored is not None else []
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None:
        return None  # moto answers with its own error
    partitions = _index_partitions(table, index)
    wanted = dict(conditions or [])
    if set(wanted) != set(partitions.hash_attrs):
        return None
    keys = partitions.members.get(tuple(wanted[name] for name in partitions.hash_attrs), {})
    return [item for item in (_stored(table, key) for key in keys) if item is not None]


class _TablesKept:
    """moto.dynamodb.models' `copy` module, except that a Table is not deep-copied (see `read_partitions`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _named_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Key]]:
    """(table, key) of each item a TransactWriteItems names; malformed ones are moto's to refuse."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    named = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            attrs = op.get("Item" if op_type == "Put" else "Key")
            try:
                hash_key = DynamoType(attrs[table.hash_key_attr])
                range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError, IndexError, AttributeError):
                continue
            named.append((table, (hash_key, range_key)))
    return named


def _put_back(table: Any, key: Key, item: Any) -> None:
    if table.range_key_attr is None:
        table.items.pop(key[0], None) if item is None else table.items.__setitem__(key[0], item)
    elif item is None:
        table.items.get(key[0], {}).pop(key[1], None)
    else:
        table.items[key[0]][key[1]] = item
    _refile(table, key)


def read_partitions() -> None:
    """Make a Query read only its partition and a transaction copy only its items (see the module docstring)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_docpipe_partitioned", False):
        return
    query, put_item, delete_item = Table.query, Table.put_item, Table.delete_item
    update_item, transact = models.DynamoDBBackend.update_item, models.DynamoDBBackend.transact_write_items
    query_arguments = inspect.signature(query)

    @functools.wraps(query)
    def partition_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = query_arguments.bind(self, *args, **kwargs).arguments
        with _dynamodb_lock:
            items = _partition_items(self, asked["hash_key"], asked.get("index_name"), asked.get("hash_key_conditions"))
            if items is None:
                return query(self, *args, **kwargs)
            self.all_items = lambda: items  # moto sorts, pages, filters and projects these
            try:
                return query(self, *args, **kwargs)
            finally:
                del self.all_items

    @functools.wraps(put_item)
    def put_and_file(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put_item(self, *args, **kwargs)
        _refile(self, (item.hash_key, item.range_key))
        return item

    @functools.wraps(delete_item)
    def delete_and_file(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            _refile(self, (hash_key, range_key))

    @functools.wraps(update_item)
    def update_and_file(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:  # moto updates the stored item in place
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            for table, named in _named_keys(self, [{"Update": {"TableName": table_name, "Key": key}}]):
                _refile(table, named)

    @functools.wraps(transact)
    def transact_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _dynamodb_lock:
            before = [
                (table, key, copy.deepcopy(_stored(table, key))) for table, key in _named_keys(self, transact_items)
            ]
            try:
                return transact(self, transact_items)
            except BaseException:
                for table, key, item in reversed(before):  # the first copy of a key named twice wins
                    _put_back(table, key, item)
                raise

    partition_query._docpipe_partitioned = True  # type: ignore[attr-defined]
    Table.query = partition_query  # type: ignore[method-assign]
    Table.put_item = put_and_file  # type: ignore[method-assign]
    Table.delete_item = delete_and_file  # type: ignore[method-assign]
    models.DynamoDBBackend.update_item = update_and_file  # type: ignore[method-assign]
    models.DynamoDBBackend.transact_write_items = transact_items  # type: ignore[method-assign]
    models.copy = _TablesKept()  # type: ignore[assignment]  # its one Table deepcopy is the rollback copy


COUNTS_PATH = "/docpipe-emulator/requests"
_counts: Counter[tuple[str, str, str]] = Counter()
_counts_lock = threading.Lock()
_SCOPE = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")


def operation(environ: dict[str, Any], service: str) -> str:
    """The API operation a request calls (X-Amz-Target, Action, or S3's method and query)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "Action" in query:
        return query["Action"][0]
    method = environ.get("REQUEST_METHOD", "")
    if service != "s3":
        return method
    if "uploadId" in query:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(
            method, "ListParts"
        )
    if "uploads" in query:
        return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
    if "list-type" in query:
        return "ListObjectsV2"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method, method)


def signed_by(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(access key, service) of a request signed in its Authorization header or presigned in its query
    (Signature Version 4's X-Amz-Credential, or S3's version 2 AWSAccessKeyId): extraction reads its ranges
    and users download through presigned URLs."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        return scope[1], scope[2]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = _SCOPE.search("Credential=" + query.get("X-Amz-Credential", [""])[0])
    if credential:
        return credential[1], credential[2]
    if query.get("AWSAccessKeyId"):
        return query["AWSAccessKeyId"][0], "s3"
    return None


def count_requests() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    if getattr(original, "_docpipe_counting", False):
        return

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            return _serve_counts(environ, start_response)
        signer = signed_by(environ)
        if signer:
            caller = "state machine" if signer[0] == "ak" else "app"
            with _counts_lock:
                _counts[(caller, signer[1], operation(environ, signer[1]))] += 1
        return original(self, environ, start_response)

    __call__._docpipe_counting = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


def _serve_counts(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    with _counts_lock:
        rows = [{"caller": c, "service": s, "operation": o, "count": n} for (c, s, o), n in sorted(_counts.items())]
        if environ.get("REQUEST_METHOD") == "DELETE":
            _counts.clear()
    body = json.dumps(rows).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def say_why_it_stops() -> None:
    """Name the signal that stops the emulator on its stderr (moto's handler exits silently)."""
    import moto.server

    def stop(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        print(f"emulator: {name} received (pid {os.getpid()}): stopping", file=sys.stderr, flush=True)
        sys.exit(0)

    moto.server.signal_handler = stop  # moto's main installs it for SIGINT and SIGTERM


def main() -> None:
    from moto.server import main as moto_main

    sfn_shim.install()
    emulator_fidelity.apply()
    serialize_dynamodb()
    untrack_models()
    read_partitions()
    count_requests()
    say_why_it_stops()
    moto_main()


if __name__ == "__main__":
    main()
