"""The EventBridge contracts docpipe speaks: sources, detail-types, and the producer event's limits and id.

Each name is spelled once, here: the app's rule patterns, the publishers, the
validators and the deployment tooling (`deploy/calls.py` reads these
constants to resolve the patterns) all take it from this module. docs/events.md
describes the same contracts for subscribers.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# Events other systems (and POST /events) send; docpipe stores them once. They travel on the default bus.
PRODUCER_SOURCE = "docpipe.producer"
PRODUCER_DETAIL_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
"""A producer event's detail-type: 1-128 letters, digits, spaces, '.', '_' or '-'."""
MAX_PRODUCER_DETAIL_BYTES = 64 * 1024
PRODUCER_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
"""An event id docpipe keeps as it is; any other event is stored under a digest of its content."""

# What the API asks of the pipeline, on docpipe's own bus.
API_SOURCE = "docpipe.api"
REPROCESS_REQUESTED = "ReprocessRequested"

# docpipe's own lifecycle events, on docpipe's own bus, for other systems to subscribe to.
LIFECYCLE_SOURCE = "docpipe"
LIFECYCLE_SCHEMA_VERSION = "1"
DOCUMENT_PROCESSED = "DocumentProcessed"
DOCUMENT_FAILED = "DocumentFailed"
RECORDS_INGESTED = "RecordsIngested"

# What S3 sends to EventBridge when the bucket's EventBridge notifications are on (on the default bus).
S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


def event_id(event: dict[str, Any]) -> str:
    """The event's own id, or (for an event without a usable one) a digest of its content."""
    raw = event.get("id")
    if isinstance(raw, str) and PRODUCER_EVENT_ID.match(raw):
        return raw
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"noid-{digest}"
