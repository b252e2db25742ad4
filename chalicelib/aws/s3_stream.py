"""An S3 object streamed from a byte offset: one ranged GET, pinned to the ETag.

Kept apart from `storage` on purpose: the IAM analysis (`deploy/calls.py`)
grants per module, and the records function, which only streams uploads, must
not be granted the writes and deletes that `storage` also makes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO


def s3_opener(s3: Any, bucket: str, key: str, etag: str | None, size: int) -> Callable[[int], BinaryIO]:
    """open_stream(offset): the object's bytes from `offset`, streamed by one ranged GET pinned to the etag."""

    def open_at(offset: int) -> BinaryIO:
        if offset >= size:
            return io.BytesIO(b"")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if offset:
            params["Range"] = f"bytes={offset}-"
        if etag:
            params["IfMatch"] = etag
        body: BinaryIO = s3.get_object(**params)["Body"]
        return body

    return open_at
