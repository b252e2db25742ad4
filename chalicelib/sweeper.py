"""No file left behind: the scheduled sweep over everything that has a deadline.

- An upload URL was issued but nothing arrived before it expired (plus a grace
  period): the document goes PENDING → FAILED with reason `expired`. An
  upload is first looked at after one lease (`models.first_sweep`): one still
  on its way is looked at again when its URL has expired; one whose file
  arrived keeps that entry through its processing attempt (a claim does not
  move it), so it is handled as the attempt below.
- A processing attempt outlived its lease (the Lambda timed out or crashed):
  the document is retried through the same ReprocessRequested event the API
  uses, up to `max_attempts` claims in all; after that it is FAILED with
  reason `timeout`.
- A deletion still under way long after it was asked for (its purge step was
  lost, e.g. dead-lettered): another purge step is queued.
The lists come from the sparse `by_deadline` index, so a sweep reads only
the overdue documents, never the table. An entry says when to look, not what
to do: each document is read as it is now, and one whose attempt still holds
its lease is looked at again when the lease ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.aws.bus import EventBus
from chalicelib.aws.purge import RETRY_SECONDS, DocumentPurge
from chalicelib.aws.repository import Repository
from chalicelib.config import Settings
from chalicelib.contracts import API_SOURCE, REPROCESS_REQUESTED
from chalicelib.errors import StaleEvent
from chalicelib.extraction.version import EXTRACTOR_VERSION
from chalicelib.models import Document, Status, upload_deadline, utcnow

log = logging.getLogger("docpipe.sweeper")

BATCH = 100


@dataclass
class SweepReport:
    expired: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    purges: int = 0


class SweeperService:
    def __init__(
        self, repository: Repository, bus: EventBus, settings: Settings, purge: DocumentPurge | None = None
    ) -> None:
        self._repo = repository
        self._bus = bus
        self._settings = settings
        self._purge = purge

    def sweep(self, now_epoch: int) -> dict[str, int]:
        report = SweepReport()
        for doc in self._repo.overdue(Status.PENDING, now_epoch, BATCH):
            if doc.status is Status.PROCESSING:
                self._recover(doc, now_epoch, report)  # its file arrived: its attempt kept the upload's entry
            elif now_epoch < upload_deadline(doc.created_at):
                self._repo.postpone(doc.id, Status.PENDING, upload_deadline(doc.created_at))  # still on its way
                report.skipped += 1
            else:
                self._expire(doc, report)
        for doc in self._repo.overdue(Status.PROCESSING, now_epoch, BATCH):
            self._recover(doc, now_epoch, report)
        if self._purge is not None:
            for doc in self._repo.overdue(Status.DELETING, now_epoch, BATCH):
                self._purge.send(doc.id)
                self._repo.postpone(doc.id, Status.DELETING, now_epoch + RETRY_SECONDS)
                report.purges += 1
        if report.expired or report.retried or report.failed or report.purges:
            log.info("sweep: %s", report.__dict__)
        return dict(report.__dict__)

    def _expire(self, doc: Document, report: SweepReport) -> None:
        error = {"code": "expired", "message": "No file was uploaded before the upload URL expired"}
        try:
            self._repo.expire_pending(doc.id, error, utcnow())
            report.expired += 1
        except StaleEvent:
            report.skipped += 1  # the upload arrived meanwhile

    def _recover(self, doc: Document, now_epoch: int, report: SweepReport) -> None:
        if doc.status is not Status.PROCESSING or doc.attempt is None:
            report.skipped += 1
            return
        if doc.deadline is not None and doc.deadline >= now_epoch:  # its attempt still holds its lease
            self._repo.postpone(doc.id, Status.PROCESSING, doc.deadline + 1)
            report.skipped += 1
            return
        if doc.attempts >= self._settings.max_attempts:
            self._give_up(doc, report)
            return
        self._repo.add_event(doc.id, {"at": utcnow(), "event": "lease_expired", "attempts": doc.attempts})
        self._bus.put(API_SOURCE, REPROCESS_REQUESTED, {"doc_id": doc.id, "version": doc.updated_at})
        # look again once the retry had its own lease to finish in
        self._repo.postpone(doc.id, Status.PROCESSING, now_epoch + self._settings.lease_seconds)
        report.retried += 1

    def _give_up(self, doc: Document, report: SweepReport) -> None:
        attempt = doc.attempt or ""
        error = {
            "code": "timeout",
            "message": f"Processing did not finish after {doc.attempts} attempts",
        }
        try:
            self._repo.fail(doc.id, attempt, error, doc.warnings, utcnow(), version=EXTRACTOR_VERSION)
            report.failed += 1
        except StaleEvent:
            report.skipped += 1  # the attempt finished meanwhile
