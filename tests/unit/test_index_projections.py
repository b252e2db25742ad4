"""Every query on an index reads only what that index projects, as DynamoDB requires.

DynamoDB answers a query on a global secondary index from the index alone: a
filter or a projection naming an attribute the index does not project sees
nothing. The emulator is laxer, so the rule is checked here against the
repository's own requests: listings, stats, producer events, duplicate
candidates.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.aws.backfills import BackfillStore, run_from_item
from chalicelib.aws.event_store import StoredEvent
from chalicelib.aws.repository import DynamoRepository, Filters
from chalicelib.aws.table import CANDIDATE_FIELDS, LISTED, SUMMARY, load
from chalicelib.models import BackfillRun, Document, RunStatus, Selection, StaleSelection, Status

KEYS = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk"}


class Recorder:
    """A DynamoDB client that records each query and answers with nothing."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def query(self, **params: Any) -> dict[str, Any]:
        self.queries.append(params)
        return {"Items": []}

    def put_item(self, **params: Any) -> dict[str, Any]:
        self.queries.append(params)
        return {}


def names_read(params: dict[str, Any]) -> set[str]:
    """Attribute names a query's filter and projection expressions use (key conditions aside)."""
    aliases = params.get("ExpressionAttributeNames", {})
    text = " ".join(params.get(k, "") for k in ("FilterExpression", "ProjectionExpression"))
    text = re.sub(r":\w+", " ", text)  # value placeholders
    tokens = re.findall(r"#\w+|\b[a-z_][a-z0-9_]*\b", text)
    words = {"and", "or", "not", "begins_with", "attribute_exists", "attribute_not_exists", "between", "in"}
    return {aliases.get(t, t) for t in tokens if t.lower() not in words}


@pytest.mark.parametrize(
    "filters",
    [
        Filters(status="PROCESSED"),
        Filters(family="pdf"),
        Filters(name_prefix="rep"),
        Filters("FAILED", "image", "2026-01-01", "2026-02-01", "a"),
    ],
    ids=repr,
)
def test_list_filters_name_only_listed_attributes(filters: Filters) -> None:
    db = Recorder()
    repo = DynamoRepository(db, "t")
    repo.list_for_owner("someone", 10, None, filters)
    repo.list_all(10, None, filters)
    for params in db.queries:
        assert names_read(params) <= set(LISTED)


def test_stats_read_only_listed_attributes() -> None:
    db = Recorder()
    DynamoRepository(db, "t").stats("someone", everyone=False)
    assert names_read(db.queries[0]) <= set(LISTED)


def test_a_list_page_shows_nothing_the_index_does_not_project() -> None:
    doc = Document("a" * 32, "o", "b", "k", "f.pdf", Status.PROCESSED, "c", "u", metadata={"family": "pdf"})
    shown = set(doc.summary()) - {"mime_type", "family", "size"}
    assert shown <= set(LISTED) and set(SUMMARY) <= set(LISTED)


def test_a_listed_producer_event_is_whole_in_the_index() -> None:
    assert set(StoredEvent.__dataclass_fields__) <= set(LISTED)


def test_duplicate_candidates_read_keys_checksum_and_sha256_only() -> None:
    db = Recorder()
    DynamoRepository(db, "t").find_candidates("someone", 10)
    assert "FilterExpression" not in db.queries[0] and "ProjectionExpression" not in db.queries[0]
    assert set(CANDIDATE_FIELDS) == {"checksum", "sha256"}


def test_a_backfill_run_listed_from_the_index_reads_as_the_run_itself() -> None:
    db = Recorder()
    selection = Selection(missing_prefix="in/", stale=StaleSelection(below=3, family="pdf"))
    run = BackfillRun("r" * 32, RunStatus.RUNNING, "2026-01-01T00:00:00Z", "admin", selection, 4, selected=7)
    BackfillStore(db, "t").create(run)
    item = load(db.queries[0]["Item"])
    item.update(finished_at="2026-01-02T00:00:00Z", error="stopped", skipped_by={"gone": 2}, processed=5)
    projected = {k: v for k, v in item.items() if k in LISTED or k in KEYS}
    assert run_from_item(projected).to_public() == run_from_item(item).to_public()
