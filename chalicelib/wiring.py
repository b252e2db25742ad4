"""The one place that creates AWS clients and services.

Clients are built lazily on first use (boto3's import and client creation are
the largest part of a cold start, and most invocations need only one or two),
with the endpoint taken from `Settings`, so the same code talks to AWS or to
the local emulator. Tests call `reset()` after changing the environment.

Imports inside functions are kept only where they measurably shorten a cold
start; every other import is at the top of its module, so the dependency graph
reads from the code. tests/unit/test_layers.py holds the code to this list.
(Figures: median import time in a fresh interpreter, on top of what the
module has already loaded; they vary with the machine.)

- app.py: chalicelib.events, chalicelib.ingest, chalicelib.records — each
  Lambda function loads only its own use case (each of these pulls in boto3,
  about 200 ms, and the ingest path the extraction core); deploy/calls.py
  also reads these imports to tell which modules each function reaches.
- chalicelib/wiring.py: boto3, botocore.config, chalicelib.aws.backfill_parts,
  chalicelib.aws.backfill_queue, chalicelib.aws.backfills, chalicelib.aws.bus, chalicelib.aws.document_reads,
  chalicelib.aws.event_store, chalicelib.aws.executions, chalicelib.aws.manifest, chalicelib.aws.purge,
  chalicelib.aws.records_store, chalicelib.aws.repository, chalicelib.aws.secrets,
  chalicelib.aws.sqs_batch, chalicelib.aws.storage, chalicelib.aws.workflow,
  chalicelib.backfill, chalicelib.backfill_worker, chalicelib.csv_fanout, chalicelib.deletion,
  chalicelib.documents, chalicelib.ingest, chalicelib.lifecycle,
  chalicelib.records, chalicelib.sweeper — an invocation builds only the
  clients (boto3 170-265 ms, botocore.config) and services it uses; only the
  API reads the cursor key from Secrets Manager (botocore.exceptions 8-20 ms);
  deploy/calls.py reads these imports to tell what each factory reaches (so only
  on_records is granted sqs:DeleteMessage for settling its batches, and only
  on_backfill BatchGetItem, TransactWriteItems, Step Functions' StartExecution
  and SendTaskSuccess).
- chalicelib/ingest.py: chalicelib.extraction.extract,
  chalicelib.extraction.rendition — a duplicate or stale delivery ends before
  extraction and does not load the core (18-59 ms and 7-11 ms).
- chalicelib/extraction/encoding.py: charset_normalizer — only 8-bit text
  needs the detector (10-18 ms).
- chalicelib/extraction/extractors/archive.py: rarfile — only RAR archives
  need it (17-35 ms).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings
from chalicelib.contracts import API_SOURCE, REPROCESS_REQUESTED

if TYPE_CHECKING:
    from chalicelib.aws.backfill_queue import SqsBackfillQueue
    from chalicelib.aws.backfills import BackfillStore
    from chalicelib.aws.bus import EventBus
    from chalicelib.aws.event_store import EventStore
    from chalicelib.aws.manifest import ManifestWriter
    from chalicelib.aws.purge import DocumentPurge
    from chalicelib.aws.records_store import DynamoRecordsStore, Progress
    from chalicelib.aws.repository import DynamoRepository
    from chalicelib.aws.storage import S3Storage
    from chalicelib.aws.workflow import Workflow
    from chalicelib.backfill import BackfillService
    from chalicelib.backfill_worker import BackfillWorker
    from chalicelib.csv_fanout import CsvFanOut
    from chalicelib.deletion import Deletion
    from chalicelib.documents import DocumentService
    from chalicelib.ingest import IngestService
    from chalicelib.lifecycle import Lifecycle
    from chalicelib.records import RecordsConsumer, RecordsReader
    from chalicelib.sweeper import SweeperService

_lock = threading.RLock()
"""Held while a client or service is built: factories call factories, so it is reentrant."""
_clears: list[Callable[[], None]] = []


def shared[**P, T](factory: Callable[P, T]) -> Callable[P, T]:
    """`factory`, built once per arguments and shared, even when several threads ask for it first at once.

    `functools.cache` alone lets each of those threads build its own and keeps
    the last: the repository then held one DynamoDB client and everyone else
    got another, each with its own connection pool and event hooks (a hook
    registered on `client("dynamodb")` never saw the repository's writes).
    Lambda runs one invocation at a time per environment, but a host serving
    handlers on threads (the local gateway and event pump) asks at once.
    """
    made: dict[tuple[Any, ...], T] = {}
    _clears.append(made.clear)

    @functools.wraps(factory)
    def get(*args: P.args, **kwargs: P.kwargs) -> T:
        key = (*args, *sorted(kwargs.items()))
        with _lock:
            if key not in made:
                made[key] = factory(*args, **kwargs)
            return made[key]

    return get


@shared
def settings() -> Settings:
    return Settings.from_env()


@shared
def cursor_settings() -> Settings:
    """Settings for the services that sign or check page cursors (the API): where the stage names a
    Secrets Manager secret, the key is read from it on first use, once per execution environment.
    Kept apart from `settings()` so that only the API is granted the secret (deploy/policies.py)."""
    found = settings()
    if found.cursor_secret_arn and not found.cursor_secret:
        return replace(found, secret_resolver=lambda: _read_secret(found.cursor_secret_arn))
    return found


def _read_secret(arn: str) -> str:
    from chalicelib.aws.secrets import read_secret

    return read_secret(client("secretsmanager"), arn)


@shared
def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name=settings().region)


def client(service: str) -> Any:
    """A shared boto3 client (clients are thread-safe; sessions are not)."""
    return _client(service)


@shared
def _client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
        s3={"addressing_style": "path"} if settings().aws_endpoint else None,
        # presigned URLs and POST policies signed with Signature Version 4, the only one S3 accepts in every
        # region (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)
        signature_version="s3v4" if service == "s3" else None,
    )
    with _lock:
        return _session().client(service, endpoint_url=settings().aws_endpoint, config=config)


@shared
def repository() -> DynamoRepository:
    from chalicelib.aws.repository import DynamoRepository

    return DynamoRepository(client("dynamodb"), settings().table)


@shared
def storage() -> S3Storage:
    from chalicelib.aws.storage import S3Storage

    return S3Storage(client("s3"), settings())


@shared
def ingest_service() -> IngestService:
    from chalicelib.ingest import IngestService

    return IngestService(repository(), storage(), settings(), lifecycle(), csv_fanout, _requeue)


def _requeue(doc_id: str) -> None:
    """Ask for another extraction run later (the on_reprocess handler picks it up)."""
    bus().put(API_SOURCE, REPROCESS_REQUESTED, {"doc_id": doc_id, "version": None})


@shared
def document_service() -> DocumentService:
    from chalicelib.documents import DocumentService

    return DocumentService(repository(), storage(), cursor_settings(), bus(), deletion())


@shared
def deletion() -> Deletion:
    from chalicelib.deletion import Deletion

    return Deletion(document_purge(), storage(), settings())


@shared
def document_purge() -> DocumentPurge:
    from chalicelib.aws.purge import DocumentPurge

    return DocumentPurge(client("dynamodb"), settings().table, client("sqs"), settings().records_queue)


def _purge_step(message: dict[str, Any], deadline: float) -> str:
    """One step of deleting a document, for the records queue's consumer (see `chalicelib.deletion`)."""
    from chalicelib.records import purge_step

    return purge_step(document_purge(), str(message["doc_id"]), deadline)


@shared
def bus() -> EventBus:
    from chalicelib.aws.bus import EventBus

    return EventBus(client("events"), settings().event_bus)


@shared
def lifecycle() -> Lifecycle:
    from chalicelib.lifecycle import Lifecycle

    return Lifecycle(bus())


@shared
def records_store() -> DynamoRecordsStore:
    from chalicelib.aws.records_store import DynamoRecordsStore

    return DynamoRecordsStore(client("dynamodb"), settings().table, on_final=_records_final)


def _records_final(doc_id: str, progress: Progress) -> None:
    """A document's records reached a final state: tell subscribers (never fails the consumer)."""
    try:
        doc = repository().get(doc_id)
    except Exception:
        doc = None
    if doc is not None:
        lifecycle().records_ingested(doc, progress.public())


@shared
def csv_fanout() -> CsvFanOut:
    from chalicelib.csv_fanout import CsvFanOut

    return CsvFanOut(client("s3"), client("sqs"), settings().records_queue, records_store())


@shared
def records_consumer() -> RecordsConsumer:
    from chalicelib.records import RecordsConsumer

    return RecordsConsumer(records_store(), csv_fanout().resume, purge=_purge_step)


def records_response(records: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
    """What on_records returns: the batch item failures where the mapping reports them, else the batch
    settled here (handled messages deleted, the invocation failed for the rest)."""
    if settings().reports_batch_item_failures:
        return response
    from chalicelib.aws.sqs_batch import settle_batch

    return settle_batch(client("sqs"), records, response)


@shared
def records_reader() -> RecordsReader:
    from chalicelib.records import RecordsReader

    return RecordsReader(records_store(), cursor_settings().signing_secret)


@shared
def event_store() -> EventStore:
    from chalicelib.aws.event_store import EventStore

    return EventStore(client("dynamodb"), settings().table)


@shared
def sweeper() -> SweeperService:
    from chalicelib.sweeper import SweeperService

    return SweeperService(repository(), bus(), settings(), document_purge())


@shared
def backfill_store() -> BackfillStore:
    from chalicelib.aws.backfills import BackfillStore

    return BackfillStore(client("dynamodb"), settings().table)


@shared
def backfill_queue() -> SqsBackfillQueue:
    from chalicelib.aws.backfill_queue import SqsBackfillQueue

    return SqsBackfillQueue(client("sqs"), settings().backfill_queue)


@shared
def workflow() -> Workflow:
    from chalicelib.aws.workflow import Workflow

    return Workflow(client("stepfunctions"), settings().backfill_state_machine)


def _manifest(key: str, state: dict[str, Any] | None) -> ManifestWriter:
    from chalicelib.aws.manifest import ManifestWriter

    return ManifestWriter(client("s3"), settings().bucket, key, state)


@shared
def backfill_service() -> BackfillService:
    from chalicelib.aws.executions import ExecutionStopper
    from chalicelib.backfill import BackfillService

    stopper = ExecutionStopper(client("stepfunctions"))
    return BackfillService(backfill_store(), backfill_queue(), stopper, cursor_settings())


@shared
def backfill_worker() -> BackfillWorker:
    from chalicelib.aws.backfill_parts import BackfillParts
    from chalicelib.aws.document_reads import DynamoDocumentReads
    from chalicelib.backfill_worker import BackfillWorker

    db, table = client("dynamodb"), settings().table
    parts, reads = BackfillParts(db, table), DynamoDocumentReads(db, table)
    return BackfillWorker(
        backfill_store(), parts, reads, ingest_service(), storage(), workflow, backfill_queue(), _manifest, settings()
    )


def reset() -> None:
    """Forget every cached client and service (after the environment changed)."""
    with _lock:
        for clear in _clears:
            clear()
