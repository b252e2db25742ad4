"""Ranged reads retry what a retry can fix, and say plainly what it cannot."""

from __future__ import annotations

import urllib.error
from email.message import Message

import pytest

from chalicelib.aws.storage import linkable, retrying
from chalicelib.errors import ExtractionFailed


def flaky(*failures: BaseException):
    calls = {"n": 0}

    def fetch(start: int, end: int) -> bytes:
        calls["n"] += 1
        if calls["n"] <= len(failures):
            raise failures[calls["n"] - 1]
        return b"x" * (end - start + 1)

    return fetch, calls


def http(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://s3/b/k", code, "error", Message(), None)


def test_server_errors_timeouts_and_dropped_connections_are_retried() -> None:
    fetch, calls = flaky(http(500), TimeoutError("slow"), urllib.error.URLError("reset"), http(503))
    assert retrying(fetch, sleep=lambda s: None)(0, 3) == b"xxxx"
    assert calls["n"] == 5


def test_a_read_that_keeps_failing_ends_as_unavailable_not_corrupt() -> None:
    fetch, calls = flaky(*[http(500)] * 10)
    with pytest.raises(ExtractionFailed) as info:
        retrying(fetch, attempts=3, sleep=lambda s: None)(0, 1)
    assert info.value.code == "unavailable" and calls["n"] == 3


@pytest.mark.parametrize("code", [403, 404, 416])
def test_client_errors_are_not_retried(code: int) -> None:
    fetch, calls = flaky(http(code))
    with pytest.raises(urllib.error.HTTPError):
        retrying(fetch, sleep=lambda s: None)(0, 1)
    assert calls["n"] == 1


def test_keys_with_dot_segments_cannot_be_linked_and_others_can() -> None:
    assert not linkable("uploads/u/../escape.txt") and not linkable("uploads/./x")
    assert linkable("uploads/u/..hidden/a..b.txt") and linkable("uploads/u/.profile")
