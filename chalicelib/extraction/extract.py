"""The extraction engine: detect, pick an extractor, normalize, map failures.

Knows nothing of AWS: it takes a seekable reader and a name and returns the
normalized metadata, or raises `ExtractionFailed` with a stable reason code.
Parser failures are wrapped with the family's name, as Tika's composite parser
does, so a reason always says which parser gave up.

Detection and extraction run together in a sandbox worker
(`chalicelib.extraction.sandbox`, with time and memory limits) unless
DOCPIPE_SANDBOX=0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import bounds
from chalicelib.extraction import detect as detection
from chalicelib.extraction.encoding import remembered
from chalicelib.extraction.extensions import extension_mismatch, extension_of
from chalicelib.extraction.extractors.base import Extraction, Source, valid_utf8
from chalicelib.extraction.extractors.registry import lookup
from chalicelib.extraction.noise import plain
from chalicelib.extraction.reader import RangedReader
from chalicelib.extraction.sandbox import Session

HEAD_BYTES = 8192


@dataclass
class Result:
    metadata: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def extract(
    reader: RangedReader,
    filename: str,
    head_bytes: int = HEAD_BYTES,
    limits: bounds.Limits | None = None,
    sandbox: bool | None = None,
    session: Session | None = None,
) -> Result:
    """Detect and extract, bounded in time and memory (in-process when the settings turn the sandbox off).

    Pass the `session` of the file's other reads (rendition, text) so they
    share one worker and one cache; without one, a session is opened for this call.
    """
    if not (bounds.sandbox_enabled() if sandbox is None else sandbox):
        return extract_inline(reader, filename, head_bytes)
    if session is None:
        with Session(reader) as own:
            return extract(reader, filename, head_bytes, limits, True, own)
    limits = limits or bounds.Limits.from_env()
    outcome = session.call(extract_in_worker, filename, head_bytes, limits=limits, reads_head=True)
    return Result(outcome["metadata"], list(outcome["warnings"]))


def extract_in_worker(reader: RangedReader, filename: str, head_bytes: int) -> dict[str, Any]:
    """The sandbox job: `extract_inline` on the worker's reader, as JSON-able data."""
    result = extract_inline(reader, filename, head_bytes)
    return {"metadata": result.metadata, "warnings": result.warnings}


def extract_inline(reader: RangedReader, filename: str, head_bytes: int = HEAD_BYTES) -> Result:
    """The unbounded pipeline, in this process."""
    with remembered(reader.parsed):  # detection and the extractor guess an 8-bit text's encoding once
        return _extract(reader, filename, head_bytes)


def _extract(reader: RangedReader, filename: str, head_bytes: int) -> Result:
    head = reader.head(head_bytes)
    found = detection.detect(head, reader, filename)
    entry = lookup(found.mime_type)
    extension = extension_of(filename)
    metadata: dict[str, Any] = {
        "mime_type": found.mime_type,
        "family": entry.family,
        "size": reader.size,
        "extension": extension,
        "extension_mismatch": extension_mismatch(found.mime_type, extension),
    }
    if found.description:
        metadata["details"] = {"magic": found.description}
    source = Source(reader=reader, size=reader.size, filename=filename, mime_type=found.mime_type, head=head)
    try:
        outcome = _run(entry.family, entry.load(), source)
    except ExtractionFailed as exc:  # the document fails, and keeps what detection learned
        exc.metadata = valid_utf8({k: v for k, v in metadata.items() if v is not None})
        raise
    metadata.update(outcome.fields)
    if outcome.details:
        metadata.setdefault("details", {}).update(outcome.details)
    whole = reader.whole()
    if whole is not None:  # read whole anyway: its sha256 costs no request (larger files get one only if needed)
        metadata["sha256"] = hashlib.sha256(whole).hexdigest()
    return Result(valid_utf8({k: v for k, v in metadata.items() if v is not None}), valid_utf8(outcome.warnings))


def _run(family: str, extractor: Any, source: Source) -> Extraction:
    source.reader.seek(0)
    try:
        result: Extraction = extractor(source)
        return result
    except ExtractionFailed:
        raise
    except MemoryError as exc:
        raise ExtractionFailed(f"{family}: file needs too much memory to read", code="too_large") from exc
    except RecursionError as exc:
        raise ExtractionFailed(f"{family}: structure nested too deeply", code="corrupt") from exc
    except Exception as exc:
        raise ExtractionFailed(f"{family}: {type(exc).__name__}: {_short(exc)}", code="corrupt") from exc


def _short(exc: Exception, limit: int = 200) -> str:
    text = plain(str(exc).replace("\n", " "))
    return text[:limit] + ("..." if len(text) > limit else "")
