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

It also counts the requests it serves, by caller (the emulator's own state
machine interpreter signs with the access key "ak"; everything else is the
app), service and operation: GET /docpipe-emulator/requests returns the
counts, DELETE resets them (benches read them to count requests).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
import threading
from collections import Counter
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


def count_requests() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    if getattr(original, "_docpipe_counting", False):
        return

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            return _serve_counts(environ, start_response)
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope:
            caller = "state machine" if scope[1] == "ak" else "app"
            with _counts_lock:
                _counts[(caller, scope[2], operation(environ, scope[2]))] += 1
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
    count_requests()
    say_why_it_stops()
    moto_main()


if __name__ == "__main__":
    main()
