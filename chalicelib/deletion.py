"""Deleting a document completely, without holding an API request for it.

`request` (the API's DELETE) marks the document DELETING, deletes its file,
its rendition and its text, queues the first purge step, and answers at once.
`records.purge_step` is one step, run by on_records for each "purge" message
of the records queue (it lives with the queue's consumer, so that on_records
does not reach the S3 adapter and its grants): it
deletes the document's items (CSV rows, row errors, markers) in bounded
batches until the invocation's time is nearly up, then queues the next step;
a step that fails is redelivered by SQS, and every step is idempotent. The
document itself goes last, once the partition is empty and no write can still
be on its way: a chunk of rows a consumer read before the document was marked
may land after the bulk of the partition is gone, so the document waits until
the records queue's visibility timeout has passed since it was marked (a
consumer holds a message no longer than that), deleting any such late rows
first. Until then the document is listed as DELETING; afterwards it is 404.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from chalicelib.aws.purge import DocumentPurge
from chalicelib.aws.storage import S3Storage, rendition_key, text_key
from chalicelib.config import Settings
from chalicelib.errors import NotFound
from chalicelib.models import Document, utcnow

log = logging.getLogger("docpipe.deletion")


class Deletion:
    def __init__(
        self,
        purge: DocumentPurge,
        storage: S3Storage,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._purge = purge
        self._storage = storage
        self._settings = settings
        self._clock = clock

    def request(self, doc: Document) -> dict[str, Any]:
        """Mark the document DELETING, delete its objects, queue the purge (asking again repeats what is left)."""
        if not self._purge.mark(doc.id, utcnow(), int(self._clock())):
            raise NotFound("No such document")
        self._storage.delete(doc.bucket, doc.key)
        prefixes = (self._settings.renditions_prefix, self._settings.uploads_prefix)
        self._storage.delete(doc.bucket, rendition_key(doc.id, *prefixes))
        self._storage.delete(doc.bucket, text_key(doc.id, *prefixes))
        self._purge.send(doc.id)
        log.info("deletion requested", extra={"doc_id": doc.id})
        return {"id": doc.id, "status": "DELETING"}
