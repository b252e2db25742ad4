"""One backoff for the partial failures of batch calls (SQS SendMessageBatch, DynamoDB BatchWriteItem).

A batch call can succeed while refusing some of its entries (throttling,
capacity); botocore retries whole failed calls, not those. `resend` sends the
entries left over again with botocore's own jittered exponential backoff (the
standard retry mode's, with the service's base delay), a bounded number of
times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.retries.standard import ExponentialBackoff, RetryContext


def resend[T](
    send: Callable[[list[T]], list[T]],
    entries: list[T],
    service: str,
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> list[T]:
    """Send `entries`, then whatever `send` says it could not, up to `attempts` calls; what is left unsent."""
    backoff = ExponentialBackoff(service_name=service)
    for attempt in range(1, attempts + 1):
        entries = send(entries)
        if not entries:
            return []
        if attempt < attempts:
            sleep(backoff.delay_amount(RetryContext(attempt_number=attempt)))
    return entries
