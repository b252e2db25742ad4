"""Backfill runs in the one DynamoDB table: the record an admin follows, and exactly-once counting.

A run is one item (`table.backfill_key`): its selection, status, counters and
planning state. The state machine counts what it lists and hands over (ADD on
`listed`, `not_queued`, `abandoned`: its definition is in infra/docpipe.yaml);
the backfill queue's consumer counts outcomes per batch part
(`backfill_parts`). Every status change is conditional: a run stopped by an
admin stays STOPPED whatever finishes later.
"""

from __future__ import annotations

from typing import Any

from chalicelib.aws.table import (
    ALL_DOCS,
    BACKFILLS,
    Page,
    backfill_index_keys,
    backfill_key,
    conditional_failed,
    cursor_key,
    dump,
    from_dynamo_value,
    load,
)
from chalicelib.errors import Conflict, StaleEvent
from chalicelib.models import COUNTERS, BackfillRun, RunStatus, Selection


def run_from_item(item: dict[str, Any]) -> BackfillRun:
    data = from_dynamo_value(item)
    return BackfillRun(
        id=data["id"],
        status=RunStatus(data["status"]),
        created_at=data["created_at"],
        created_by=data.get("created_by", ""),
        selection=Selection.from_dict(data.get("selection") or {}),
        max_concurrency=int(data.get("max_concurrency") or 1),
        updated_at=data.get("updated_at", ""),
        execution_arn=data.get("execution_arn"),
        selected=data.get("selected"),
        counts={name: int(data.get(name) or 0) for name in COUNTERS},
        skipped_by={str(k): int(v) for k, v in (data.get("skipped_by") or {}).items()},
        finished_at=data.get("finished_at"),
        error=data.get("error"),
        plan=data.get("plan") or {},
    )


class BackfillStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def create(self, run: BackfillRun) -> None:
        item: dict[str, Any] = {
            **backfill_key(run.id),
            **backfill_index_keys(run.id, run.created_at),
            "id": run.id,
            "status": run.status.value,
            "created_at": run.created_at,
            "updated_at": run.created_at,
            "created_by": run.created_by,
            "selection": run.selection.to_dict(),
            "max_concurrency": run.max_concurrency,
            "skipped_by": {},
            "plan": {},
            **dict.fromkeys(COUNTERS, 0),
        }
        try:
            self._db.put_item(TableName=self._table, Item=dump(item), ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if conditional_failed(exc):
                raise Conflict("A backfill with this id already exists") from exc
            raise

    def get(self, run_id: str) -> BackfillRun | None:
        resp = self._db.get_item(TableName=self._table, Key=dump(backfill_key(run_id)), ConsistentRead=True)
        item = resp.get("Item")
        return run_from_item(load(item)) if item else None

    def status(self, run_id: str) -> RunStatus | None:
        """Just the status (what the consumer checks between items)."""
        resp = self._db.get_item(
            TableName=self._table,
            Key=dump(backfill_key(run_id)),
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return RunStatus(load(item)["status"]) if item else None

    def page(self, limit: int, start: dict[str, str] | None) -> Page[BackfillRun]:
        """Runs, newest first (the admin listing index, partition BACKFILLS)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ALL_DOCS,
            "KeyConditionExpression": "gsi2pk = :p",
            "ExpressionAttributeValues": dump({":p": BACKFILLS}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            params["ExclusiveStartKey"] = dump(start)
        resp = self._db.query(**params)
        runs = [run_from_item(load(i)) for i in resp.get("Items", [])]
        return Page(runs, cursor_key(resp.get("LastEvaluatedKey")))

    # -- planning --------------------------------------------------------------
    def save_plan(self, run_id: str, plan: dict[str, Any], now: str) -> None:
        """Where planning stands, so the next planning leg resumes there (only while PLANNING)."""
        self._update(run_id, "SET #p = :plan, updated_at = :now", {":plan": plan, ":now": now}, (RunStatus.PLANNING,))

    def begin(self, run_id: str, execution_arn: str, selected: int | None, now: str) -> None:
        """PLANNING → RUNNING, with the execution that now drives the run."""
        values: dict[str, Any] = {":arn": execution_arn, ":now": now, ":running": RunStatus.RUNNING.value}
        update = "SET #s = :running, execution_arn = :arn, updated_at = :now"
        if selected is not None:
            update += ", selected = :selected"
            values[":selected"] = selected
        self._update(run_id, update, values, (RunStatus.PLANNING,))

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        now: str,
        expected: tuple[RunStatus, ...],
        error: str | None = None,
        selected: int | None = None,
    ) -> None:
        """Move to a final status from one of `expected`; raises StaleEvent when the run is elsewhere."""
        values: dict[str, Any] = {":final": status.value, ":now": now}
        update = "SET #s = :final, finished_at = :now, updated_at = :now"
        if error is not None:
            update += ", #e = :error"
            values[":error"] = error
        if selected is not None:
            update += ", selected = :selected"
            values[":selected"] = selected
        self._update(run_id, update, values, expected)

    def _update(self, run_id: str, update: str, values: dict[str, Any], expected: tuple[RunStatus, ...]) -> None:
        names = {"#s": "status", "#p": "plan", "#e": "error"}
        allowed = {f":expected{i}": s.value for i, s in enumerate(expected)}
        condition = "#s IN (" + ", ".join(allowed) + ")"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=dump(backfill_key(run_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in names.items() if k in update or k == "#s"},
                ExpressionAttributeValues=dump({**values, **allowed}),
            )
        except Exception as exc:
            if conditional_failed(exc):
                raise StaleEvent("The backfill is no longer in the expected state") from exc
            raise
