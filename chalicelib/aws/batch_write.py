"""BatchWriteItem, the one way docpipe writes or deletes many items: 25 a call, leftovers resent.

Kept apart from `table` on purpose: the IAM analysis (`deploy/calls.py`)
grants per module, and only the functions that write rows or delete
documents need BatchWriteItem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.aws.retry import resend

BATCH_WRITE_MAX = 25
"""BatchWriteItem's limit on requests per call."""
MAX_ATTEMPTS = 10


def put_requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PutRequests for items already in attribute-value form."""
    return [{"PutRequest": {"Item": item}} for item in items]


def delete_requests(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DeleteRequests for keys already in attribute-value form."""
    return [{"DeleteRequest": {"Key": key}} for key in keys]


def batch_write(
    db: Any, table: str, requests: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Apply put and delete requests in calls of 25, resending UnprocessedItems with one backoff."""
    for start in range(0, len(requests), BATCH_WRITE_MAX):
        chunk = requests[start : start + BATCH_WRITE_MAX]

        def send(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
            resp = db.batch_write_item(RequestItems={table: pending})
            return list(resp.get("UnprocessedItems", {}).get(table, []))

        left = resend(send, chunk, "dynamodb", MAX_ATTEMPTS, sleep)
        if left:
            raise RuntimeError(f"{len(left)} items still unprocessed after {MAX_ATTEMPTS} attempts")
