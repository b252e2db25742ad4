"""The local stack's state on disk, so that `make run` keeps yesterday's documents.

The emulator keeps everything in memory and forgets it when it stops. This
module copies what the stack holds (every bucket's objects, every table's
items, the messages waiting in every queue, and which Cognito user had which
`sub`) into a data folder, and puts it back into a freshly provisioned
emulator, through the same AWS APIs the app uses.

Layout of the data folder (one writer at a time: `DataFolder.lock`):

    current             the name of the snapshot in use, replaced atomically
    snapshot-<ns>/      state.json, objects.jsonl, items.jsonl, messages.jsonl
    blobs/<ab>/<sha256> object bodies, stored once by content and shared by snapshots

A snapshot is written into a new directory and becomes current only when it
is complete, so a crash mid-save leaves the previous one intact.

Restoring puts the objects back while no processing runs (the pump starts
afterwards), then empties the queues of the notifications those writes
caused, then re-sends the messages that were waiting when the stack stopped:
nothing is processed twice. Cognito users are re-created by provisioning; if
one of them comes back with another `sub` (a different emulator version, say),
every occurrence of the old `sub` in keys and items is rewritten to the new
one, so their documents stay theirs. Passwords are not stored: the demo and
admin users get theirs from the stack's settings.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("docpipe.data")

FORMAT = 1
CHUNK = 1 << 20
_BATCH = 25  # BatchWriteItem's limit


class DataFolderBusy(RuntimeError):
    """Another stack is using this data folder."""


@dataclass
class Counts:
    objects: int = 0
    items: int = 0
    messages: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"{self.objects} objects, {self.items} items, {self.messages} queued messages"


@dataclass
class Restored(Counts):
    saved_at: str = ""
    remapped: dict[str, str] = field(default_factory=dict)


class DataFolder:
    """One data folder: snapshots, shared blobs, and the lock that keeps a second stack out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    # -- ownership -------------------------------------------------------------
    def lock(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        handle = (self.path / ".lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise DataFolderBusy(
                f"the data folder {self.path} is in use by another docpipe stack; stop it first, or give this "
                "one its own folder with DOCPIPE_DATA_DIR"
            ) from exc
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def wipe(self) -> None:
        """Forget every snapshot (`--fresh`, `make clean-data`)."""
        for child in self.path.iterdir() if self.path.is_dir() else []:
            if child.name == ".lock":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    # -- snapshots -------------------------------------------------------------
    def current(self) -> Path | None:
        try:
            name = (self.path / "current").read_text().strip()
        except OSError:
            return None
        snapshot = self.path / name
        return snapshot if name.startswith("snapshot-") and (snapshot / "state.json").is_file() else None

    def state(self) -> dict[str, Any] | None:
        snapshot = self.current()
        if snapshot is None:
            return None
        state: dict[str, Any] = json.loads((snapshot / "state.json").read_text())
        if state.get("format") != FORMAT:
            raise RuntimeError(f"{snapshot} was written in format {state.get('format')}, this docpipe reads {FORMAT}")
        return state

    def blob_path(self, digest: str) -> Path:
        return self.path / "blobs" / digest[:2] / digest

    def commit(self, snapshot: Path) -> None:
        """Make `snapshot` current, then drop older snapshots and unreferenced blobs."""
        pointer = self.path / "current.tmp"
        pointer.write_text(snapshot.name)
        os.replace(pointer, self.path / "current")
        for child in self.path.glob("snapshot-*"):
            if child != snapshot:
                shutil.rmtree(child, ignore_errors=True)
        referenced = {o["blob"] for o in read_jsonl(snapshot / "objects.jsonl")}
        for blob in (self.path / "blobs").glob("*/*"):
            if blob.name not in referenced:
                blob.unlink(missing_ok=True)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _write_line(handle: IO[str], record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


# -- DynamoDB attribute values in JSON (binary as base64) ---------------------------
def value_to_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "L":
        return {"L": [value_to_json(v) for v in inner]}
    if kind == "M":
        return {"M": {k: value_to_json(v) for k, v in inner.items()}}
    return {kind: inner}


def value_from_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "L":
        return {"L": [value_from_json(v) for v in inner]}
    if kind == "M":
        return {"M": {k: value_from_json(v) for k, v in inner.items()}}
    return {kind: inner}


def rewrite(value: Any, mapping: dict[str, str]) -> Any:
    """Every string inside `value` (keys of maps too) with each old `sub` replaced by the new one."""
    if not mapping:
        return value
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [rewrite(v, mapping) for v in value]
    if isinstance(value, dict):
        return {rewrite(k, mapping): rewrite(v, mapping) for k, v in value.items()}
    return value


# -- saving ----------------------------------------------------------------------------
_OBJECT_HEADERS = ("ContentType", "ContentDisposition", "ContentEncoding", "CacheControl", "ContentLanguage")


class Snapshotter:
    """Saves the emulator's state into a data folder and restores it."""

    def __init__(self, folder: DataFolder, aws: dict[str, Any]) -> None:
        self.folder = folder
        self._s3 = aws["s3"]
        self._ddb = aws["dynamodb"]
        self._sqs = aws["sqs"]

    def save(self, users: dict[str, str], queues: bool = True) -> Counts:
        """A complete snapshot, made current when written. `queues=False` leaves the queues untouched
        (receiving their messages would hide them from the running pump); the last snapshot's messages
        are kept then."""
        started = time.monotonic()
        previous = self.folder.current()
        snapshot = self.folder.path / f"snapshot-{time.time_ns()}"
        snapshot.mkdir(parents=True)
        counts = Counts()
        earlier = read_jsonl(previous / "objects.jsonl") if previous else iter(())
        known = {(o["bucket"], o["key"], o.get("etag")): o["blob"] for o in earlier}
        with (snapshot / "objects.jsonl").open("w", encoding="utf-8") as out:
            counts.objects = self._save_objects(out, known)
        with (snapshot / "items.jsonl").open("w", encoding="utf-8") as out:
            counts.items = self._save_items(out)
        if queues:
            with (snapshot / "messages.jsonl").open("w", encoding="utf-8") as out:
                counts.messages = self._save_messages(out)
        elif previous is not None and (previous / "messages.jsonl").is_file():
            shutil.copyfile(previous / "messages.jsonl", snapshot / "messages.jsonl")
            counts.messages = sum(1 for _ in read_jsonl(snapshot / "messages.jsonl"))
        state = {
            "format": FORMAT,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "users": users,
            "counts": {"objects": counts.objects, "items": counts.items, "messages": counts.messages},
        }
        (snapshot / "state.json").write_text(json.dumps(state, indent=2))
        self.folder.commit(snapshot)
        counts.seconds = time.monotonic() - started
        return counts

    def _save_objects(self, out: IO[str], known: dict[tuple[str, str, str | None], str]) -> int:
        count = 0
        for bucket in (b["Name"] for b in self._s3.list_buckets().get("Buckets", [])):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for summary in page.get("Contents", []):
                    key, etag = summary["Key"], summary.get("ETag")
                    digest = known.get((bucket, key, etag))
                    head = self._s3.head_object(Bucket=bucket, Key=key)
                    if digest is None or not self.folder.blob_path(digest).is_file():
                        digest = self._save_blob(bucket, key)
                    record = {"bucket": bucket, "key": key, "etag": etag, "blob": digest}
                    record["metadata"] = head.get("Metadata") or {}
                    record.update({h: head[h] for h in _OBJECT_HEADERS if head.get(h)})
                    _write_line(out, record)
                    count += 1
        return count

    def _save_blob(self, bucket: str, key: str) -> str:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        staging = self.folder.path / "blobs" / f".incoming-{os.getpid()}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with staging.open("wb") as handle:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)
        target = self.folder.blob_path(digest.hexdigest())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
        return digest.hexdigest()

    def _save_items(self, out: IO[str]) -> int:
        count = 0
        for table in self._ddb.list_tables().get("TableNames", []):
            for page in self._ddb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    _write_line(out, {"table": table, "item": {k: value_to_json(v) for k, v in item.items()}})
                    count += 1
        return count

    def _save_messages(self, out: IO[str]) -> int:
        """The messages waiting in each queue (received once, with a visibility timeout that outlasts the
        emulator: this runs when the stack stops)."""
        count = 0
        for url in self._sqs.list_queues().get("QueueUrls", []):
            name = url.rsplit("/", 1)[-1]
            while True:
                got = self._sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    break
                for message in got:
                    record = {"queue": name, "body": message["Body"]}
                    if message.get("MessageAttributes"):
                        record["attributes"] = message["MessageAttributes"]
                    _write_line(out, record)
                    count += 1
        return count

    # -- restoring -------------------------------------------------------------------
    def restore(self, users: dict[str, str]) -> Restored | None:
        """Put the current snapshot back into a freshly provisioned emulator; None when there is none."""
        state = self.folder.state()
        snapshot = self.folder.current()
        if state is None or snapshot is None:
            return None
        started = time.monotonic()
        saved_users: dict[str, str] = state.get("users") or {}
        mapping = {old: users[name] for name, old in saved_users.items() if name in users and users[name] != old}
        restored = Restored(saved_at=str(state.get("saved_at", "")), remapped=mapping)
        restored.objects = self._restore_objects(snapshot, mapping)
        restored.items = self._restore_items(snapshot, mapping)
        self.drain()  # the notifications the restored objects caused: they were processed before
        restored.messages = self._restore_messages(snapshot, mapping)
        restored.seconds = time.monotonic() - started
        return restored

    def _restore_objects(self, snapshot: Path, mapping: dict[str, str]) -> int:
        buckets = {b["Name"] for b in self._s3.list_buckets().get("Buckets", [])}
        count = 0
        for record in read_jsonl(snapshot / "objects.jsonl"):
            if record["bucket"] not in buckets:
                log.warning("bucket %s no longer exists: %s not restored", record["bucket"], record["key"])
                continue
            extra = {h: record[h] for h in _OBJECT_HEADERS if record.get(h)}
            with self.folder.blob_path(record["blob"]).open("rb") as body:
                self._s3.put_object(
                    Bucket=record["bucket"],
                    Key=rewrite(record["key"], mapping),
                    Body=body,
                    Metadata=record.get("metadata") or {},
                    **extra,
                )
            count += 1
        return count

    def _restore_items(self, snapshot: Path, mapping: dict[str, str]) -> int:
        tables = set(self._ddb.list_tables().get("TableNames", []))
        batches: dict[str, list[dict[str, Any]]] = {}
        count = 0
        for record in read_jsonl(snapshot / "items.jsonl"):
            if record["table"] not in tables:
                log.warning("table %s no longer exists: an item was not restored", record["table"])
                continue
            item = {k: value_from_json(v) for k, v in rewrite(record["item"], mapping).items()}
            batch = batches.setdefault(record["table"], [])
            batch.append({"PutRequest": {"Item": item}})
            count += 1
            if len(batch) == _BATCH:
                self._write(record["table"], batch)
                batch.clear()
        for table, batch in batches.items():
            if batch:
                self._write(table, batch)
        return count

    def _write(self, table: str, requests: list[dict[str, Any]], attempts: int = 8) -> None:
        pending = {table: requests}
        for attempt in range(attempts):
            pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"the emulator would not take {len(pending[table])} items back into {table}")

    def drain(self) -> int:
        """Delete every message now in every queue."""
        drained = 0
        for url in self._sqs.list_queues().get("QueueUrls", []):
            while got := self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
                self._sqs.delete_message_batch(QueueUrl=url, Entries=entries)
                drained += len(got)
        return drained

    def _restore_messages(self, snapshot: Path, mapping: dict[str, str]) -> int:
        urls = {u.rsplit("/", 1)[-1]: u for u in self._sqs.list_queues().get("QueueUrls", [])}
        count = 0
        for record in read_jsonl(snapshot / "messages.jsonl"):
            url = urls.get(record["queue"])
            if url is None:
                log.warning("queue %s no longer exists: a message was not restored", record["queue"])
                continue
            extra = {"MessageAttributes": record["attributes"]} if record.get("attributes") else {}
            self._sqs.send_message(QueueUrl=url, MessageBody=rewrite(record["body"], mapping), **extra)
            count += 1
        return count


class Autosave:
    """Saves a snapshot after activity, once the stack has been quiet for `quiet_seconds`.

    `activity()` returns a number that grows whenever something may have changed (API calls, handler
    invocations). A crash then loses at most what happened since the last quiet moment; a clean stop
    saves everything, queues included.
    """

    def __init__(
        self, save: Callable[[], Any], activity: Callable[[], int], quiet_seconds: float = 5.0, tick: float = 1.0
    ) -> None:
        self._save = save
        self._activity = activity
        self._quiet = quiet_seconds
        self._tick = tick
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Autosave:
        self._thread = threading.Thread(target=self._run, name="autosave", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        saved = seen = self._activity()
        quiet_since = time.monotonic()
        while not self._halt.wait(self._tick):
            now = self._activity()
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            elif seen != saved and time.monotonic() - quiet_since >= self._quiet:
                try:
                    self._save()
                    saved = seen
                except Exception:
                    log.warning("autosave failed; the next quiet moment tries again", exc_info=True)

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
