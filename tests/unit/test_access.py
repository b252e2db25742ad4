"""Admin rights: owners do everything with their documents; admins read and reprocess all, delete ownerless files."""

from __future__ import annotations

import pytest

from chalicelib.access import Action, allowed, require, require_admin
from chalicelib.errors import Forbidden, NotFound
from chalicelib.models import Caller

OWNER = Caller(sub="owner", username="owner", groups=frozenset(), admin=False)
OTHER = Caller(sub="other", username="other", groups=frozenset(), admin=False)
ADMIN = Caller(sub="admin", username="admin", groups=frozenset({"admins"}), admin=True)


@pytest.mark.parametrize(
    ("caller", "owner", "expected"),
    [
        (OWNER, "owner", {Action.READ, Action.OPERATE, Action.DELETE}),
        (OTHER, "owner", set()),
        (OTHER, None, set()),
        (ADMIN, "owner", {Action.READ, Action.OPERATE}),
        (ADMIN, None, {Action.READ, Action.OPERATE, Action.DELETE}),
        (ADMIN, "admin", {Action.READ, Action.OPERATE, Action.DELETE}),
    ],
)
def test_each_caller_may_do_exactly_what_the_rule_says(caller: Caller, owner: str | None, expected: set) -> None:
    assert {a for a in Action if allowed(caller, owner, a)} == expected


def test_someone_who_may_not_read_a_document_is_told_it_does_not_exist() -> None:
    for action in Action:
        with pytest.raises(NotFound):
            require(OTHER, "owner", action)


def test_an_admin_deleting_a_users_document_is_told_why_not() -> None:
    with pytest.raises(Forbidden) as caught:
        require(ADMIN, "owner", Action.DELETE)
    assert caught.value.code == "owner_only" and "without an owner" in caught.value.message


def test_admin_only_routes_refuse_everyone_else_with_403() -> None:
    require_admin(ADMIN, "list every document")
    with pytest.raises(Forbidden, match="Only administrators may list every document"):
        require_admin(OWNER, "list every document")
