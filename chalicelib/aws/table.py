"""The one DynamoDB table: its key scheme, value conversion, conditional failures and pages.

Documents, their CSV rows and markers, and producer events share one table.
The key scheme, in one place:

  pk = DOC#<id>,   sk = DOC                    a document (repository.py)
  pk = DOC#<id>,   sk = ROW#<10-digit row>     a stored CSV row: `row`, `cells` (records_store.py)
  pk = DOC#<id>,   sk = ROWERR#<10-digit row>  a rejected CSV row: `row`, `line`, `reason`
  pk = DOC#<id>,   sk = MARK#<run>#<name>      a marker: a chunk counted, a production leg done
  pk = EVENT#<id>, sk = EVENT                  a producer event (event_store.py)
  pk = BACKFILL#<id>, sk = RUN                 a backfill run: selection, status, counters (backfills.py)
  pk = BACKFILL#<id>, sk = PART#<part id>      a batch part counted for that run (expires with expires_at)

  by_owner    gsi1pk = OWNER#<owner|-> or EVENTS#<submitter|->   gsi1sk = <created or stored at>#<id>
  all_docs    gsi2pk = DOCS or EVENTS or BACKFILLS               gsi2sk = <created or stored at>#<id>
              (both project LISTED: a document's list-view fields, an event's fields, a backfill
              run's public fields; never a document's metadata, warnings or timeline, so a write
              that changes only those costs these indexes nothing, and a list page is one query)
  by_size     gsi3pk = SIZE#<owner|->#<bytes>                    gsi3sk = <created at>#<id>
              (sparse: set when a document is processed; its same-size documents are its possible
              duplicates, told apart by the S3 checksum and sha256 the index carries)
  by_deadline gsi4pk = DEADLINE#PENDING|PROCESSING               gsi4sk = <epoch, 12 digits>#<id>
              (sparse: present only while an upload or a processing attempt is outstanding;
              keys only, the sweeper reads the few overdue documents themselves)

Everything that belongs to a document lives in its partition, so deleting
the partition deletes it all. Items are written and read as DynamoDB
attribute values through `dump` and `load` (boto3's TypeSerializer and
TypeDeserializer, with a fast path for the strings, nulls and maps that CSV
rows are made of); JSON data with floats goes through `to_dynamo_value` first.
A listing's page is a `Page`: its items and the key to continue from, which
`paging` signs into the opaque cursor the API hands out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

NO_OWNER = "-"
SUMMARY = ("family", "mime_type", "size")
"""Metadata fields a document also keeps at the top level, for the listing indexes to project."""
LISTED = (
    *("id", "owner", "filename", "status", "created_at", "updated_at", "error", "extractor_version", *SUMMARY),
    *("records", "declared_size", "name_key", "search"),
    *("state", "source", "detail_type", "time", "stored_at", "detail", "submitted_by", "reason"),
    *("created_by", "selection", "max_concurrency", "selected", "skipped_by", "finished_at"),
    *("listed", "not_queued", "abandoned", "processed", "failed", "skipped"),
)
"""What by_owner and all_docs project (INCLUDE): a document's list view, stats and search text, a producer event whole,
a backfill run's public fields and counters (models.COUNTERS; the run's plan is read only by its id).
Every filter on those indexes names one of these; local/provision.py and infra/docpipe.yaml declare them."""
CANDIDATE_FIELDS = ("checksum", "sha256")
"""What by_size projects besides its keys."""
BY_OWNER = "by_owner"
ALL_DOCS = "all_docs"
BY_SIZE = "by_size"
BY_DEADLINE = "by_deadline"
DOC_SK = "DOC"
EVENT_SK = "EVENT"
RUN_SK = "RUN"
BACKFILLS = "BACKFILLS"
_EXACT_INT = 10**38
"""Integers below this have at most 38 digits: DynamoDB (and TypeSerializer) take them exactly."""


# -- keys ----------------------------------------------------------------------


def doc_pk(doc_id: str) -> str:
    return f"DOC#{doc_id}"


def doc_key(doc_id: str, sk: str = DOC_SK) -> dict[str, str]:
    """The key of a document, or (with `sk`) of an item in its partition."""
    return {"pk": doc_pk(doc_id), "sk": sk}


def row_sk(row: int) -> str:
    return f"ROW#{row:010d}"


def error_sk(row: int) -> str:
    return f"ROWERR#{row:010d}"


def marker_sk(run: str, name: str) -> str:
    return f"MARK#{run}#{name}"


def event_key(event_id: str) -> dict[str, str]:
    return {"pk": f"EVENT#{event_id}", "sk": EVENT_SK}


def owner_pk(owner: str | None) -> str:
    return f"OWNER#{owner or NO_OWNER}"


def index_keys(doc_id: str, owner: str | None, created_at: str) -> dict[str, str]:
    """A document's listing keys: its owner's view (by_owner) and the admin view (all_docs)."""
    sort = f"{created_at}#{doc_id}"
    return {"gsi1pk": owner_pk(owner), "gsi1sk": sort, "gsi2pk": "DOCS", "gsi2sk": sort}


def event_index_keys(event_id: str, submitter: str | None, stored_at: str) -> dict[str, str]:
    """A producer event's listing keys: its submitter's view (by_owner) and the admin view (all_docs)."""
    sort = f"{stored_at}#{event_id}"
    return {"gsi1pk": events_pk(submitter), "gsi1sk": sort, "gsi2pk": "EVENTS", "gsi2sk": sort}


def events_pk(submitter: str | None) -> str:
    return f"EVENTS#{submitter or NO_OWNER}"


def deadline_pk(kind: str) -> str:
    """The by_deadline partition of what is outstanding: PENDING uploads or PROCESSING attempts."""
    return f"DEADLINE#{kind}"


def deadline_keys(kind: str, epoch: int, doc_id: str) -> dict[str, str]:
    return {"gsi4pk": deadline_pk(kind), "gsi4sk": f"{max(epoch, 0):012d}#{doc_id}"}


def summary_fields(metadata: dict[str, Any]) -> dict[str, Any]:
    """The list-view fields of a document's metadata, kept at the top level (see SUMMARY)."""
    return {k: metadata[k] for k in SUMMARY if metadata.get(k) is not None}


def size_keys(owner: str | None, size: int, doc_id: str, created_at: str) -> dict[str, str]:
    """A processed document's by_size keys: its owner's documents of exactly this many bytes."""
    return {"gsi3pk": size_pk(owner, size), "gsi3sk": f"{created_at}#{doc_id}"}


def size_pk(owner: str | None, size: int) -> str:
    return f"SIZE#{owner or NO_OWNER}#{size}"


def backfill_key(run_id: str, sk: str = RUN_SK) -> dict[str, str]:
    """A backfill run's record, or (with `sk`) an item in its partition."""
    return {"pk": f"BACKFILL#{run_id}", "sk": sk}


def backfill_part_sk(part_id: str) -> str:
    return f"PART#{part_id}"


def backfill_index_keys(run_id: str, created_at: str) -> dict[str, str]:
    """A run's place in the admin listing of runs (all_docs, newest first)."""
    return {"gsi2pk": BACKFILLS, "gsi2sk": f"{created_at}#{run_id}"}


# -- values ----------------------------------------------------------------------


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def dump_value(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value, exactly as TypeSerializer makes it."""
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {k: dump_value(v) for k, v in value.items()}}
    if type(value) is int and abs(value) < _EXACT_INT:
        return {"N": str(value)}
    return dict(_SERIALIZER.serialize(value))


def load_value(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as Python, exactly as TypeDeserializer reads it (numbers are Decimals)."""
    if "S" in value:
        return value["S"]
    if "NULL" in value:
        return None
    if "M" in value:
        return {k: load_value(v) for k, v in value["M"].items()}
    return _DESERIALIZER.deserialize(value)


def dump(item: dict[str, Any]) -> dict[str, Any]:
    """An item (or a key, or expression values) as DynamoDB attribute values."""
    return {k: dump_value(v) for k, v in item.items()}


def load(item: dict[str, Any]) -> dict[str, Any]:
    return {k: load_value(v) for k, v in item.items()}


def to_dynamo_value(value: Any) -> Any:
    """JSON-safe data to DynamoDB-safe data: floats become exact Decimals."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_dynamo_value(v) for v in value]
    if isinstance(value, set):
        return sorted(from_dynamo_value(v) for v in value)
    return value


# -- failures --------------------------------------------------------------------


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def conditional_failed(exc: Exception) -> bool:
    """The write's condition did not hold: a lost race or a stale request, not a fault."""
    return error_code(exc) == "ConditionalCheckFailedException"


# -- pages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Page[T]:
    """One page of a listing: its items, and the key of the last one when more follow."""

    items: list[T]
    last_key: dict[str, str] | None


def cursor_key(key: dict[str, Any] | None) -> dict[str, str] | None:
    """A LastEvaluatedKey (attribute values) as the plain strings a cursor carries."""
    return {k: str(load_value(v)) for k, v in key.items()} if key else None
