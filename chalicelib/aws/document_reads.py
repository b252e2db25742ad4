"""The reads a backfill makes of documents: many at once, and the stale selection page by page.

Kept apart from `repository` so that the per-module IAM analysis grants
BatchGetItem only to the backfill queue's consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.aws.repository import Filters, _Expr, document_from_item, listing_params
from chalicelib.aws.table import ALL_DOCS, Page, cursor_key, doc_key, dump, load
from chalicelib.errors import TransientError
from chalicelib.models import Document, StaleSelection, Status


class DocumentReads(Protocol):
    def get_many(self, doc_ids: list[str]) -> dict[str, Document]: ...
    def stale_ids(self, selection: StaleSelection, start: dict[str, str] | None) -> Page[str]: ...


class DynamoDocumentReads:
    def __init__(self, dynamodb: Any, table: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = dynamodb
        self._table = table
        self._sleep = sleep

    def get_many(self, doc_ids: list[str]) -> dict[str, Document]:
        """The documents that exist among `doc_ids` (BatchGetItem: 100 keys a call, unprocessed keys retried)."""
        found: dict[str, Document] = {}
        unique = list(dict.fromkeys(doc_ids))
        for start in range(0, len(unique), 100):
            keys = [dump(doc_key(d)) for d in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(8):
                resp = self._db.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    doc = document_from_item(load(item))
                    found[doc.id] = doc
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise TransientError("DynamoDB kept keys unprocessed")
        return found

    def stale_ids(self, selection: StaleSelection, start: dict[str, str] | None) -> Page[str]:
        """One query page of ids of final documents whose extractor version is below `selection.below`.

        A query on the admin listing index (never a Scan), newest first; the
        created range is part of the key condition, the rest a filter, so a
        page may hold no id and still have a next key. Uploads that expired
        before any file arrived have nothing to extract and are left out.
        """
        expr = _Expr()
        params = listing_params(self._table, ALL_DOCS, "gsi2pk", "gsi2sk", "DOCS", _stale_filters(selection))
        expr.names.update(params["ExpressionAttributeNames"])
        expr.values.update(load(params["ExpressionAttributeValues"]))
        status, version, error = expr.n("status"), expr.n("extractor_version"), expr.n("error")
        clauses = [params["FilterExpression"]] if "FilterExpression" in params else []
        if selection.status is None:
            finals = f"{expr.v('processed', Status.PROCESSED.value)}, {expr.v('failed', Status.FAILED.value)}"
            clauses.append(f"{status} IN ({finals})")
        clauses.append(f"(attribute_not_exists({version}) OR {version} < {expr.v('below', selection.below)})")
        clauses.append(
            f"(attribute_not_exists({error}.{expr.n('code')}) OR {error}.#code <> {expr.v('expired', 'expired')})"
        )
        params.update(
            FilterExpression=" AND ".join(clauses),
            ExpressionAttributeNames=expr.names,
            ExpressionAttributeValues=dump(expr.values),
            ProjectionExpression=expr.n("id"),
        )
        if start:
            params["ExclusiveStartKey"] = dump(start)
        resp = self._db.query(**params)
        return Page([str(load(i)["id"]) for i in resp.get("Items", [])], cursor_key(resp.get("LastEvaluatedKey")))


def _stale_filters(selection: StaleSelection) -> Filters:
    return Filters(selection.status, selection.family, selection.created_from, selection.created_to)
