"""Pagination cursors are opaque and cannot be edited or replayed across scopes."""

from __future__ import annotations

import pytest

from chalicelib import paging as cursor
from chalicelib.errors import BadRequest

KEY = {"pk": "DOC#1", "sk": "DOC", "gsi1pk": "OWNER#u1", "gsi1sk": "2026-01-01#1"}


def test_a_cursor_round_trips_to_the_same_key() -> None:
    token = cursor.encode(KEY, "owner:u1", "secret")
    assert token is not None
    assert cursor.decode(token, "owner:u1", "secret") == KEY


def test_no_key_means_no_cursor_and_no_cursor_means_the_first_page() -> None:
    assert cursor.encode(None, "owner:u1", "secret") is None
    assert cursor.decode(None, "owner:u1", "secret") is None
    assert cursor.decode("", "owner:u1", "secret") is None


def test_a_cursor_issued_to_one_user_is_refused_for_another() -> None:
    token = cursor.encode(KEY, "owner:u1", "secret")
    with pytest.raises(BadRequest):
        cursor.decode(token, "owner:u2", "secret")


def test_an_edited_cursor_is_refused() -> None:
    token = cursor.encode(KEY, "owner:u1", "secret")
    assert token is not None
    sig = token.split(".")[1]
    forged = cursor.encode({**KEY, "gsi1pk": "OWNER#u2"}, "owner:u1", "other-secret")
    assert forged is not None
    with pytest.raises(BadRequest):
        cursor.decode(forged.split(".")[0] + "." + sig, "owner:u1", "secret")


@pytest.mark.parametrize("garbage", ["x", "a.b", "....", "%%%.###", "eyJ9.AAAA"])
def test_garbage_cursors_are_a_bad_request(garbage: str) -> None:
    with pytest.raises(BadRequest) as info:
        cursor.decode(garbage, "owner:u1", "secret")
    assert info.value.code == "invalid_cursor"
