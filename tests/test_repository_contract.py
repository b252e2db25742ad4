"""One contract for the repository: the in-memory twin and DynamoDB (on the emulator) must both pass it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from chalicelib.aws.repository import Claim, DynamoRepository, Filters, Listed
from chalicelib.errors import Conflict, StaleEvent
from chalicelib.models import Content, Document, ObjectRef, Status, utcnow
from tests.fakes import InMemoryRepository

VERSION = 7


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.emulator)])
def repo(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryRepository()
    stack = request.getfixturevalue("stack")
    aws = request.getfixturevalue("aws")
    return DynamoRepository(aws["dynamodb"], stack.names.table)


def new_id() -> str:
    return uuid.uuid4().hex


def claim(
    doc_id: str,
    etag: str = "e1",
    seq: str | None = None,
    force: bool = False,
    lease: int = 900,
    now_epoch: int | None = None,
    key: str = "uploads/x.pdf",
) -> Claim:
    return Claim(
        doc_id=doc_id,
        obj=ObjectRef("bucket", key, 10, etag, None, seq),
        filename="x.pdf",
        attempt=uuid.uuid4().hex,
        now=utcnow(),
        now_epoch=now_epoch if now_epoch is not None else int(time.time()),
        lease_seconds=lease,
        force=force,
    )


def pending(owner: str, doc_id: str | None = None, created: str | None = None) -> Document:
    doc_id = doc_id or new_id()
    now = created or utcnow()
    return Document(
        doc_id,
        owner,
        "bucket",
        f"uploads/{owner}/{doc_id}/f.pdf",
        "f.pdf",
        Status.PENDING,
        now,
        now,
        declared_size=10,
        declared_type="application/pdf",
    )


def test_a_pending_document_reads_back_as_written(repo: Any) -> None:
    doc = pending("u1")
    repo.create_pending(doc)
    got = repo.get(doc.id)
    assert got is not None
    assert (got.owner, got.status, got.declared_size, got.filename) == ("u1", Status.PENDING, 10, "f.pdf")


def test_creating_the_same_document_twice_conflicts(repo: Any) -> None:
    doc = pending("u1")
    repo.create_pending(doc)
    with pytest.raises(Conflict):
        repo.create_pending(doc)


def test_an_unknown_document_is_none(repo: Any) -> None:
    assert repo.get(new_id()) is None


def test_processing_a_dropped_file_creates_an_unowned_document(repo: Any) -> None:
    c = claim(new_id())
    doc = repo.begin_processing(c)
    assert doc.status is Status.PROCESSING and doc.owner is None and doc.attempt == c.attempt


def test_processing_keeps_the_owner_of_a_pending_upload(repo: Any) -> None:
    doc = pending("u9")
    repo.create_pending(doc)
    started = repo.begin_processing(claim(doc.id, key=doc.key))
    assert started.owner == "u9" and started.created_at == doc.created_at


def test_a_completed_document_carries_its_metadata_and_timeline(repo: Any) -> None:
    c = claim(new_id())
    repo.begin_processing(c)
    repo.complete(
        c.doc_id, c.attempt, {"page_count": 3, "ratio": 1.5, "details": {"x": [1, 2]}}, ["w"], utcnow(), version=VERSION
    )
    doc = repo.get(c.doc_id)
    assert doc.status is Status.PROCESSED and doc.metadata == {"page_count": 3, "ratio": 1.5, "details": {"x": [1, 2]}}
    assert doc.warnings == ["w"] and doc.attempt is None
    assert doc.extractor_version == VERSION
    assert [e["event"] for e in doc.timeline] == ["processing_started", "processed"]


def test_metadata_passes_the_gate_before_it_is_stored(repo: Any) -> None:
    c = claim(new_id())
    repo.begin_processing(c)
    metadata = {"details": {"namespaces": {"": "urn:x", "x": "urn:y"}}, "nan": float("nan"), "t\ud800": "v"}
    repo.complete(c.doc_id, c.attempt, metadata, ["w\udc00"], utcnow(), version=VERSION)
    doc = repo.get(c.doc_id)
    assert doc.metadata == {"details": {"namespaces": {"(empty)": "urn:x", "x": "urn:y"}}, "nan": "nan", "t\ufffd": "v"}
    assert doc.warnings == ["w\ufffd"]


def test_a_failed_document_carries_its_error(repo: Any) -> None:
    c = claim(new_id())
    repo.begin_processing(c)
    repo.fail(c.doc_id, c.attempt, {"code": "corrupt", "message": "bad"}, [], utcnow(), version=VERSION)
    doc = repo.get(c.doc_id)
    assert doc.status is Status.FAILED and doc.error == {"code": "corrupt", "message": "bad"}
    assert doc.extractor_version == VERSION


def test_a_second_attempt_cannot_start_while_the_first_holds_its_lease(repo: Any) -> None:
    doc_id = new_id()
    repo.begin_processing(claim(doc_id, etag="e1"))
    with pytest.raises(StaleEvent):
        repo.begin_processing(claim(doc_id, etag="e2"))


def test_an_expired_lease_lets_another_attempt_take_over(repo: Any) -> None:
    doc_id = new_id()
    first = claim(doc_id, etag="e1", lease=1, now_epoch=int(time.time()) - 100)
    repo.begin_processing(first)
    second = claim(doc_id, etag="e1")
    assert repo.begin_processing(second).attempt == second.attempt
    with pytest.raises(StaleEvent):
        repo.complete(doc_id, first.attempt, {}, [], utcnow(), version=VERSION)


def test_a_finished_version_is_not_processed_again_unless_forced(repo: Any) -> None:
    c = claim(new_id(), etag="same")
    repo.begin_processing(c)
    repo.complete(c.doc_id, c.attempt, {}, [], utcnow(), version=VERSION)
    with pytest.raises(StaleEvent):
        repo.begin_processing(claim(c.doc_id, etag="same"))
    forced = repo.begin_processing(claim(c.doc_id, etag="same", force=True))
    assert forced.status is Status.PROCESSING
    assert forced.timeline[-1]["event"] == "reprocessing"


def test_an_older_sequencer_never_replaces_a_newer_one(repo: Any) -> None:
    c = claim(new_id(), etag="new", seq="0062E99A88DC407461")
    repo.begin_processing(c)
    repo.complete(c.doc_id, c.attempt, {}, [], utcnow(), version=VERSION)
    with pytest.raises(StaleEvent):
        repo.begin_processing(claim(c.doc_id, etag="old", seq="0062E99A88DC40745F"))
    newer = repo.begin_processing(claim(c.doc_id, etag="newer", seq="0062E99A88DC407500"))
    assert newer.status is Status.PROCESSING


def test_finishing_with_a_stale_attempt_token_changes_nothing(repo: Any) -> None:
    c = claim(new_id())
    repo.begin_processing(c)
    with pytest.raises(StaleEvent):
        repo.complete(c.doc_id, "not-the-attempt", {}, [], utcnow(), version=VERSION)
    assert repo.get(c.doc_id).status is Status.PROCESSING


def test_a_users_documents_page_newest_first_and_every_one_appears_once(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    docs = [pending(owner, created=f"2026-01-01T00:00:{i:02d}.000+00:00") for i in range(7)]
    for doc in docs:
        repo.create_pending(doc)
    repo.create_pending(pending(f"other-{new_id()}"))
    seen: list[str] = []
    start = None
    pages = 0
    while True:
        page = repo.list_for_owner(owner, 3, start)
        seen += [d.id for d in page.items]
        pages += 1
        if page.last_key is None:
            break
        start = page.last_key
    assert seen == [d.id for d in reversed(docs)] and pages == 3


def test_the_admin_listing_includes_unowned_documents(repo: Any) -> None:
    c = claim(new_id())
    repo.begin_processing(c)
    ids = set()
    start = None
    for _ in range(1000):
        page = repo.list_all(100, start)
        ids |= {d.id for d in page.items}
        if page.last_key is None:
            break
        start = page.last_key
    assert c.doc_id in ids


def finished(
    repo: Any,
    owner: str | None,
    created: str,
    family: str,
    status: Status = Status.PROCESSED,
    filename: str = "f.pdf",
    content: Content | None = None,
) -> str:
    """A document taken through processing to a final status (filed by size when `content` is given)."""
    doc = pending(owner or "x", created=created)
    doc.filename = filename
    if owner is None:
        doc.owner = None
    repo.create_pending(doc)
    c = claim(doc.id, key=doc.key)
    repo.begin_processing(c)
    if status is Status.PROCESSED:
        listed = Listed(owner, created, content) if content else None
        repo.complete(doc.id, c.attempt, {"family": family}, [], utcnow(), version=VERSION, content=listed)
    else:
        repo.fail(doc.id, c.attempt, {"code": "corrupt", "message": "x"}, [], utcnow(), version=VERSION)
    return doc.id


def collect(repo: Any, owner: str, filters: Filters, limit: int = 2) -> list[str]:
    ids: list[str] = []
    start = None
    for _ in range(50):
        page = repo.list_for_owner(owner, limit, start, filters)
        ids += [d.id for d in page.items]
        if page.last_key is None:
            return ids
        start = page.last_key
    raise AssertionError("paging did not end")


def test_listings_filter_by_status_family_name_and_created_range(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    a = finished(repo, owner, "2026-01-01T00:00:01.000+00:00", "pdf", filename="alpha.pdf")
    b = finished(repo, owner, "2026-01-02T00:00:01.000+00:00", "image", filename="beta.jpg")
    c = finished(repo, owner, "2026-01-03T00:00:01.000+00:00", "pdf", Status.FAILED, filename="alpine.pdf")
    d = finished(repo, owner, "2026-01-04T00:00:01.000+00:00", "pdf", filename="gamma.pdf")
    assert collect(repo, owner, Filters(family="pdf", status="PROCESSED")) == [d, a]
    assert collect(repo, owner, Filters(status="FAILED")) == [c]
    assert collect(repo, owner, Filters(name_prefix="al")) == [c, a]
    assert collect(repo, owner, Filters(created_from="2026-01-02", created_to="2026-01-03")) == [c, b]
    assert collect(repo, owner, Filters(created_to="2026-01-01T00:00:01.000+00:00")) == [a]
    assert collect(repo, owner, Filters(family="video")) == []


def described(repo: Any, owner: str, created: str, filename: str, metadata: dict[str, Any], text: str = "") -> str:
    """A processed document with this name, metadata and text."""
    doc = pending(owner, created=created)
    doc.filename = filename
    repo.create_pending(doc)
    c = claim(doc.id, key=doc.key)
    repo.begin_processing(c)
    repo.complete(doc.id, c.attempt, metadata, [], utcnow(), version=VERSION, text=text)
    return doc.id


def test_a_search_finds_a_piece_of_the_name_title_or_author_in_any_case_and_without_accents(repo: Any) -> None:
    from chalicelib.search import parse_query

    owner = f"owner-{new_id()}"
    tika = described(repo, owner, "2026-02-01T00:00:01.000+00:00", "TIKA-2021 report.PDF", {"family": "pdf"})
    described(repo, owner, "2026-02-02T00:00:01.000+00:00", "IMG_0001.jpg", {"camera_make": "Canon"})
    titled = described(
        repo,
        owner,
        "2026-02-03T00:00:01.000+00:00",
        "a.pdf",
        {"title": "Résumé of Q3", "author": "Zoë Quinn"},
        text="Minutes of the meeting.\nThe AMMONITE collection moves to room 4.",
    )
    repo.create_pending(pending(f"other-{new_id()}"))

    def found(text: str) -> list[str]:
        return collect(repo, owner, Filters(query=parse_query(text)))

    assert found("tika") == [tika] and found("  Report.pdf ") == [tika]
    assert found("resume") == [titled] and found("ZOË") == [titled] and found("q3") == [titled]
    assert found("canon") == []  # the camera is not the name, title, author or text
    assert found("ammonite collection") == [titled]  # the start of the extracted text
    assert found(".pdf") == [titled, tika]
    assert found("of q3\nzoe") == []  # a match never spans two fields (the query's newline is a space)


def test_a_search_reads_the_title_and_author_as_stored_after_the_metadata_gate(repo: Any) -> None:
    from chalicelib.search import parse_query

    owner = f"owner-{new_id()}"
    metadata = {"title": b"Quarterly Ledger", "author": bytearray("Ren\u00e9e Okafor", "utf-8")}  # raw tag bytes
    ledger = described(repo, owner, "2026-02-04T00:00:01.000+00:00", "scan.pdf", metadata)

    assert repo.get(ledger).metadata == {"title": "Quarterly Ledger", "author": "Ren\u00e9e Okafor"}
    assert collect(repo, owner, Filters(query=parse_query("ledger"))) == [ledger]
    assert collect(repo, owner, Filters(query=parse_query("renee okafor"))) == [ledger]


def test_listings_run_oldest_first_and_a_window_holds_the_newest_matches(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    made = [
        described(repo, owner, f"2026-03-0{i}T00:00:01.000+00:00", f"{name}.pdf", {"family": "pdf", "size": size})
        for i, (name, size) in enumerate([("b", 30), ("a", 10), ("c", 20)], start=1)
    ]
    ids, start = [], None
    while True:
        page = repo.list_oldest_first(owner, False, 2, start, Filters())
        ids += [d.id for d in page.items]
        if page.last_key is None:
            break
        start = page.last_key
    assert ids == made
    docs, complete = repo.window(owner, False, Filters(family="pdf"), 2)
    assert [d.id for d in docs] == [made[2], made[1]] and not complete
    docs, complete = repo.window(owner, False, Filters(), 10)
    assert complete and [(d.filename, d.metadata.get("size"), d.status) for d in docs] == [
        ("c.pdf", 20, Status.PROCESSED),
        ("a.pdf", 10, Status.PROCESSED),
        ("b.pdf", 30, Status.PROCESSED),
    ]


def test_processed_documents_are_candidates_of_their_owner_and_size_with_what_is_known_of_their_bytes(
    repo: Any,
) -> None:
    owner = f"owner-{new_id()}"
    crc = "CRC64NVME:FULL_OBJECT:AAAAAAAAAAA="
    first = finished(repo, owner, "2026-01-01T00:00:00.000+00:00", "pdf", content=Content(1000, crc))
    second = finished(repo, owner, "2026-01-02T00:00:00.000+00:00", "pdf", content=Content(1000, None, "ab" * 32))
    finished(repo, owner, utcnow(), "pdf", content=Content(999, crc))
    finished(repo, owner, utcnow(), "pdf")  # processed before sizes were filed: no candidate
    found = repo.find_candidates(owner, 1000)
    assert [(c.doc_id, c.content) for c in found] == [
        (first, Content(1000, crc)),
        (second, Content(1000, None, "ab" * 32)),
    ]
    assert found[0].created_at == "2026-01-01T00:00:00.000+00:00"
    assert repo.find_candidates("someone-else", 1000) == []


def test_a_sha256_computed_later_is_kept_on_the_candidate_and_its_metadata(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    doc_id = finished(repo, owner, utcnow(), "pdf", content=Content(10, "CRC32:FULL_OBJECT:AAAAAA=="))
    repo.set_sha256(doc_id, "cd" * 32)
    assert repo.find_candidates(owner, 10)[0].content.sha256 == "cd" * 32
    doc = repo.get(doc_id)
    assert doc is not None and doc.metadata["sha256"] == "cd" * 32
    unlisted = finished(repo, owner, utcnow(), "pdf")
    repo.set_sha256(unlisted, "ef" * 32)  # not a candidate: nothing to keep
    after = repo.get(unlisted)
    assert after is not None and "sha256" not in after.metadata


def test_a_failed_attempt_takes_the_document_out_of_the_candidates(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    doc_id = finished(repo, owner, utcnow(), "pdf", content=Content(42))
    again = claim(doc_id, force=True)
    repo.begin_processing(again)
    repo.fail(doc_id, again.attempt, {"code": "corrupt", "message": "x"}, [], utcnow(), version=VERSION)
    assert repo.find_candidates(owner, 42) == []


def test_deleting_a_document_removes_it_and_reports_what_went(repo: Any) -> None:
    doc_id = finished(repo, f"owner-{new_id()}", utcnow(), "pdf")
    assert repo.delete(doc_id) >= 1
    assert repo.get(doc_id) is None
    assert repo.delete(doc_id) == 0


def test_events_are_appended_to_the_timeline_of_existing_documents_only(repo: Any) -> None:
    doc_id = finished(repo, f"owner-{new_id()}", utcnow(), "pdf")
    repo.add_event(doc_id, {"at": utcnow(), "event": "reprocess_requested"})
    doc = repo.get(doc_id)
    assert doc.timeline[-1]["event"] == "reprocess_requested"
    missing = new_id()
    repo.add_event(missing, {"at": utcnow(), "event": "x"})
    assert repo.get(missing) is None


def test_stats_count_a_users_documents_by_status_and_family(repo: Any) -> None:
    owner = f"owner-{new_id()}"
    finished(repo, owner, utcnow(), "pdf")
    finished(repo, owner, utcnow(), "pdf")
    finished(repo, owner, utcnow(), "image", Status.FAILED)
    repo.create_pending(pending(owner))
    stats = repo.stats(owner, everyone=False)
    assert stats["total"] == 4
    assert stats["by_status"] == {"PROCESSED": 2, "FAILED": 1, "PENDING": 1}
    assert stats["by_family"] == {"pdf": 2}  # a failed file has no family
    assert repo.stats(None, everyone=True)["total"] >= 4


def test_overdue_uploads_and_expired_leases_are_found_and_finished_ones_are_not(repo: Any) -> None:
    now = int(time.time())
    late = pending(f"owner-{new_id()}")
    late.deadline = now - 10
    repo.create_pending(late)
    on_time = pending(f"owner-{new_id()}")
    on_time.deadline = now + 3600
    repo.create_pending(on_time)
    stuck = claim(new_id(), lease=1, now_epoch=now - 100)
    repo.begin_processing(stuck)
    done = claim(new_id(), lease=1, now_epoch=now - 100)
    repo.begin_processing(done)
    repo.complete(done.doc_id, done.attempt, {}, [], utcnow(), version=VERSION)
    pending_ids = {d.id for d in repo.overdue(Status.PENDING, now, 1000)}
    processing = {d.id: d for d in repo.overdue(Status.PROCESSING, now, 1000)}
    assert late.id in pending_ids and on_time.id not in pending_ids
    assert stuck.doc_id in processing and done.doc_id not in processing
    assert processing[stuck.doc_id].attempts == 1 and processing[stuck.doc_id].attempt == stuck.attempt


def test_an_expired_upload_fails_once_and_an_arrived_one_is_left_alone(repo: Any) -> None:
    doc = pending(f"owner-{new_id()}")
    doc.deadline = int(time.time()) - 1
    repo.create_pending(doc)
    repo.expire_pending(doc.id, {"code": "expired", "message": "late"}, utcnow())
    got = repo.get(doc.id)
    assert got.status is Status.FAILED and got.error["code"] == "expired"
    assert doc.id not in {d.id for d in repo.overdue(Status.PENDING, int(time.time()) + 10, 1000)}
    with pytest.raises(StaleEvent):
        repo.expire_pending(doc.id, {"code": "expired", "message": "late"}, utcnow())


def test_postponing_moves_the_sweep_deadline_only(repo: Any) -> None:
    now = int(time.time())
    c = claim(new_id(), lease=1, now_epoch=now - 100)
    repo.begin_processing(c)
    repo.postpone(c.doc_id, Status.PROCESSING, now + 600)
    assert c.doc_id not in {d.id for d in repo.overdue(Status.PROCESSING, now, 1000)}
    retry = claim(c.doc_id, force=True)
    assert repo.begin_processing(retry).attempts == 2  # the lease itself had expired


def test_a_claim_keeps_the_sweep_entry_its_upload_wrote_and_files_one_where_there_is_none(repo: Any) -> None:
    now = int(time.time())
    upload = pending(f"owner-{new_id()}")
    upload.deadline = now - 10
    repo.create_pending(upload)
    repo.begin_processing(claim(upload.id, lease=600, now_epoch=now))
    found = {d.id: d for d in repo.overdue(Status.PENDING, now, 1000)}
    assert found[upload.id].status is Status.PROCESSING and found[upload.id].deadline == now + 600
    dropped = claim(new_id(), lease=600, now_epoch=now - 1000)
    repo.begin_processing(dropped)
    assert dropped.doc_id in {d.id for d in repo.overdue(Status.PROCESSING, now, 1000)}


def test_postponing_moves_an_entry_to_the_documents_kind_and_never_back_to_a_finished_one(repo: Any) -> None:
    now = int(time.time())
    upload = pending(f"owner-{new_id()}")
    upload.deadline = now - 10
    repo.create_pending(upload)
    c = claim(upload.id, lease=600, now_epoch=now)
    repo.begin_processing(c)
    repo.postpone(upload.id, Status.PROCESSING, now + 601)
    assert upload.id not in {d.id for d in repo.overdue(Status.PENDING, now + 10_000, 1000)}
    assert upload.id in {d.id for d in repo.overdue(Status.PROCESSING, now + 602, 1000)}
    repo.complete(upload.id, c.attempt, {}, [], utcnow(), version=VERSION)
    repo.postpone(upload.id, Status.PROCESSING, now + 601)
    assert upload.id not in {d.id for d in repo.overdue(Status.PROCESSING, now + 10_000, 1000)}


def test_a_released_claim_can_be_taken_at_once_by_the_redelivery(repo: Any) -> None:
    first = claim(new_id(), etag="e1")
    repo.begin_processing(first)
    repo.release(first.doc_id, first.attempt)
    again = claim(first.doc_id, etag="e1")
    assert repo.begin_processing(again).attempt == again.attempt
    repo.release(first.doc_id, first.attempt)  # a stale release changes nothing
    with pytest.raises(StaleEvent):
        repo.begin_processing(claim(first.doc_id, etag="e1"))


def test_a_newer_version_noted_during_an_attempt_is_handed_over_once_by_its_finishing_write(repo: Any) -> None:
    c = claim(new_id(), etag="old")
    repo.begin_processing(c)
    repo.note_pending(c.doc_id, c.attempt, "new")
    assert repo.complete(c.doc_id, c.attempt, {}, [], utcnow(), version=VERSION) == "new"
    with pytest.raises(StaleEvent):
        repo.note_pending(c.doc_id, c.attempt, "newer")  # that attempt is over
    again = claim(c.doc_id, etag="new", force=True)
    repo.begin_processing(again)
    assert repo.complete(c.doc_id, again.attempt, {}, [], utcnow(), version=VERSION) is None  # taken once


def test_a_failing_attempt_hands_over_the_noted_version_too(repo: Any) -> None:
    c = claim(new_id(), etag="old")
    repo.begin_processing(c)
    repo.note_pending(c.doc_id, c.attempt, "new")
    error = {"code": "corrupt", "message": "x"}
    assert repo.fail(c.doc_id, c.attempt, error, [], utcnow(), version=VERSION) == "new"


def test_releasing_a_claim_can_forget_the_noted_version(repo: Any) -> None:
    c = claim(new_id(), etag="old")
    repo.begin_processing(c)
    repo.note_pending(c.doc_id, c.attempt, "new")
    repo.release(c.doc_id, c.attempt)
    kept = claim(c.doc_id, etag="old", force=True)
    repo.begin_processing(kept)
    repo.release(kept.doc_id, kept.attempt, forget_pending=True)
    last = claim(c.doc_id, etag="new", force=True)
    repo.begin_processing(last)
    assert repo.complete(c.doc_id, last.attempt, {}, [], utcnow(), version=VERSION) is None
