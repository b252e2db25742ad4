"""Uploads as fast as the machine allows, through the API and the presigned POST, processed by the pump.

Time to PROCESSED is measured from the moment the presigned POST returned to
the document's `processed` timeline entry (millisecond timestamps written by
the handler on the same machine).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from chalicelib.models import Status
from tests.reliability.support.scenarios import percentile, sample_file


@dataclass
class LoadFigures:
    uploads: int
    final: int = 0
    processed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    documents: int = 0
    dead_letters: int = 0
    p50_seconds: float = 0.0
    p95_seconds: float = 0.0
    upload_seconds: float = 0.0
    total_seconds: float = 0.0
    upload_errors: list[str] = field(default_factory=list)


def dead_letter_count(sqs: Any) -> int:
    """Messages waiting in every dead-letter queue of the stack."""
    total = 0
    for url in sqs.list_queues().get("QueueUrls", []):
        if url.endswith("-dlq"):
            attrs = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            total += int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
    return total


def _upload(api: str, token: str, i: int, session: requests.Session) -> tuple[str, float]:
    name, body = sample_file(i)
    content_type = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "csv": "text/csv"}.get(
        name.rsplit(".", 1)[-1], "text/plain"
    )
    created = session.post(
        f"{api}/uploads",
        headers={"Authorization": token},
        json={"filename": name, "content_type": content_type, "size": len(body)},
        timeout=30,
    )
    created.raise_for_status()
    data = created.json()
    post = data["upload"]
    sent = session.post(post["url"], data=post["fields"], files={"file": (name, body, content_type)}, timeout=30)
    sent.raise_for_status()
    return data["document"]["id"], time.time()


def _processed_at(doc: Any) -> float | None:
    for entry in reversed(doc.timeline):
        if entry.get("event") == "processed":
            return datetime.fromisoformat(entry["at"]).timestamp()
    return None


def run_load(
    api: str,
    token: str,
    owner: str,
    count: int,
    repository: Any,
    s3: Any,
    sqs: Any,
    bucket: str,
    workers: int = 8,
    timeout: float = 600.0,
) -> LoadFigures:
    figures = LoadFigures(count)
    dead_before = dead_letter_count(sqs)
    started = time.monotonic()
    uploaded: dict[str, float] = {}
    sessions = [requests.Session() for _ in range(workers)]

    def one(i: int) -> None:
        try:
            doc_id, at = _upload(api, token, i, sessions[i % workers])
            uploaded[doc_id] = at
        except Exception as exc:
            figures.upload_errors.append(f"{i}: {type(exc).__name__}: {exc}"[:200])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))
    figures.upload_seconds = time.monotonic() - started
    waiting, latencies = dict(uploaded), []
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for doc_id in list(waiting):
            doc = repository.get(doc_id)
            if doc is None or doc.status not in (Status.PROCESSED, Status.FAILED):
                continue
            figures.final += 1
            if doc.status is Status.PROCESSED:
                figures.processed += 1
                at = _processed_at(doc)
                if at is not None:
                    latencies.append(at - waiting[doc_id])
            else:
                figures.failed[(doc.error or {}).get("code", "?")] += 1
            del waiting[doc_id]
        if waiting:
            time.sleep(0.5)
    figures.total_seconds = time.monotonic() - started
    figures.p50_seconds, figures.p95_seconds = percentile(latencies, 50), percentile(latencies, 95)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"uploads/{owner}/")
    figures.objects = sum(page.get("KeyCount", 0) for page in pages)
    figures.documents = int(repository.stats(owner, everyone=False)["total"])
    figures.dead_letters = dead_letter_count(sqs) - dead_before
    return figures


def new_user(idp: Any, stack: Any) -> tuple[str, str]:
    """A user of its own for a load run (so its objects and documents can be counted): (id token, sub)."""
    from local.provision import create_user, login

    name, password = f"load-{uuid.uuid4().hex[:8]}", f"Load-{uuid.uuid4().hex[:12]}-A1"
    sub = create_user(idp, stack.user_pool_id, name, password)
    return login(idp, stack.client_id, name, password)["IdToken"], sub
