"""SQS sending: message bodies packed into SendMessageBatch calls, failed entries resent.

SQS limits a message body and a whole batch in UTF-8 bytes (`utf8_len`); the
sender keeps both under `FanOutSettings` and the queue's MaximumMessageSize,
which `queue_limits` reads with the queue's URL and visibility timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.aws.retry import resend
from chalicelib.config import FanOutSettings


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class SqsSender:
    """Packs bodies into SendMessageBatch calls (≤ 10 entries, ≤ batch_bytes in all).

    Entries SQS reports as failed are resent with botocore's jittered
    exponential backoff; a sender fault (a message SQS will never take)
    raises at once.
    """

    MAX_ATTEMPTS = 8

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        max_message_bytes: int,
        settings: FanOutSettings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._settings = settings
        self._sleep = sleep
        self.max_message_bytes = min(max_message_bytes, settings.message_bytes, settings.batch_bytes)
        self._pending: list[tuple[str, int, int]] = []  # body, size, last row
        self._pending_bytes = 0
        self.confirmed_row = 0
        self.requests = 0
        self.messages = 0

    def add(self, body: str, last_row: int) -> None:
        size = utf8_len(body)
        if size > self.max_message_bytes:
            raise ValueError(f"a {size}-byte message exceeds the {self.max_message_bytes}-byte limit")
        full = len(self._pending) >= self._settings.batch_entries
        if full or self._pending_bytes + size > self._settings.batch_bytes:
            self.flush()
        self._pending.append((body, size, last_row))
        self._pending_bytes += size

    def flush(self) -> None:
        if not self._pending:
            return
        entries = [{"Id": str(i), "MessageBody": body} for i, (body, _, _) in enumerate(self._pending)]
        unsent = resend(self._send, entries, "sqs", self.MAX_ATTEMPTS, self._sleep)
        if unsent:
            raise RuntimeError(f"{len(unsent)} records messages still unsent after {self.MAX_ATTEMPTS} attempts")
        self.messages += len(self._pending)
        self.confirmed_row = max([self.confirmed_row] + [row for _, _, row in self._pending])
        self._pending = []
        self._pending_bytes = 0

    def _send(self, entries: list[dict[str, str]]) -> list[dict[str, str]]:
        """One SendMessageBatch call; the entries SQS failed (a sender fault raises: resending cannot help)."""
        self.requests += 1
        failed = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
        if any(f.get("SenderFault") for f in failed):
            reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
            raise RuntimeError(f"SQS refused records messages: {reasons}")
        by_id = {e["Id"]: e for e in entries}
        return [by_id[f["Id"]] for f in failed]


def queue_limits(sqs: Any, queue_name: str) -> tuple[str, int, int]:
    """(url, MaximumMessageSize, VisibilityTimeout) of a queue."""
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize", "VisibilityTimeout"])[
        "Attributes"
    ]
    return url, int(attrs["MaximumMessageSize"]), int(attrs["VisibilityTimeout"])
