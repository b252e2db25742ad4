"""Domain errors.

Services raise these; app.py turns them into HTTP responses in one place
(`http_status` and `code` are the whole contract). Nothing here carries an
ARN, a table name or a traceback to the client.
"""

from __future__ import annotations

from typing import Any


class DocpipeError(Exception):
    """Base class: a stable machine code, a human message, an HTTP status."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BadRequest(DocpipeError):
    code = "bad_request"
    http_status = 400


class Unauthorized(DocpipeError):
    code = "unauthorized"
    http_status = 401


class Forbidden(DocpipeError):
    code = "forbidden"
    http_status = 403


class NotFound(DocpipeError):
    code = "not_found"
    http_status = 404


class Conflict(DocpipeError):
    code = "conflict"
    http_status = 409


class StaleEvent(DocpipeError):
    """An event that must not change state (duplicate, older version, lease held)."""

    code = "stale_event"
    http_status = 409


class TransientError(DocpipeError):
    """A dependency failed in a way that a later try may not (throttling, 5xx, timeouts): retry, don't fail."""

    code = "unavailable"
    http_status = 503


class ExtractionFailed(DocpipeError):
    """A file could not be understood; `code` is the document's failure reason.

    Reason codes: corrupt, encrypted, too_large, timeout, unsupported,
    missing, size_mismatch, internal; and three that never end a document:
    `changed` (a newer version replaced the object while it was read),
    `unavailable` (storage kept failing or stalled) and `interrupted` (the
    extraction was stopped by something other than a limit we enforce); for
    the last two the event is retried (`PLATFORM_CODES`).
    """

    code = "corrupt"
    http_status = 422

    def __init__(self, message: str, code: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message, code)
        self.metadata = metadata
        """What was learned before the failure (detected type, family, size): a FAILED document keeps it."""


PLATFORM_CODES = frozenset({"unavailable", "interrupted"})
"""ExtractionFailed codes that are the platform's fault, never the file's: the attempt is retried."""
