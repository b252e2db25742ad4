"""The backfill queue: planning legs and batch parts the backfill consumer sends itself.

The state machine sends the batches (sqs:sendMessage.waitForTaskToken); the
app sends only the planning message of a new run and the continuation of a
batch it could not finish in one invocation (or must retry later).
"""

from __future__ import annotations

import functools
import json
from typing import Any

MAX_DELAY_SECONDS = 900
"""SQS's longest per-message delay."""


class SqsBackfillQueue:
    def __init__(self, sqs: Any, queue_name: str) -> None:
        self._sqs = sqs
        self._name = queue_name

    @functools.cache  # noqa: B019 - one queue object per process (wiring caches it)
    def url(self) -> str:
        return str(self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"])

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
        self._sqs.send_message(QueueUrl=self.url(), MessageBody=json.dumps(body), DelaySeconds=delay)
