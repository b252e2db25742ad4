"""The S3-event use case over in-memory twins: every file ends in a final status."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from chalicelib import ingest
from chalicelib.config import Settings
from chalicelib.extraction.rendition import when
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.ingest import IngestService, dropped_document_id, objects_from_s3_event
from chalicelib.models import Document, ObjectRef, Status, utcnow
from tests.fakes import InMemoryRepository, InMemoryStorage
from tests.support import samples
from tests.support.sandbox import kill_workers

BUCKET = "docpipe-uploads"


@pytest.fixture
def parts() -> tuple[IngestService, InMemoryRepository, InMemoryStorage]:
    repo, storage = InMemoryRepository(), InMemoryStorage()
    settings = Settings.from_env({"DOCPIPE_BUCKET": BUCKET, "DOCPIPE_MAX_UPLOAD_BYTES": "1000000"})
    return IngestService(repo, storage, settings), repo, storage  # type: ignore[arg-type]


def drop(storage: InMemoryStorage, key: str, data: bytes) -> ObjectRef:
    storage.put(BUCKET, key, data)
    return ObjectRef(BUCKET, key, size=len(data), etag=f"etag-{len(data)}-{hash(data) & 0xFFFF}")


def test_a_dropped_pdf_is_processed_with_its_page_count_title_and_author(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/report.pdf", samples.pdf(pages=3)))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.status is Status.PROCESSED
    meta = doc.metadata
    assert (meta["mime_type"], meta["family"], meta["page_count"]) == ("application/pdf", "pdf", 3)
    assert (meta["title"], meta["author"]) == ("Annual report", "Ada Lovelace")
    assert len(meta["sha256"]) == 64 and meta["size"] > 0
    assert doc.owner is None
    assert [e["event"] for e in doc.timeline] == ["processing_started", "processed"]


def test_a_dropped_jpeg_is_processed_with_its_dimensions(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/photos/cat.jpg", samples.jpeg(width=120, height=80)))
    doc = repo.get(outcome.doc_id)
    assert doc is not None
    assert (doc.metadata["width"], doc.metadata["height"], doc.metadata["family"]) == (120, 80, "image")
    assert doc.metadata["camera_make"] == "Canon"
    assert doc.filename == "cat.jpg"


def test_a_broken_pdf_fails_with_a_reason_instead_of_raising(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog"))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.status is Status.FAILED
    assert doc.error is not None and doc.error["code"] == "corrupt"
    assert doc.error["message"].startswith("pdf")


def test_processed_and_failed_documents_record_the_extraction_that_produced_them(parts) -> None:
    service, repo, storage = parts
    done = repo.get(service.process(drop(storage, "uploads/ok.pdf", samples.pdf(pages=1))).doc_id)
    broken = repo.get(service.process(drop(storage, "uploads/bad.pdf", b"%PDF-1.7\n1 0 obj << /Type")).doc_id)
    assert done is not None and done.status is Status.PROCESSED
    assert broken is not None and broken.status is Status.FAILED
    assert done.extractor_version == broken.extractor_version == EXTRACTOR_VERSION
    assert done.to_public()["extractor_version"] == EXTRACTOR_VERSION


def test_a_dropped_object_deleted_before_it_is_read_leaves_no_record(parts) -> None:
    service, repo, _ = parts
    outcome = service.process(ObjectRef(BUCKET, "uploads/gone.pdf", size=10, etag="e1"))
    assert (outcome.status, outcome.reason) == ("SKIPPED", "missing")
    assert repo.get(outcome.doc_id) is None


def test_an_api_upload_whose_object_vanished_fails_as_missing(parts) -> None:
    service, repo, _ = parts
    doc_id = "d" * 32
    key = f"uploads/user-1/{doc_id}/gone.pdf"
    now = utcnow()
    repo.create_pending(Document(doc_id, "user-1", BUCKET, key, "gone.pdf", Status.PENDING, now, now, declared_size=5))
    outcome = service.process(ObjectRef(BUCKET, key, size=5, etag="e1"))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.status is Status.FAILED
    assert doc.error == {"code": "missing", "message": "The object no longer exists"}


def test_the_same_file_uploaded_twice_by_one_owner_points_at_the_first_copy(parts) -> None:
    service, repo, storage = parts
    sub = "9510a210-8e36-411b-b045-6c06bc728213"
    body = samples.pdf(pages=2)
    first = service.process(drop(storage, f"uploads/{sub}/a.pdf", body))
    second = service.process(drop(storage, f"uploads/{sub}/copy of a.pdf", body))
    other = service.process(drop(storage, "uploads/elsewhere/a.pdf", body))
    assert repo.get(second.doc_id).metadata["duplicate_of"] == first.doc_id
    assert "duplicate_of" not in repo.get(first.doc_id).metadata
    assert "duplicate_of" not in repo.get(other.doc_id).metadata


def test_a_reprocess_request_runs_extraction_again_only_if_still_current(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/again.pdf", samples.pdf()))
    doc = repo.get(outcome.doc_id)
    assert service.reprocess(doc.id, "an older version").status == "SKIPPED"
    again = service.reprocess(doc.id, doc.updated_at)
    assert again.status == "PROCESSED"
    assert [e["event"] for e in repo.get(doc.id).timeline][-2:] == ["reprocessing", "processed"]


def test_an_unknown_binary_is_processed_as_octet_stream_with_a_hash(parts) -> None:
    service, repo, storage = parts
    blob = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(64))
    outcome = service.process(drop(storage, "uploads/blob.bin", blob))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.status is Status.PROCESSED
    assert doc.metadata["mime_type"] == "application/octet-stream"
    assert "sha256" in doc.metadata


def test_the_same_event_delivered_twice_is_processed_once(parts) -> None:
    service, _, storage = parts
    ref = drop(storage, "uploads/twice.pdf", samples.pdf())
    assert service.process(ref).status == "PROCESSED"
    again = service.process(ref)
    assert again.status == "SKIPPED" and again.reason == "stale_event"


def test_a_new_version_of_the_same_key_is_processed_again(parts) -> None:
    service, repo, storage = parts
    first = service.process(drop(storage, "uploads/v.pdf", samples.pdf(pages=1)))
    second = service.process(drop(storage, "uploads/v.pdf", samples.pdf(pages=4)))
    assert first.doc_id == second.doc_id and second.status == "PROCESSED"
    doc = repo.get(second.doc_id)
    assert doc is not None and doc.metadata["page_count"] == 4


def test_an_older_event_arriving_late_does_not_overwrite_the_newer_result(parts) -> None:
    service, repo, storage = parts
    new = drop(storage, "uploads/order.pdf", samples.pdf(pages=2))
    service.process(ObjectRef(BUCKET, new.key, new.size, "etag-new", sequencer="0062E99A88DC407461"))
    late = service.process(ObjectRef(BUCKET, new.key, new.size, "etag-old", sequencer="0062E99A88DC407460"))
    assert late.status == "SKIPPED"
    doc = repo.get(late.doc_id)
    assert doc is not None and doc.etag == "etag-new" and doc.status is Status.PROCESSED


def test_objects_outside_the_uploads_prefix_are_ignored(parts) -> None:
    service, _, storage = parts
    assert service.process(drop(storage, "renditions/x.html", b"<p>")).status == "SKIPPED"


def test_an_api_upload_keeps_its_owner_and_is_checked_against_the_declared_size(parts) -> None:
    service, repo, storage = parts
    doc_id = "a" * 32
    key = f"uploads/user-1/{doc_id}/scan.pdf"
    now = utcnow()
    repo.create_pending(Document(doc_id, "user-1", BUCKET, key, "scan.pdf", Status.PENDING, now, now, declared_size=5))
    outcome = service.process(drop(storage, key, samples.pdf()))
    doc = repo.get(outcome.doc_id)
    assert outcome.doc_id == doc_id and doc is not None and doc.owner == "user-1"
    assert doc.status is Status.FAILED and doc.error is not None and doc.error["code"] == "size_mismatch"


def test_a_key_that_only_looks_like_an_api_upload_is_treated_as_a_dropped_file(parts) -> None:
    service, repo, storage = parts
    key = f"uploads/someone/{'b' * 32}/claim.pdf"
    outcome = service.process(drop(storage, key, samples.pdf()))
    assert outcome.doc_id == dropped_document_id(BUCKET, key)
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.owner is None


def test_s3_event_keys_are_url_decoded_exactly_once() -> None:
    event = {
        "Records": [
            {"s3": {"bucket": {"name": BUCKET}, "object": {"key": "uploads/a+b%2Bc%25d%2F%C3%A9.pdf", "size": 3}}},
            {"s3": {"bucket": {"name": BUCKET}, "object": {"key": "uploads/100%25.txt", "sequencer": "0A"}}},
        ]
    }
    refs = objects_from_s3_event(event)
    assert [r.key for r in refs] == ["uploads/a b+c%d/é.pdf", "uploads/100%.txt"]
    assert refs[1].sequencer == "0A"


def test_a_file_dropped_under_a_users_id_belongs_to_that_user(parts) -> None:
    service, repo, storage = parts
    sub = "9510a210-8e36-411b-b045-6c06bc728213"
    outcome = service.process(drop(storage, f"uploads/{sub}/reports/q3.pdf", samples.pdf()))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.owner == sub and doc.filename == "q3.pdf"
    assert [d.id for d in repo.list_for_owner(sub, 10, None).items] == [doc.id]


def test_a_folder_that_is_not_a_user_id_gives_no_owner(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/9510a210-not-a-uuid/q3.pdf", samples.pdf()))
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.owner is None


def test_a_processed_document_gets_an_inert_rendition_outside_the_uploads_prefix(parts) -> None:
    service, repo, storage = parts
    hostile = samples.pdf(title='<script>alert(1)</script> <a href="javascript:alert(2)">x</a>')
    outcome = service.process(drop(storage, "uploads/hostile.pdf", hostile))
    key = (BUCKET, f"renditions/{outcome.doc_id}.html")
    assert key in storage.objects
    page = storage.objects[key].decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert repo.get(outcome.doc_id).metadata["details"]["rendition"] is True


def test_the_rendition_says_updated_when_the_document_became_processed(parts, monkeypatch) -> None:
    service, repo, storage = parts
    hours = iter(range(24))  # every step of processing an hour after the one before
    monkeypatch.setattr(ingest, "utcnow", lambda: f"2026-03-04T{next(hours):02d}:00:00.000000+00:00")
    outcome = service.process(drop(storage, "uploads/when.pdf", samples.pdf()))
    doc = repo.get(outcome.doc_id)
    page = storage.objects[(BUCKET, f"renditions/{outcome.doc_id}.html")].decode()
    assert f"<dt>Updated</dt><dd>{when(doc.updated_at)}</dd>" in page  # not the time processing started


def test_a_rendition_failure_leaves_the_document_processed_with_a_warning(parts, monkeypatch) -> None:
    service, repo, storage = parts

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage, "put_rendition", broken)
    outcome = service.process(drop(storage, "uploads/ok.pdf", samples.pdf()))
    doc = repo.get(outcome.doc_id)
    assert doc.status is Status.PROCESSED and "rendition: could not be written" in doc.warnings


def test_a_text_bearing_document_gets_its_text_stored_beside_the_rendition_read_in_one_pass(parts) -> None:
    service, repo, storage = parts
    words = "The committee approved the budget for the new library after a long debate about the roof."
    data = samples.text_pdf([words, words])
    reads: list[tuple[int, int]] = []
    real = storage.reader

    def counted(bucket: str, key: str, size: int, etag: str | None = None) -> object:
        reader = real(bucket, key, size, etag)
        fetch = reader._fetch

        def logged(start: int, end: int) -> bytes:
            reads.append((start, end))
            return fetch(start, end)

        reader._fetch = logged
        return reader

    storage.reader = counted
    outcome = service.process(drop(storage, "uploads/minutes.pdf", data))
    doc = repo.get(outcome.doc_id)
    assert doc.metadata["language"] == "en" and doc.metadata["word_count"] == 2 * len(words.split())
    assert doc.metadata["details"]["text"] == {"bytes": 2 * len(words) + 2, "truncated": False, "language": "en"}
    assert storage.objects[(BUCKET, f"renditions/{outcome.doc_id}.txt")].decode() == f"{words}\n\n{words}"
    assert words in storage.objects[(BUCKET, f"renditions/{outcome.doc_id}.html")].decode()
    assert sum(end - start + 1 for start, end in reads) == len(data)  # extraction, text and page: one read


def test_a_document_that_declares_its_language_keeps_it_and_the_detected_one_is_noted(parts) -> None:
    from tests.unit.extractors.test_office import ooxml

    service, repo, storage = parts
    french = "Le conseil municipal a approuvé le budget de la nouvelle bibliothèque après un long débat."
    body = f'<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>{french}</w:t></w:r></w:p></w:body></w:document>'
    data = ooxml("word/document.xml", **{"word/document.xml": body})  # its core.xml says en-GB, 420 words
    outcome = service.process(drop(storage, "uploads/note.docx", data))
    doc = repo.get(outcome.doc_id)
    assert (doc.metadata["language"], doc.metadata["word_count"]) == ("en-GB", 420)
    assert doc.metadata["details"]["text"]["language"] == "fr"


def test_a_failed_document_keeps_the_type_and_family_that_were_detected(parts) -> None:
    service, repo, storage = parts
    outcome = service.process(drop(storage, "uploads/broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog"))
    doc = repo.get(outcome.doc_id)
    assert doc.status is Status.FAILED and doc.error["code"] == "corrupt"
    assert (doc.metadata["mime_type"], doc.metadata["family"], doc.metadata["size"]) == ("application/pdf", "pdf", 34)


def test_an_attempt_that_lost_its_lease_stops_quietly(parts, monkeypatch) -> None:
    from chalicelib.errors import StaleEvent

    service, repo, storage = parts

    def taken_over(*args: object, **kwargs: object) -> None:
        raise StaleEvent("another attempt holds the document")

    monkeypatch.setattr(repo, "complete", taken_over)
    outcome = service.process(drop(storage, "uploads/slow.pdf", samples.pdf()))
    assert (outcome.status, outcome.reason) == ("SKIPPED", "superseded")


def test_eventbridge_object_created_events_are_decoded_once() -> None:
    from chalicelib.ingest import objects_from_eventbridge

    event = {
        "detail": {
            "bucket": {"name": BUCKET},
            "object": {
                "key": "uploads/a+b%2Bc%25.pdf",
                "size": 3,
                "etag": "abc",
                "sequencer": "0A",
                "version-id": "v1",
            },
        }
    }
    (ref,) = objects_from_eventbridge(event)
    assert (ref.key, ref.etag, ref.sequencer, ref.version_id) == ("uploads/a b+c%.pdf", "abc", "0A", "v1")
    assert objects_from_eventbridge({"detail": {"object": {}}}) == []


def test_a_transient_storage_failure_gives_the_claim_back_and_the_retry_finishes(parts, monkeypatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.errors import TransientError

    service, repo, storage = parts
    ref = drop(storage, "uploads/flaky.pdf", samples.pdf())
    real_head = storage.head
    calls = {"n": 0}

    def head(bucket: str, key: str, checksum: bool = False) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise EndpointConnectionError(endpoint_url="http://s3")
        return real_head(bucket, key, checksum)

    monkeypatch.setattr(storage, "head", head)
    with pytest.raises(TransientError):
        service.process(ref)
    assert repo.get(dropped_document_id(BUCKET, ref.key)).status is Status.PROCESSING
    assert service.process(ref).status == "PROCESSED"  # the redelivered event claims at once


def test_a_newer_version_that_arrives_during_an_attempt_is_processed_by_that_attempt(parts, monkeypatch) -> None:
    service, repo, storage = parts
    old = drop(storage, "uploads/ledger.pdf", samples.pdf(pages=1))
    newer: list[str] = []
    real_extract = service._extract

    def extract_then_replace(doc: Document, *rest: Any) -> object:
        result = real_extract(doc, *rest)
        if not newer:  # while the first attempt runs, version 2 lands and its event arrives
            new = drop(storage, "uploads/ledger.pdf", samples.pdf(pages=5))
            newer.append(service.process(new).reason or "")
        return result

    monkeypatch.setattr(service, "_extract", extract_then_replace)
    outcome = service.process(old)
    assert newer == ["queued_behind_running_attempt"] and outcome.status == "PROCESSED"
    doc = repo.get(outcome.doc_id)
    assert doc is not None and doc.metadata["page_count"] == 5


def test_an_unexpected_failure_while_finishing_gives_the_claim_back_for_the_redelivery(parts, monkeypatch) -> None:
    service, repo, storage = parts
    ref = drop(storage, "uploads/finish.pdf", samples.pdf())
    real = repo.find_candidates
    calls = {"n": 0}

    def broken_once(owner: str | None, size: int) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("unexpected")
        return real(owner, size)

    monkeypatch.setattr(repo, "find_candidates", broken_once)
    with pytest.raises(KeyError):
        service.process(ref)
    assert service.process(ref).status == "PROCESSED"


# -- duplicates without reading every file whole ---------------------------------------

OWNER = "9510a210-8e36-411b-b045-6c06bc728213"


def movie(tmp_path: Any, size: int = 1_000_000, tail: bytes = b"") -> bytes:
    """A movie read only at its ends (its media data is never fetched), optionally ending differently."""
    from tests.support.media import write_large_mp4

    path = tmp_path / f"m{size}.mp4"
    write_large_mp4(path, size)
    data = path.read_bytes()
    return data[: len(data) // 2] + tail + data[len(data) // 2 + len(tail) :]


def test_a_large_file_of_a_size_its_owner_has_no_other_of_is_never_read_whole(parts, tmp_path) -> None:
    service, repo, storage = parts
    doc = repo.get(service.process(drop(storage, f"uploads/{OWNER}/clip.mp4", movie(tmp_path))).doc_id)
    assert doc.status is Status.PROCESSED and storage.hashed == []
    assert "sha256" not in doc.metadata and doc.metadata["checksum"]["algorithm"] == "CRC32"


def test_a_large_copy_is_confirmed_by_sha256_of_both_files_only_then(parts, tmp_path) -> None:
    service, repo, storage = parts
    data = movie(tmp_path)
    first = service.process(drop(storage, f"uploads/{OWNER}/clip.mp4", data))
    second = service.process(drop(storage, f"uploads/{OWNER}/clip (copy).mp4", data))
    doc = repo.get(second.doc_id)
    assert doc.metadata["duplicate_of"] == first.doc_id
    assert sorted(k for _, k in storage.hashed) == [f"uploads/{OWNER}/clip (copy).mp4", f"uploads/{OWNER}/clip.mp4"]
    assert repo.get(first.doc_id).metadata["sha256"] == doc.metadata["sha256"]  # kept: never computed again
    storage.hashed.clear()
    third = service.process(drop(storage, f"uploads/{OWNER}/clip (3).mp4", data))
    assert repo.get(third.doc_id).metadata["duplicate_of"] == first.doc_id
    assert [k for _, k in storage.hashed] == [f"uploads/{OWNER}/clip (3).mp4"]


def test_same_size_files_whose_checksums_differ_are_told_apart_without_reading_them(parts, tmp_path) -> None:
    service, repo, storage = parts
    service.process(drop(storage, f"uploads/{OWNER}/a.mp4", movie(tmp_path)))
    other = service.process(drop(storage, f"uploads/{OWNER}/b.mp4", movie(tmp_path, tail=b"different")))
    assert "duplicate_of" not in repo.get(other.doc_id).metadata
    assert storage.hashed == []


def test_without_stored_checksums_same_size_files_are_compared_by_sha256(parts, tmp_path) -> None:
    service, repo, storage = parts
    storage.put(BUCKET, f"uploads/{OWNER}/a.mp4", movie(tmp_path), checksum=False)
    first = service.process(ObjectRef(BUCKET, f"uploads/{OWNER}/a.mp4", etag="a"))
    storage.put(BUCKET, f"uploads/{OWNER}/b.mp4", movie(tmp_path, tail=b"other"), checksum=False)
    other = service.process(ObjectRef(BUCKET, f"uploads/{OWNER}/b.mp4", etag="b"))
    storage.put(BUCKET, f"uploads/{OWNER}/c.mp4", movie(tmp_path), checksum=False)
    copy = service.process(ObjectRef(BUCKET, f"uploads/{OWNER}/c.mp4", etag="c"))
    assert "duplicate_of" not in repo.get(other.doc_id).metadata
    assert repo.get(copy.doc_id).metadata["duplicate_of"] == first.doc_id
    assert "checksum" not in repo.get(copy.doc_id).metadata


def test_a_small_file_read_whole_by_its_extraction_gets_its_sha256_without_another_read(parts) -> None:
    service, repo, storage = parts
    body = samples.pdf()
    doc = repo.get(service.process(drop(storage, f"uploads/{OWNER}/small.pdf", body)).doc_id)
    assert doc.metadata["sha256"] == hashlib.sha256(body).hexdigest()
    assert storage.hashed == []


def _reader_that(storage: InMemoryStorage, misbehave: Any) -> Any:
    """storage.reader whose first fetch misbehaves (for the extraction worker), later ones read normally."""
    from chalicelib.extraction.reader import RangedReader

    real = storage.reader
    calls = {"n": 0}

    def reader(bucket: str, key: str, size: int, etag: str | None = None) -> RangedReader:
        calls["n"] += 1
        good = real(bucket, key, size, etag)
        if calls["n"] > 1:
            return good

        def fetch(start: int, end: int) -> bytes:
            misbehave()
            return good.head(end + 1)[start:]

        return RangedReader(fetch, size)

    return reader


@pytest.mark.parametrize(
    "misbehave",
    [
        pytest.param(kill_workers, id="the worker killed from outside"),
        pytest.param(lambda: time.sleep(30), id="storage stalled past the deadline"),
    ],
)
def test_a_platform_fault_during_extraction_gives_the_claim_back_and_never_fails_the_file(
    parts, monkeypatch, misbehave
) -> None:
    from chalicelib.errors import TransientError

    _, repo, storage = parts
    settings = Settings.from_env({"DOCPIPE_BUCKET": BUCKET, "DOCPIPE_EXTRACT_TIMEOUT": "1"})
    service = IngestService(repo, storage, settings)
    ref = drop(storage, "uploads/innocent.pdf", samples.pdf())
    monkeypatch.setattr(storage, "reader", _reader_that(storage, misbehave))
    with pytest.raises(TransientError):
        service.process(ref)
    doc = repo.get(dropped_document_id(BUCKET, ref.key))
    assert doc.status is Status.PROCESSING and doc.error is None and doc.deadline == 0  # released
    assert service.process(ref).status == "PROCESSED"  # the redelivered event claims at once


@pytest.mark.parametrize("folder", ["feed", "1f6c0000-0000-4000-8000-000000000001"], ids=["no owner", "a user's"])
def test_every_dropped_object_has_the_size_limit_and_is_never_hashed_past_it(parts, monkeypatch, folder) -> None:
    service, repo, storage = parts
    ref = drop(storage, f"uploads/{folder}/huge.bin", b"\0" * 1_000_001)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("an object over the limit was read")

    monkeypatch.setattr(storage, "sha256", never)
    monkeypatch.setattr(storage, "reader", never)
    outcome = service.process(ref)
    doc = repo.get(outcome.doc_id)
    assert (outcome.status, doc.error["code"]) == ("FAILED", "too_large")
    assert doc.error["message"] == "The object is larger than the 1000000-byte limit"
