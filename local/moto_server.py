"""The emulator process: `moto.server`, made faithful to AWS where docpipe depends on it.

    python -m local.moto_server -H 127.0.0.1 -p 4566      (what `local.emulator.Emulator` runs)

- Step Functions: `local.sfn_shim` (ItemBatcher, tolerated failures, the full
  S3 listing, ResultWriter parameters).
- DynamoDB: every write to an item is atomic on AWS (a conditional update is
  checked and applied as one step). moto reads, checks and stores without a
  lock, so two concurrent conditional writes could both succeed and two ADDs
  lose one; its write operations are serialized here.
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from local import sfn_shim

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")  # BatchWriteItem calls the first two
_write_lock = threading.RLock()


def serialize_dynamodb_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_docpipe_serialized", False):
            continue
        setattr(DynamoDBBackend, name, _serialized(original))


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return method(*args, **kwargs)

    locked._docpipe_serialized = True  # type: ignore[attr-defined]
    return locked


def main() -> None:
    from moto.server import main as moto_main

    sfn_shim.install()
    serialize_dynamodb_writes()
    moto_main()


if __name__ == "__main__":
    main()
