"""Which failures of an AWS call are the platform's, worth a retry, and never a reason to fail a document.

The use cases decide what to do with a transient fault (give the claim back,
let the event be redelivered); telling one from a real error means reading
botocore's exceptions, which is the adapters' business, so the rule lives here.
Throttling and server-side codes follow botocore's standard retry mode list
(botocore/retries/standard.py) plus S3's SlowDown/RequestTimeout.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as ConnectionLost

from chalicelib.errors import TransientError

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "InternalServerError",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx, timeouts and dropped connections: worth a retry, never a failed document."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _THROTTLING or int(status or 0) >= 500
    return isinstance(exc, (ConnectionLost, HTTPClientError, TimeoutError))
