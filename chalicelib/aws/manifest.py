"""A CSV manifest in S3, written as a stream: the item source of a stale backfill's Distributed Map.

The manifest (one `doc_id` column) is one S3 multipart upload, so a selection
of millions is never held in memory: rows are buffered up to one part (8 MiB;
S3 wants at least 5 MiB for every part but the last) and uploaded. Writing can
span several Lambda invocations: `checkpoint` stores what is buffered as a
small carry object and returns the state to resume from; a later writer built
from that state reads the carry back and goes on with the next part number.
Parts uploaded after the last checkpoint are simply uploaded again (same part
numbers) by the resumed writer.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
"""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024
PART_BYTES = 8 * MIB
MIN_PART_BYTES = 5 * MIB
HEADER = "doc_id\n"


class ManifestWriter:
    def __init__(
        self, s3: Any, bucket: str, key: str, state: dict[str, Any] | None = None, part_bytes: int = PART_BYTES
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"S3 parts other than the last are at least {MIN_PART_BYTES} bytes")
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._part_bytes = part_bytes
        self._buffer: list[bytes] = []
        self._buffered = 0
        if state:
            self._upload_id = str(state["upload_id"])
            self.parts = int(state["parts"])
            self.rows = int(state["rows"])
            self._checkpoints = int(state.get("checkpoints", 0))
            carry = state.get("carry")
            if carry:
                self._append(s3.get_object(Bucket=bucket, Key=carry)["Body"].read())
        else:
            resp = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv")
            self._upload_id = str(resp["UploadId"])
            self.parts = 0
            self.rows = 0
            self._checkpoints = 0
            self._append(HEADER.encode())

    def add(self, doc_id: str) -> None:
        self._append(f"{doc_id}\n".encode())
        self.rows += 1
        if self._buffered >= self._part_bytes:
            self._upload_part()

    def checkpoint(self) -> dict[str, Any]:
        """Park the buffer in S3 and return the state a later writer resumes from."""
        self._checkpoints += 1
        carry = f"{self.key}.carry-{self._checkpoints}"
        self._s3.put_object(Bucket=self.bucket, Key=carry, Body=b"".join(self._buffer))
        return {
            "upload_id": self._upload_id,
            "parts": self.parts,
            "rows": self.rows,
            "carry": carry,
            "checkpoints": self._checkpoints,
        }

    def complete(self) -> int:
        """Upload the last part, assemble the object, drop carry objects; returns the rows written."""
        if self._buffered or not self.parts:
            self._upload_part()
        etags = self._uploaded_parts()
        self._s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": etags}
        )
        self._drop_carries()
        return self.rows

    def abort(self) -> None:
        self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        self._drop_carries()

    def _append(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)

    def _upload_part(self) -> None:
        self.parts += 1
        self._s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=self.parts,
            Body=b"".join(self._buffer),
        )
        self._buffer, self._buffered = [], 0

    def _uploaded_parts(self) -> list[dict[str, Any]]:
        """Every part S3 holds for this upload, up to the last one written (ListParts pages by 1,000)."""
        parts: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "UploadId": self._upload_id}
        while True:
            resp = self._s3.list_parts(**params)
            parts += [
                {"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                for p in resp.get("Parts", [])
                if p["PartNumber"] <= self.parts
            ]
            if not resp.get("IsTruncated"):
                return sorted(parts, key=lambda p: p["PartNumber"])
            params["PartNumberMarker"] = resp["NextPartNumberMarker"]

    def _drop_carries(self) -> None:
        for n in range(1, self._checkpoints + 1):
            self._s3.delete_object(Bucket=self.bucket, Key=f"{self.key}.carry-{n}")
