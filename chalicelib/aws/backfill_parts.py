"""Counting a backfill batch part's outcomes exactly once: the one transaction the backfill consumer makes.

A part's outcomes are added to the run record in a transaction that also
writes a marker item for the part (`table.backfill_part_sk`), conditional on
its absence, so a redelivered message is never counted twice; the markers
expire (TTL). Kept apart from `backfills` so that the per-module IAM analysis
grants TransactWriteItems to the consumer only, not to the API.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.aws.table import backfill_key, backfill_part_sk, dump, error_code
from chalicelib.errors import StaleEvent
from chalicelib.models import utcnow

PART_MARKER_DAYS = 30
"""Part markers outlive any redelivery (SQS keeps a message at most 14 days) and then expire (TTL)."""


class BackfillParts:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def count_part(self, run_id: str, part_id: str, counts: dict[str, int], skipped_by: dict[str, int]) -> bool:
        """Add one batch part's outcomes, once: False when that part was counted before."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": utcnow()}
        sets = ["updated_at = :now"]
        for i, (reason, n) in enumerate(sorted(skipped_by.items())):
            names.update({"#sb": "skipped_by", f"#r{i}": reason})
            values.update({":zero": 0, f":r{i}": int(n)})
            sets.append(f"#sb.#r{i} = if_not_exists(#sb.#r{i}, :zero) + :r{i}")
        adds = []
        for name in ("processed", "failed", "skipped"):  # PROCESSED is a DynamoDB reserved word
            if counts.get(name):
                adds.append(f"#{name} :{name}")
                names[f"#{name}"] = name
                values[f":{name}"] = int(counts[name])
        update = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        marker = {
            **backfill_key(run_id, backfill_part_sk(part_id)),
            "expires_at": int(time.time()) + PART_MARKER_DAYS * 86400,
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": dump(marker),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": dump(backfill_key(run_id)),
                            "UpdateExpression": update,
                            "ConditionExpression": "attribute_exists(pk)",
                            **({"ExpressionAttributeNames": names} if names else {}),
                            "ExpressionAttributeValues": dump(values),
                        }
                    },
                ]
            )
        except Exception as exc:
            failed = _failed_conditions(exc)
            if failed[0]:
                return False
            if failed[1]:
                raise StaleEvent("No such backfill") from exc
            raise
        return True


def _failed_conditions(exc: Exception) -> tuple[bool, bool]:
    """Which of count_part's two writes a cancelled transaction failed on: (the marker, the run)."""
    if error_code(exc) != "TransactionCanceledException":
        return False, False
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    codes = [r.get("Code") for r in reasons] + [None, None]
    return codes[0] == "ConditionalCheckFailed", codes[1] == "ConditionalCheckFailed"
