"""Paging: how many items a caller may ask for, and opaque, tamper-proof cursors.

A cursor is the DynamoDB LastEvaluatedKey plus the scope it was issued for
(the caller and the listing), signed with HMAC-SHA256. A cursor edited by a
client, or replayed by another user, fails verification and is a 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from chalicelib.errors import BadRequest

MAX_LIMIT = 100
DEFAULT_LIMIT = 25


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: dict[str, str] | None, scope: str, secret: str) -> str | None:
    if not key:
        return None
    payload = json.dumps({"k": key, "s": scope}, separators=(",", ":"), sort_keys=True).encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    return _b64(payload) + "." + _b64(sig)


def decode(cursor: str | None, scope: str, secret: str) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        body, sig = cursor.split(".", 1)
        payload = _unb64(body)
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("bad signature")
        data = json.loads(payload)
        key = data["k"]
        if data["s"] != scope or not isinstance(key, dict):
            raise ValueError("wrong scope")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in key.items()):
            raise ValueError("bad key")
        return key
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("The pagination cursor is invalid", code="invalid_cursor") from exc


def parse_limit(raw: str | None) -> int:
    """The `limit` query parameter of any listing: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest("limit must be an integer", code="invalid_limit") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    return value
