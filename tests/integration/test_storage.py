"""S3 access over HTTP against the emulator: ranged reads fetch only what is asked."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.errors import ExtractionFailed

pytestmark = pytest.mark.emulator


def put(aws: dict[str, Any], stack: Any, data: bytes) -> str:
    key = f"scratch/{uuid.uuid4().hex}.bin"
    aws["s3"].put_object(Bucket=stack.names.bucket, Key=key, Body=data)
    return key


def test_a_ranged_reader_reads_the_tail_of_a_large_object_without_the_rest(aws, stack) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    key = put(aws, stack, data)
    storage = wiring.storage()
    info = storage.head(stack.names.bucket, key)
    reader = storage.reader(stack.names.bucket, key, info.size, info.etag)
    reader.seek(-100, 2)
    assert reader.read() == data[-100:]
    reader.seek(1000)
    assert reader.read(10) == data[1000:1010]
    assert reader.bytes_fetched <= 256 * 1024


def test_the_hash_is_streamed_and_matches(aws, stack) -> None:
    data = b"docpipe" * 300_000
    key = put(aws, stack, data)
    storage = wiring.storage()
    assert storage.sha256(stack.names.bucket, key, len(data)) == hashlib.sha256(data).hexdigest()


def test_a_missing_object_is_reported_as_missing(stack) -> None:
    with pytest.raises(ExtractionFailed) as info:
        wiring.storage().head(stack.names.bucket, "uploads/never-there.pdf")
    assert info.value.code == "missing"


def test_head_reports_size_and_etag(aws, stack) -> None:
    key = put(aws, stack, b"12345")
    info = wiring.storage().head(stack.names.bucket, key)
    assert info.size == 5 and info.etag == hashlib.md5(b"12345", usedforsecurity=False).hexdigest()


def test_head_reports_the_checksum_s3_keeps_when_asked(aws, stack) -> None:
    import base64
    import zlib

    data = b"checksummed" * 1000
    key = put(aws, stack, data)  # boto3 sends a CRC32 with every upload; S3 keeps it as the full-object checksum
    storage = wiring.storage()
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert storage.head(stack.names.bucket, key, checksum=True).checksum == f"CRC32:FULL_OBJECT:{crc}"
    assert storage.head(stack.names.bucket, key).checksum is None  # not asked: HeadObject leaves it out


def test_a_browser_post_has_no_checksum_on_the_emulator_which_is_the_fallback_duplicates_handle(stack) -> None:
    """AWS stores a CRC64NVME for every new object, POSTs included; moto 5.2.5 stores none for a POST."""
    import requests

    storage = wiring.storage()
    key = f"uploads/post-{uuid.uuid4().hex}.bin"
    post = storage.presigned_post(key, "application/octet-stream", 1000, 60)
    requests.post(post["url"], data=post["fields"], files={"file": b"posted"}, timeout=30).raise_for_status()
    assert storage.head(stack.names.bucket, key, checksum=True).checksum is None
