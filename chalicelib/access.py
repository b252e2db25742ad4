"""Who may do what with a document: one rule for every route (and any later admin-only one).

- read (metadata, listings, download, preview, rows, events): the owner and
  administrators (members of the `admins` group);
- operate (reprocess, re-extract): the owner and administrators; running
  extraction again changes no one's data, and operators need it for fixes;
- delete: the owner only; administrators delete only files that have no owner
  (dropped into S3 by a data provider), which no one else could remove. An
  administrator's token that leaks, or a mistaken click in the admin view,
  never destroys a user's file.

Someone who may not read a document gets 404, so ids of other users'
documents cannot be probed; an administrator who may read it but not delete
it gets 403, which says why.
"""

from __future__ import annotations

from enum import StrEnum

from chalicelib.errors import Forbidden, NotFound
from chalicelib.models import Caller


class Action(StrEnum):
    READ = "read"
    OPERATE = "operate"
    DELETE = "delete"


def allowed(caller: Caller, owner: str | None, action: Action) -> bool:
    if owner is not None and owner == caller.sub:
        return True
    if not caller.admin:
        return False
    return action is not Action.DELETE or owner is None


def require(caller: Caller, owner: str | None, action: Action) -> None:
    """Raise NotFound (may not even read) or Forbidden (may read, not this) unless `action` is allowed."""
    if allowed(caller, owner, action):
        return
    if not allowed(caller, owner, Action.READ):
        raise NotFound("No such document")
    raise Forbidden(
        "Administrators may read and reprocess every document but delete only files without an owner",
        code="owner_only",
    )


def require_admin(caller: Caller, what: str) -> None:
    """For routes that exist for administrators only (403 for everyone else)."""
    if not caller.admin:
        raise Forbidden(f"Only administrators may {what}")
