"""Is this file one its owner already has? Found without reading every file whole.

S3 keeps a full-object checksum of every new object (CRC64NVME unless the
uploader chose another algorithm) and returns it with HeadObject when asked
(ChecksumMode=ENABLED):
https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
So a duplicate is looked for among the owner's documents of the same size
(the `by_size` index), and their checksums settle most cases at no cost:
two full-object checksums of the same algorithm that differ mean different
bytes. Only when a candidate is left that the checksums cannot rule out
(equal checksums, different algorithms, composite checksums of multipart
uploads, or none at all, as for objects the emulator stored through a browser
POST) is a sha256 computed, for this file and, if it has none yet, for the
candidate (which keeps it, so that file is never read for this again). A file
the extraction read whole has its sha256 already.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from chalicelib.errors import ExtractionFailed
from chalicelib.models import Candidate, Content, Document

log = logging.getLogger("docpipe.duplicates")

FULL_OBJECT = "FULL_OBJECT"
MAX_CANDIDATE_READS = 3
"""At most this many other files are read whole to settle one document's question."""


class Hasher(Protocol):
    def sha256(self, bucket: str, key: str, size: int, etag: str | None = None) -> str | None: ...


class CandidateStore(Protocol):
    def find_candidates(self, owner: str | None, size: int) -> list[Candidate]: ...
    def get(self, doc_id: str) -> Document | None: ...
    def set_sha256(self, doc_id: str, sha256: str) -> None: ...


def verdict(a: Content, b: Content) -> bool | None:
    """True: the same bytes; False: different bytes; None: only the sha256 of both can tell."""
    if a.size != b.size:
        return False
    if a.sha256 and b.sha256:
        return a.sha256 == b.sha256
    first, second = _parts(a.checksum), _parts(b.checksum)
    if first and second and first[:2] == second[:2] and first[1] == FULL_OBJECT and first[2] != second[2]:
        return False
    return None


def checksum_field(checksum: str) -> dict[str, str]:
    """The checksum as documents show it: {"algorithm": "CRC64NVME", "type": "FULL_OBJECT", "value": "..."}."""
    algorithm, kind, value = checksum.split(":", 2)
    return {"algorithm": algorithm, "type": kind, "value": value}


def _parts(checksum: str | None) -> tuple[str, str, str] | None:
    if not checksum or checksum.count(":") < 2:
        return None
    algorithm, kind, value = checksum.split(":", 2)
    return algorithm, kind, value


class DuplicateCheck:
    def __init__(self, store: CandidateStore, hasher: Hasher) -> None:
        self._store = store
        self._hasher = hasher

    def find(self, doc: Document, content: Content, warnings: list[str]) -> tuple[str | None, Content]:
        """(the oldest earlier document with the same bytes, or None; `content` with any sha256 computed)."""
        candidates = sorted(
            (c for c in self._store.find_candidates(doc.owner, content.size) if c.doc_id != doc.id),
            key=lambda c: (c.created_at, c.doc_id),
        )
        reads = 0
        for candidate in candidates:
            same = verdict(content, candidate.content)
            if same is None:
                content = self._own_sha256(doc, content, warnings)
                if content.sha256 is None:
                    return None, content
                other = candidate.content
                if other.sha256 is None and reads < MAX_CANDIDATE_READS:
                    reads += 1
                    other = self._their_sha256(candidate)
                same = verdict(content, other)
            if same:
                return candidate.doc_id, content
        return None, content

    def _own_sha256(self, doc: Document, content: Content, warnings: list[str]) -> Content:
        if content.sha256 is not None:
            return content
        digest = self._hasher.sha256(doc.bucket, doc.key, content.size, doc.etag)
        if digest is None:
            warnings.append("duplicates: not compared, the file is larger than the hashing cap")
        return replace(content, sha256=digest)

    def _their_sha256(self, candidate: Candidate) -> Content:
        """The candidate's sha256, computed from its object and kept on it; its content unchanged if that fails."""
        other = self._store.get(candidate.doc_id)
        if other is None:
            return candidate.content
        try:
            digest = self._hasher.sha256(other.bucket, other.key, candidate.content.size, other.etag)
        except ExtractionFailed:  # gone or changed since: not a duplicate to point at
            return candidate.content
        if digest is None:
            return candidate.content
        self._store.set_sha256(candidate.doc_id, digest)
        log.info("sha256 computed for a duplicate candidate", extra={"candidate": candidate.doc_id})
        return replace(candidate.content, sha256=digest)
