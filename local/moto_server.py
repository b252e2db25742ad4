"""The emulator process: `moto.server`, made faithful to AWS where docpipe depends on it.

    python -m local.moto_server -H 127.0.0.1 -p 4566      (what `local.emulator.Emulator` runs)

- Step Functions: `local.sfn_shim` (ItemBatcher, tolerated failures, the full
  S3 listing, ResultWriter parameters).
- DynamoDB: on AWS every request sees and leaves each item whole (a
  conditional update is checked and applied as one step, a read never sees
  half an update). moto applies an update's actions to the stored item one by
  one, without a lock, so two concurrent conditional writes could both
  succeed, two ADDs could lose one, and a read could catch an item created by
  an update before its attributes are set. Its DynamoDB requests are handled
  one at a time here (stricter than AWS, never weaker).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from local import sfn_shim

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


def main() -> None:
    from moto.server import main as moto_main

    sfn_shim.install()
    serialize_dynamodb()
    moto_main()


if __name__ == "__main__":
    main()
