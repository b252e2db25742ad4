"""Hostile input: the shared corpus (corrupt files included) and mutated files, through detection and extraction.

Detection runs in-process (it must never raise anything but ExtractionFailed,
and must return quickly); extraction runs as production runs it, in the
forked, bounded child, with a probe that tells an exception the engine let
through ("unhandled") from a clean failure with a reason code. A "hang" is a
call that did not give control back within its budget plus a grace period.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import MIB, Limits
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.sandbox import Session, pool
from tests.support.corpus import shared_corpus

KNOWN_CODES = {"corrupt", "encrypted", "too_large", "timeout", "unsupported"}
BUDGET = Limits(wall_seconds=10.0, cpu_seconds=8.0, memory_bytes=512 * MIB)
GRACE_SECONDS = 2.0
CORPUS = shared_corpus()


def seeds() -> list[tuple[str, bytes]]:
    """Small valid files of several families, the starting points of mutation."""
    from tests.support import samples

    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", "<w:document><w:body>hello</w:body></w:document>")
        archive.writestr("docProps/core.xml", "<cp:coreProperties><dc:title>T</dc:title></cp:coreProperties>")
    return [
        ("report.pdf", samples.pdf(pages=2)),
        ("photo.jpg", samples.jpeg()),
        ("icon.png", samples.png()),
        ("letter.docx", docx.getvalue()),
        ("table.csv", b'id,name,amount\n1,ann,3.5\n2,bob,4\n3,"c, d",5\n'),
        ("page.html", b"<!doctype html><html><head><title>x</title></head><body><p>hi</p></body></html>"),
        ("mail.eml", b"From: a@b.c\r\nTo: d@e.f\r\nSubject: hi\r\n\r\nbody\r\n"),
        ("data.json", b'{"a": [1, 2, {"b": null}], "c": "d"}'),
    ]


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply edits (kind, position, value): flip a byte, cut the tail, duplicate a slice, insert a byte."""
    out = bytearray(data)
    for kind, position, value in edits:
        if not out:
            out = bytearray(b"\x00")
        at = position % len(out)
        if kind == 0:
            out[at] ^= 1 + value % 255
        elif kind == 1:
            del out[max(1, at) :]
        elif kind == 2:
            out[at:at] = out[at : at + 1 + value % 64] * (1 + value % 8)
        else:
            out.insert(at, value % 256)
    return bytes(out)


@dataclass
class Probe:
    outcome: str  # ok, failed, unhandled, hang
    detail: str
    seconds: float


def extract_probe(reader: RangedReader, name: str) -> dict[str, str]:
    """In a sandbox worker: the extraction of one hostile file, its outcome as data."""
    from chalicelib.extraction.extract import extract_inline

    try:
        result = extract_inline(reader, name)
        return {"outcome": "ok", "detail": str(result.metadata.get("mime_type"))}
    except ExtractionFailed as exc:
        return {"outcome": "failed", "detail": exc.code}
    except Exception as exc:
        return {"outcome": "unhandled", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}


def probe_extraction(data: bytes, name: str, limits: Limits = BUDGET) -> Probe:
    started = time.monotonic()
    try:
        with Session(bytes_reader(data)) as session:
            result = session.call(extract_probe, name, limits=limits)
        outcome, detail = result["outcome"], result["detail"]
    except ExtractionFailed as exc:  # the bounds stopped it (timeout, memory, crash): handled
        outcome, detail = "failed", exc.code
    seconds = time.monotonic() - started
    if seconds > limits.wall_seconds + GRACE_SECONDS:
        outcome, detail = "hang", f"{seconds:.1f} s"
    if outcome == "failed" and detail not in KNOWN_CODES:
        outcome = "unhandled"
    return Probe(outcome, detail, seconds)


def probe_detection(data: bytes, name: str) -> Probe:
    from chalicelib.extraction import detect

    started = time.monotonic()
    try:
        found = detect.detect(data[:8192], bytes_reader(data), name)
        outcome, detail = ("ok", found.mime_type) if found.mime_type else ("unhandled", "no mime type")
    except ExtractionFailed as exc:
        outcome, detail = "failed", exc.code
    except Exception as exc:
        outcome, detail = "unhandled", f"{type(exc).__name__}: {str(exc)[:200]}"
    return Probe(outcome, detail, time.monotonic() - started)


@dataclass
class HostileFigures:
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    max_seconds: float = 0.0
    peak_child_rss_mib: float = 0.0

    def record(self, label: str, probe: Probe) -> None:
        self.inputs += 1
        self.outcomes[probe.outcome] += 1
        if probe.outcome == "failed":
            self.codes[probe.detail] += 1
        if probe.outcome in ("unhandled", "hang"):
            self.problems.append(f"{label}: {probe.outcome} {probe.detail}")
        self.max_seconds = max(self.max_seconds, probe.seconds)
        self.peak_child_rss_mib = pool().peak_rss / MIB  # what the workers reported (RUSAGE_CHILDREN counts others)


def corpus_files(corpus: Path = CORPUS) -> list[Path]:
    return sorted(p for p in corpus.glob("*/*") if p.is_file()) if corpus.is_dir() else []


def run_corpus(corpus: Path = CORPUS) -> HostileFigures:
    figures = HostileFigures()
    for path in corpus_files(corpus):
        figures.record(str(path.relative_to(corpus)), probe_extraction(path.read_bytes(), path.name))
    return figures


def fuzz(examples: int, target: str, seed: int = 10) -> HostileFigures:
    """Hypothesis-driven mutations of the seeds through `target` ("extraction" or "detection")."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st

    figures = HostileFigures()
    probe = probe_extraction if target == "extraction" else probe_detection
    pool = seeds()
    edit = st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 1 << 16))

    @fixed_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(range(len(pool))), st.lists(edit, min_size=1, max_size=8))
    def check(index: int, edits: list[tuple[int, int, int]]) -> None:
        name, data = pool[index]
        result = probe(mutate(data, edits), name)
        figures.record(f"{name} {edits}", result)
        assert result.outcome not in ("unhandled", "hang"), (name, edits, result)

    check()
    return figures


def describe(figures: HostileFigures) -> dict[str, Any]:
    return {
        "inputs": figures.inputs,
        "outcomes": dict(figures.outcomes),
        "codes": dict(figures.codes),
        "max_seconds": round(figures.max_seconds, 2),
        "peak_child_rss_mib": round(figures.peak_child_rss_mib, 1),
    }
