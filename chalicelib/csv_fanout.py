"""The CSV records producer as a service: start a document's records, or resume a continuation.

It opens the object (one ranged GET from an offset, pinned to the ETag),
learns the records queue's limits once, and runs one leg of production
(`csv_production.fan_out`) within the deadline; a leg resumed from a
continuation message runs at most a share of the queue's visibility timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from chalicelib.aws.records_store import RecordsStore, leg_marker
from chalicelib.aws.s3_stream import s3_opener
from chalicelib.aws.sqs import SqsSender, queue_limits
from chalicelib.config import FanOutSettings
from chalicelib.csv_production import Continuation, FanOutResult, fan_out, first_leg
from chalicelib.extraction.extractors.tabular import SAMPLE_BYTES
from chalicelib.extraction.streams import Prefixed, read_exactly

log = logging.getLogger("docpipe.csv_fanout")


class CsvFanOut:
    """The producer as a service: start a document's records, or resume from a continuation."""

    def __init__(
        self,
        s3: Any,
        sqs: Any,
        queue_name: str,
        store: RecordsStore,
        settings: FanOutSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self._sqs = sqs
        self._queue_name = queue_name
        self._store = store
        self._settings = settings or FanOutSettings()
        self._clock = clock
        self._queue: tuple[str, int, int] | None = None

    def _queue_info(self) -> tuple[str, int, int]:
        """(url, MaximumMessageSize, VisibilityTimeout) of the records queue, read once."""
        if self._queue is None:
            self._queue = queue_limits(self._sqs, self._queue_name)
        return self._queue

    def _sender(self) -> SqsSender:
        url, max_size, _ = self._queue_info()
        return SqsSender(self._sqs, url, max_size, self._settings)

    def start(
        self,
        doc_id: str,
        bucket: str,
        key: str,
        size: int,
        etag: str | None,
        deadline: float,
        prefer_tab: bool = False,
    ) -> FanOutResult:
        """Begin a new run for the document (records → QUEUED) and produce until done or the deadline."""
        opener = s3_opener(self._s3, bucket, key, etag, size)
        stream = opener(0)
        try:
            sample = read_exactly(stream, SAMPLE_BYTES)
        except BaseException:
            stream.close()
            raise
        cont = first_leg(doc_id, bucket, key, etag, size, sample, prefer_tab)
        self._store.begin(doc_id, cont.run)

        def reuse_first_stream(offset: int) -> BinaryIO:
            return cast(BinaryIO, Prefixed(sample, stream)) if offset == 0 else opener(offset)

        return fan_out(cont, reuse_first_stream, self._sender(), self._store, self._settings, deadline, self._clock)

    def resume(self, message: dict[str, Any], deadline: float) -> FanOutResult | None:
        """Produce the leg a continuation message asks for (None when that leg was already produced)."""
        cont = Continuation.from_message(message)
        progress = self._store.progress(cont.doc_id)
        if progress is None or progress.run != cont.run or progress.total is not None:
            log.info("dropping a continuation of a finished or replaced run", extra={"doc_id": cont.doc_id})
            return None
        if self._store.has_marker(cont.doc_id, cont.run, leg_marker(cont.leg)):
            return None
        _, _, visibility = self._queue_info()
        deadline = min(deadline, self._clock() + visibility * self._settings.leg_share_of_visibility)
        opener = s3_opener(self._s3, cont.bucket, cont.key, cont.etag, cont.size)
        result = fan_out(cont, opener, self._sender(), self._store, self._settings, deadline, self._clock)
        self._store.put_marker(cont.doc_id, cont.run, leg_marker(cont.leg))
        return result
