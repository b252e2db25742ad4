"""Finding documents by a piece of their name, title, author or text, and sorting listings.

DynamoDB has no substring index. What it can do cheaply is a Query on an index
partition with a FilterExpression `contains(attr, :q)`, which compares bytes,
case-sensitively. So each document item carries its searchable text already
normalised (`normalise`: Unicode compatibility forms, accents dropped,
case-folded, whitespace collapsed), and the query is normalised the same way:

- `name_key`: the file name, written when the document is created; it is
  also what "sort by name" orders by;
- `search`: title, author and (once extracted) the start of the text, written
  when the document is processed, at most `SEARCH_CHARS` characters so that
  every item read by a search stays small. Fields are separated by a newline,
  which a normalised query never contains, so a match never spans two fields.

A search reads the caller's index partition newest first, a bounded number of
items per request (see `chalicelib.aws.repository`), and hands back a cursor
to read further: cost and latency stay bounded however many documents there
are; the price is that a rare match in a long history may take more than one
request to reach. Sorting by anything but the creation time (which the index
is ordered by) reads up to `SORT_WINDOW` matching documents and sorts them in
memory; beyond that, only the newest `SORT_WINDOW` are sorted, and the answer
says so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import BadRequest

MAX_QUERY_CHARS = 100
SEARCH_CHARS = 1024
SORT_WINDOW = 1000
SORTS = ("created", "-created", "name", "-name", "size", "-size", "status", "-status")
DEFAULT_SORT = "-created"
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Text as searches compare it: NFKD, no combining marks, case-folded, whitespace runs as one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", kept.casefold()).strip()


def name_key(filename: str) -> str:
    return normalise(filename)[:SEARCH_CHARS]


def search_text(metadata: dict[str, Any], text: str | None = None) -> str:
    """The normalised title, author and start of the text, one per line, at most SEARCH_CHARS characters."""
    parts: Iterable[Any] = (metadata.get("title"), metadata.get("author"), text)
    fields = [normalise(p) for p in parts if isinstance(p, str) and p.strip()]
    return "\n".join(fields)[:SEARCH_CHARS]


def parse_query(raw: str | None) -> str | None:
    """The `q` parameter, normalised; None when absent or blank."""
    if raw is None:
        return None
    if len(raw) > 4 * MAX_QUERY_CHARS:
        raise BadRequest(f"q must be at most {MAX_QUERY_CHARS} characters", code="invalid_filter")
    query = normalise(raw)
    if not query:
        return None
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"q must be at most {MAX_QUERY_CHARS} characters", code="invalid_filter")
    return query


def parse_sort(raw: str | None) -> str:
    if raw is None or raw == "":
        return DEFAULT_SORT
    if raw not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}", code="invalid_sort")
    return raw


def sort_key(sort: str, doc: Any) -> tuple[Any, ...]:
    """A document's place in a listing sorted by `sort` (a "-" is for the caller to reverse). Equal values keep
    the order they came in (sorts are stable, reversed ones too): newest first."""
    field = sort.lstrip("-")
    value: Any
    if field == "name":
        value = name_key(doc.filename)
    elif field == "size":
        size = doc.metadata.get("size", doc.declared_size)
        value = size if isinstance(size, int) and not isinstance(size, bool) else -1
    elif field == "status":
        value = str(getattr(doc.status, "value", doc.status))
    else:
        value = doc.created_at
    return (value,)
