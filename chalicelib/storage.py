"""S3 access: object heads, ranged seekable readers, streamed hashing.

The only module that knows S3's API shape. Extractors get a `RangedReader`
and never see boto3.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed
from chalicelib.reader import RangedReader


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    content_type: str | None
    version_id: str | None
    metadata: dict[str, str]


class S3Storage:
    def __init__(self, s3: Any, settings: Settings) -> None:
        self._s3 = s3
        self._settings = settings

    def head(self, bucket: str, key: str) -> ObjectInfo:
        from botocore.exceptions import ClientError

        try:
            resp = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ExtractionFailed("The object no longer exists", code="missing") from exc
            raise
        return ObjectInfo(
            size=int(resp["ContentLength"]),
            etag=(resp.get("ETag") or "").strip('"') or None,
            content_type=resp.get("ContentType"),
            version_id=resp.get("VersionId"),
            metadata=dict(resp.get("Metadata") or {}),
        )

    def reader(self, bucket: str, key: str, size: int, etag: str | None = None) -> RangedReader:
        """A seekable reader; every block is one ranged GET pinned to the etag."""

        def fetch(start: int, end: int) -> bytes:
            params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end}"}
            if etag:
                params["IfMatch"] = etag
            body = self._s3.get_object(**params)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return RangedReader(fetch, size)

    def sha256(self, bucket: str, key: str, size: int, etag: str | None = None) -> str | None:
        """Stream the object through sha256 in 1 MiB chunks; None above the cap."""
        if size > self._settings.hash_max_bytes:
            return None
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if etag:
            params["IfMatch"] = etag
        body = self._s3.get_object(**params)["Body"]
        digest = hashlib.sha256()
        try:
            for chunk in body.iter_chunks(1024 * 1024):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()
