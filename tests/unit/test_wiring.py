"""Clients and services are built once and shared, even when many threads ask for them first at the same time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring


@pytest.fixture
def fresh() -> Iterator[None]:
    wiring.reset()
    yield
    wiring.reset()


def _first_use_from_threads(ask: Any, threads: int = 8) -> list[Any]:
    barrier = threading.Barrier(threads)
    got: list[Any] = []

    def first_use() -> None:
        barrier.wait()
        got.append(ask())

    started = [threading.Thread(target=first_use) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(60)
    assert len(got) == threads
    return got


def test_threads_asking_for_a_client_at_once_all_get_the_one_that_stays_shared(fresh: None) -> None:
    clients = _first_use_from_threads(lambda: wiring.client("dynamodb"))
    assert {id(c) for c in clients} == {id(wiring.client("dynamodb"))}


def test_the_repository_built_under_a_crowd_uses_the_shared_client(fresh: None) -> None:
    """A hook on `client("dynamodb")` (a fault, a request count) sees the repository's own writes."""
    repositories = _first_use_from_threads(lambda: (wiring.client("dynamodb"), wiring.repository())[1])
    assert {id(r) for r in repositories} == {id(wiring.repository())}
    assert wiring.repository()._db is wiring.client("dynamodb")
    assert wiring.ingest_service()._repo is wiring.repository()


def test_reset_forgets_every_shared_client_and_service(fresh: None) -> None:
    before = (wiring.settings(), wiring.client("dynamodb"), wiring.repository(), wiring.storage())
    wiring.reset()
    after = (wiring.settings(), wiring.client("dynamodb"), wiring.repository(), wiring.storage())
    assert all(old is not new for old, new in zip(before, after, strict=True))
