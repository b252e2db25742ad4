"""Reading documents on behalf of a verified caller.

Ownership is decided here and only here: a document belongs to its owner;
admins (the signed `cognito:groups` claim) may read every document, including
files dropped into S3 with no owner. Anyone else gets 404, never 403, so ids
of other users' documents cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import cursor
from chalicelib.config import Settings
from chalicelib.errors import BadRequest, Forbidden, NotFound
from chalicelib.models import Document
from chalicelib.repository import Repository

MAX_LIMIT = 100
DEFAULT_LIMIT = 25


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str | None
    groups: frozenset[str]
    admin: bool


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest("limit must be an integer", code="invalid_limit") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    return value


class DocumentService:
    def __init__(self, repository: Repository, settings: Settings) -> None:
        self._repo = repository
        self._settings = settings

    def get(self, caller: Caller, doc_id: str) -> Document:
        doc = self._repo.get(doc_id) if _plausible_id(doc_id) else None
        if doc is None or not (caller.admin or doc.owner == caller.sub):
            raise NotFound("No such document")
        return doc

    def list_mine(self, caller: Caller, limit: int, next_cursor: str | None) -> dict[str, Any]:
        scope = f"owner:{caller.sub}"
        start = cursor.decode(next_cursor, scope, self._secret())
        page = self._repo.list_for_owner(caller.sub, limit, start)
        return self._page(page.items, page.last_key, scope)

    def list_all(self, caller: Caller, limit: int, next_cursor: str | None) -> dict[str, Any]:
        if not caller.admin:
            raise Forbidden("Only administrators may list every document")
        scope = "all"
        start = cursor.decode(next_cursor, scope, self._secret())
        page = self._repo.list_all(limit, start)
        return self._page(page.items, page.last_key, scope)

    def _page(self, items: list[Document], last: dict[str, str] | None, scope: str) -> dict[str, Any]:
        return {"items": [d.summary() for d in items], "next": cursor.encode(last, scope, self._secret())}

    def _secret(self) -> str:
        return self._settings.cursor_secret or f"{self._settings.table}:{self._settings.user_pool_id}"


def _plausible_id(doc_id: str) -> bool:
    return len(doc_id) == 32 and all(c in "0123456789abcdef" for c in doc_id)
