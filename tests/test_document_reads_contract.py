"""One contract for the backfill's document reads: the in-memory twin and DynamoDB (on the emulator)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from chalicelib.aws.document_reads import DynamoDocumentReads
from chalicelib.aws.repository import Claim, DynamoRepository
from chalicelib.models import Document, ObjectRef, StaleSelection, Status, utcnow
from tests.fakes import InMemoryRepository

BELOW = 5


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.emulator)])
def parts(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if request.param == "memory":
        repo = InMemoryRepository()
        return repo, repo
    stack = request.getfixturevalue("stack")
    aws = request.getfixturevalue("aws")
    return DynamoRepository(aws["dynamodb"], stack.names.table), DynamoDocumentReads(aws["dynamodb"], stack.names.table)


def finished(repo: Any, status: Status, version: int | None, family: str = "pdf", created: str | None = None) -> str:
    """A document that reached `status` with an extraction of `version` (None: before versions existed)."""
    doc_id = uuid.uuid4().hex
    claim = Claim(
        doc_id,
        ObjectRef("b", f"uploads/{doc_id}", 1, "e"),
        "f",
        uuid.uuid4().hex,
        created or utcnow(),
        int(time.time()),
        600,
    )
    repo.begin_processing(claim)
    if status is Status.PROCESSED:
        repo.complete(doc_id, claim.attempt, {"family": family}, [], utcnow(), version=version or 0)
    else:
        repo.fail(doc_id, claim.attempt, {"code": "corrupt", "message": "x"}, [], utcnow(), version=version or 0)
    if version is None:
        _forget_version(repo, doc_id)
    return doc_id


def _forget_version(repo: Any, doc_id: str) -> None:
    if isinstance(repo, InMemoryRepository):
        repo._items[doc_id].pop("extractor_version")
        return
    from chalicelib.aws.table import doc_key, dump

    repo._db.update_item(TableName=repo._table, Key=dump(doc_key(doc_id)), UpdateExpression="REMOVE extractor_version")


def all_stale(reads: Any, selection: StaleSelection) -> set[str]:
    found: set[str] = set()
    start = None
    while True:
        page = reads.stale_ids(selection, start)
        found |= set(page.items)
        if page.last_key is None:
            return found
        start = page.last_key


def test_the_stale_selection_is_final_documents_extracted_by_an_older_version(parts: tuple[Any, Any]) -> None:
    repo, reads = parts
    since = utcnow()
    never = finished(repo, Status.PROCESSED, None, created=since)
    older = finished(repo, Status.FAILED, BELOW - 1, created=since)
    current = finished(repo, Status.PROCESSED, BELOW, created=since)
    now = utcnow()
    expired = Document(uuid.uuid4().hex, "u", "b", "uploads/u/x", "x", Status.PENDING, now, now, declared_size=1)
    repo.create_pending(expired)
    repo.expire_pending(expired.id, {"code": "expired", "message": "no file"}, utcnow())
    pending = Document(uuid.uuid4().hex, "u", "b", "uploads/u/y", "y", Status.PENDING, now, now, declared_size=1)
    repo.create_pending(pending)
    assert all_stale(reads, StaleSelection(BELOW, created_from=since)) == {never, older}
    assert all_stale(reads, StaleSelection(BELOW + 1, created_from=since)) == {never, older, current}


def test_the_stale_selection_narrows_by_status_family_and_created_range(parts: tuple[Any, Any]) -> None:
    repo, reads = parts
    early = "2001-01-01T00:00:00.000+00:00"
    pdf = finished(repo, Status.PROCESSED, None, "pdf", created=early)
    image = finished(repo, Status.PROCESSED, None, "image", created=early)
    failed = finished(repo, Status.FAILED, None, created=early)
    late = finished(repo, Status.PROCESSED, None, "pdf", created="2001-01-03T00:00:00.000+00:00")
    day = {"created_from": "2001-01-01", "created_to": "2001-01-01"}
    assert all_stale(reads, StaleSelection(BELOW, **day)) == {pdf, image, failed}
    assert all_stale(reads, StaleSelection(BELOW, status="FAILED", **day)) == {failed}
    assert all_stale(reads, StaleSelection(BELOW, family="pdf", **day)) == {pdf}
    assert late in all_stale(reads, StaleSelection(BELOW, created_from="2001-01-02", created_to="2001-01-03"))


def test_many_documents_are_read_at_once_and_missing_ones_left_out(parts: tuple[Any, Any]) -> None:
    repo, reads = parts
    ids = [finished(repo, Status.PROCESSED, BELOW) for _ in range(120)]  # more than one BatchGetItem
    found = reads.get_many([*ids, uuid.uuid4().hex, ids[0]])
    assert set(found) == set(ids)
    assert all(found[d].status is Status.PROCESSED and found[d].extractor_version == BELOW for d in ids)
    assert reads.get_many([]) == {}
