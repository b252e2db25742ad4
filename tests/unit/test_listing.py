"""Listing documents: search, sort orders, and paging through a sorted listing (the in-memory twin)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chalicelib import search
from chalicelib.config import Settings
from chalicelib.documents import DocumentService
from chalicelib.errors import BadRequest
from chalicelib.models import Caller, Document, Status
from tests.fakes import InMemoryRepository

ME = Caller(sub="me", username="me", groups=frozenset(), admin=False)
ADMIN = Caller(sub="boss", username="boss", groups=frozenset({"admins"}), admin=True)


def service(repo: InMemoryRepository) -> DocumentService:
    settings = Settings.from_env({**os.environ, "DOCPIPE_CURSOR_SECRET": "listing-test-key"})
    return DocumentService(repo, storage=None, settings=settings, bus=None, deletion=None)  # type: ignore[arg-type]


def add(
    repo: InMemoryRepository, name: str, size: int, day: int, status: Status = Status.PROCESSED, **meta: Any
) -> str:
    doc_id = f"{day:032x}"
    at = f"2026-01-{day:02d}T10:00:00.000+00:00"
    doc = Document(doc_id, "me", "b", f"uploads/me/{doc_id}/{name}", name, Status.PENDING, at, at, declared_size=size)
    repo.create_pending(doc)
    item = repo._items[doc_id]
    metadata = {"size": size, "family": "pdf", **meta}
    item.update(status=status.value, metadata=metadata, search=search.search_text(metadata))
    return doc_id


def every(svc: DocumentService, caller: Caller, **params: str) -> tuple[list[str], list[dict[str, Any]]]:
    names: list[str] = []
    pages: list[dict[str, Any]] = []
    query = {"limit": "2", **params}
    while True:
        page = svc.list_all(caller, query) if caller.admin else svc.list_mine(caller, query)
        pages.append(page)
        names += [d["filename"] for d in page["items"]]
        if not page["next"]:
            return names, pages
        query["next"] = page["next"]


@pytest.fixture
def listing() -> tuple[InMemoryRepository, DocumentService]:
    repo = InMemoryRepository()
    add(repo, "beta.pdf", 300, 1)
    add(repo, "Alpha.pdf", 100, 2, Status.FAILED)
    add(repo, "gamma.pdf", 200, 3, title="Quarterly Résumé")
    add(repo, "alpha 2.pdf", 200, 4)
    return repo, service(repo)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created", ["alpha 2.pdf", "gamma.pdf", "Alpha.pdf", "beta.pdf"]),
        ("created", ["beta.pdf", "Alpha.pdf", "gamma.pdf", "alpha 2.pdf"]),
        ("name", ["alpha 2.pdf", "Alpha.pdf", "beta.pdf", "gamma.pdf"]),
        ("-name", ["gamma.pdf", "beta.pdf", "Alpha.pdf", "alpha 2.pdf"]),
        ("size", ["Alpha.pdf", "alpha 2.pdf", "gamma.pdf", "beta.pdf"]),
        ("-size", ["beta.pdf", "alpha 2.pdf", "gamma.pdf", "Alpha.pdf"]),
        ("status", ["Alpha.pdf", "alpha 2.pdf", "gamma.pdf", "beta.pdf"]),
        ("-status", ["alpha 2.pdf", "gamma.pdf", "beta.pdf", "Alpha.pdf"]),
    ],
)
def test_every_sort_order_pages_through_every_document_once(listing: Any, sort: str, expected: list[str]) -> None:
    _, svc = listing
    names, pages = every(svc, ME, sort=sort)
    assert names == expected and len(pages) == 2 and all("sorted_newest" not in p for p in pages)


def test_a_sorted_listing_combines_with_search_and_filters(listing: Any) -> None:
    _, svc = listing
    assert every(svc, ME, sort="name", q="ALPHA")[0] == ["alpha 2.pdf", "Alpha.pdf"]
    assert every(svc, ME, sort="-size", status="PROCESSED")[0] == ["beta.pdf", "alpha 2.pdf", "gamma.pdf"]
    assert every(svc, ME, q="resume")[0] == ["gamma.pdf"]


def test_beyond_the_sort_window_only_the_newest_are_sorted_and_the_answer_says_so(
    listing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, svc = listing
    monkeypatch.setattr(search, "SORT_WINDOW", 3)
    names, pages = every(svc, ME, sort="name")
    assert names == ["alpha 2.pdf", "Alpha.pdf", "gamma.pdf"]  # beta.pdf is the oldest: outside the window
    assert all(p["sorted_newest"] == 3 for p in pages)


def test_a_cursor_from_one_order_is_refused_in_another(listing: Any) -> None:
    _, svc = listing
    page = svc.list_mine(ME, {"limit": "2", "sort": "name"})
    with pytest.raises(BadRequest, match="cursor"):
        svc.list_mine(ME, {"limit": "2", "sort": "size", "next": page["next"]})


@pytest.mark.parametrize(
    "params",
    [{"sort": "owner"}, {"sort": "NAME"}, {"q": "x" * 101}, {"q": "y" * 401}],
)
def test_an_unknown_order_or_an_overlong_search_is_a_400(listing: Any, params: dict[str, str]) -> None:
    _, svc = listing
    with pytest.raises(BadRequest):
        svc.list_mine(ME, params)


def test_a_blank_search_lists_everything(listing: Any) -> None:
    _, svc = listing
    assert len(every(svc, ME, q="   ")[0]) == 4


def test_a_listing_shows_a_csvs_ingest_state_beside_its_status() -> None:
    repo = InMemoryRepository()
    doc_id = add(repo, "ledger.csv", 10, 5, family="tabular")
    repo._items[doc_id]["records"] = {"state": "INGESTING", "total": 10, "written": 4, "failed": 0, "run": "x"}
    (item,) = service(repo).list_mine(ME, {})["items"]
    assert item["status"] == "PROCESSED" and item["records"] == {
        "state": "INGESTING",
        "total": 10,
        "written": 4,
        "failed": 0,
    }
