"""S3 access: object heads, ranged seekable readers, streamed hashing.

With `s3_stream` (an object streamed from an offset), the only modules that
know S3's API shape. Extractors get a `RangedReader` and never see boto3.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from chalicelib.config import RENDITIONS_PREFIX, UPLOADS_PREFIX, Settings
from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.reader import RangedReader


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    content_type: str | None
    version_id: str | None
    metadata: dict[str, str]
    checksum: str | None = None  # "<ALGORITHM>:<FULL_OBJECT|COMPOSITE>:<base64>" (see chalicelib.duplicates)


CHECKSUM_ALGORITHMS = ("CRC64NVME", "CRC32", "CRC32C", "SHA256", "SHA1")


PRESIGNED_READ_SECONDS = 900


READ_ATTEMPTS = 5
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


def _ranged_get(url: str, etag: str | None, timeout: float = 20.0) -> Callable[[int, int], bytes]:
    """fetch(start, end) over one HTTP Range request; a changed object is `changed`, a deleted one `missing`."""

    def fetch(start: int, end: int) -> bytes:
        headers = {"Range": f"bytes={start}-{end}"}
        if etag:
            headers["If-Match"] = f'"{etag}"'
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 412:
                raise ExtractionFailed("The object changed while it was read", code="changed") from exc
            if exc.code == 404:
                raise ExtractionFailed("The object no longer exists", code="missing") from exc
            raise

    return fetch


def retrying(
    fetch: Callable[[int, int], bytes], attempts: int = READ_ATTEMPTS, sleep: Callable[[float], None] = time.sleep
) -> Callable[[int, int], bytes]:
    """Retry 5xx answers, timeouts and dropped connections with jittered exponential backoff.

    When they keep failing the read ends as `unavailable`, which retries the
    whole event instead of failing the document.
    """

    def fetch_with_retries(start: int, end: int) -> bytes:
        error: Exception | None = None
        for attempt in range(attempts):
            try:
                return fetch(start, end)
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRYABLE_STATUS:
                    raise
                error = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                error = exc
            if attempt + 1 < attempts:
                sleep(min(2.0, 0.2 * 2**attempt) * (0.5 + random.random() / 2))
        raise ExtractionFailed(f"Storage kept failing: {type(error).__name__}", code="unavailable")

    return fetch_with_retries


class S3Storage:
    def __init__(self, s3: Any, settings: Settings) -> None:
        self._s3 = s3
        self._settings = settings

    def head(self, bucket: str, key: str, checksum: bool = False) -> ObjectInfo:
        """The object's size, etag and metadata; with `checksum`, also S3's stored checksum of it.

        ChecksumMode=ENABLED asks HeadObject for the checksum S3 keeps with the
        object (no extra request, no extra charge); objects stored without one
        simply return none.
        """
        try:
            params = {"Bucket": bucket, "Key": key} | ({"ChecksumMode": "ENABLED"} if checksum else {})
            resp = self._s3.head_object(**params)
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
            checksum=stored_checksum(resp),
        )

    def reader(self, bucket: str, key: str, size: int, etag: str | None = None) -> RangedReader:
        """A seekable reader; every block is one ranged GET pinned to the etag.

        It fetches through a short-lived presigned URL with urllib rather than
        the boto3 client, so a forked extraction child never shares the parent's
        pooled connections (and needs no credentials of its own).
        """
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_READ_SECONDS
        )
        return RangedReader(retrying(_ranged_get(url, etag)), size)

    def sha256(self, bucket: str, key: str, size: int, etag: str | None = None) -> str | None:
        """Stream the whole object through sha256 in 1 MiB chunks; None above the cap.

        Only where a duplicate cannot be ruled out otherwise (`chalicelib.duplicates`).
        """
        if size > self._settings.hash_max_bytes:
            return None

        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if etag:
            params["IfMatch"] = etag
        try:
            body = self._s3.get_object(**params)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise ExtractionFailed("The object changed while it was read", code="changed") from exc
            raise
        digest = hashlib.sha256()
        try:
            for chunk in body.iter_chunks(1024 * 1024):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    # -- what the API hands out and removes --------------------------------
    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires: int) -> dict[str, Any]:
        """A presigned POST that only accepts this key, this content type and at most max_bytes."""
        fields = {"Content-Type": content_type}
        conditions: list[Any] = [
            {"bucket": self._settings.bucket},
            {"key": key},
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
        ]
        post: dict[str, Any] = self._s3.generate_presigned_post(
            self._settings.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires
        )
        return post

    def presigned_get(
        self, bucket: str, key: str, expires: int, filename: str | None = None, content_type: str | None = None
    ) -> str:
        """A short-lived GET URL; with a filename, the browser saves it as an attachment."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        url: str = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        return url

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.head(bucket, key)
        except ExtractionFailed:
            return False
        return True

    def delete(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)

    def put_rendition(self, bucket: str, key: str, put_args: dict[str, Any]) -> None:
        """Write a rendition beside its document; never under the uploads prefix (it would trigger processing)."""
        if key.startswith(self._settings.uploads_prefix):
            raise ValueError("renditions must not be written under the uploads prefix")
        self._s3.put_object(Bucket=bucket, Key=key, **put_args)


def stored_checksum(head: dict[str, Any]) -> str | None:
    """The checksum in a HeadObject answer, as `models.Content.checksum` spells it.

    A value ending in -<parts> is a multipart upload's composite checksum,
    whatever ChecksumType says (older answers carry no type).
    """
    for algorithm in CHECKSUM_ALGORITHMS:
        value = str(head.get(f"Checksum{algorithm}") or "")
        if value:
            composite = head.get("ChecksumType") == "COMPOSITE" or (not head.get("ChecksumType") and "-" in value)
            return f"{algorithm}:{'COMPOSITE' if composite else 'FULL_OBJECT'}:{value}"
    return None


def linkable(key: str) -> bool:
    """False for keys with "." or ".." path segments: every HTTP client rewrites those in a URL's path
    before sending it, so no presigned link can address such an object."""
    return not any(part in (".", "..") for part in key.split("/"))


UNLINKABLE_WARNING = "download: the object key has '.' or '..' path segments, which no download link can address"


def content_disposition(filename: str) -> str:
    """RFC 6266 attachment header: an ASCII fallback plus the exact UTF-8 name."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


_DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def rendition_key(doc_id: str, prefix: str = RENDITIONS_PREFIX, uploads_prefix: str = UPLOADS_PREFIX) -> str:
    """Where a document's page is stored: `renditions/<doc_id>.html`, never under the uploads prefix."""
    if not _DOC_ID.match(doc_id):
        raise ValueError("a document id is 1-128 letters, digits, '-' or '_'")
    key = f"{prefix}{doc_id}.html"
    if not prefix or key.startswith(uploads_prefix):
        raise ValueError(f"renditions must not be stored under {uploads_prefix!r}: that prefix triggers processing")
    return key


def text_key(doc_id: str, prefix: str = RENDITIONS_PREFIX, uploads_prefix: str = UPLOADS_PREFIX) -> str:
    """Where a document's plain text is stored: beside its page, `renditions/<doc_id>.txt`."""
    return rendition_key(doc_id, prefix, uploads_prefix).removesuffix(".html") + ".txt"
