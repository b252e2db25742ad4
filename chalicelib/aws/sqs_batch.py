"""Settling a received SQS batch where the event source mapping cannot report batch item failures.

A module of its own so that only the records consumer is granted sqs:DeleteMessage
(deploy/policies.py is derived from what each function's reachable modules call).
"""

from __future__ import annotations

from typing import Any


class PartialBatchFailure(RuntimeError):
    """Some messages of an SQS batch failed; the handled ones were deleted, these stay on the queue."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"{len(failed)} message(s) of the batch failed and stay on the queue: {', '.join(failed)}")
        self.failed = failed


def settle_batch(sqs: Any, records: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
    """Settle a batch for an event source mapping that does not report batch item failures.

    Such a mapping ignores `batchItemFailures` and deletes the whole batch when
    the function returns, so failed messages would never be retried nor reach
    the DLQ. Instead: the handled messages are deleted here, then the function
    fails, and Lambda leaves the failed ones (the only ones left) to come back
    after the visibility timeout and move to the DLQ after maxReceiveCount.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    """
    failed = [str(f["itemIdentifier"]) for f in response.get("batchItemFailures") or []]
    if not failed:
        return response
    handled: dict[str, list[str]] = {}
    for record in records:
        if record.get("messageId") not in failed:
            handled.setdefault(record["eventSourceARN"], []).append(record["receiptHandle"])
    for arn, handles in handled.items():
        _, _, _, _, account, name = arn.split(":", 5)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        for start in range(0, len(handles), 10):
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start : start + 10])]
            # A handled message SQS fails to delete comes back; handling is idempotent (records.RecordsConsumer).
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    raise PartialBatchFailure(failed)
