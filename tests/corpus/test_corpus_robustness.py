"""Every corpus file, hostile ones included, reaches a final result within its budget.

Runs only when the shared corpus (../shared/corpus beside the repository) is present.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.extract import extract
from chalicelib.extraction.reader import file_reader

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
KNOWN_CODES = {"corrupt", "encrypted", "too_large", "timeout", "unsupported"}
BUDGET = Limits(wall_seconds=10.0, cpu_seconds=8.0, memory_bytes=512 * 1024 * 1024)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}"),
]


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*/*") if p.is_file())


@pytest.mark.timeout(120)
def test_every_corpus_file_ends_in_metadata_or_a_known_failure_within_its_budget() -> None:
    problems: list[str] = []
    outcomes: dict[str, str] = {}
    for path in corpus_files():
        started = time.monotonic()
        try:
            result = extract(file_reader(str(path)), path.name, limits=BUDGET)
            outcomes[str(path)] = result.metadata["mime_type"]
            if not result.metadata.get("family"):
                problems.append(f"{path.name}: no family")
        except ExtractionFailed as exc:
            outcomes[str(path)] = exc.code
            if exc.code not in KNOWN_CODES:
                problems.append(f"{path.name}: unknown code {exc.code}")
        elapsed = time.monotonic() - started
        if elapsed > BUDGET.wall_seconds + 2:
            problems.append(f"{path.name}: took {elapsed:.1f} s")
    assert len(outcomes) >= 300
    assert problems == []


def test_hostile_files_fail_cleanly_rather_than_succeed_silently_or_hang() -> None:
    hostile = [p for p in corpus_files() if p.parent.name == "corrupt"]
    assert hostile
    started = time.monotonic()
    for path in hostile:
        try:
            extract(file_reader(str(path)), path.name, limits=BUDGET)
        except ExtractionFailed as exc:
            assert exc.code in KNOWN_CODES, path.name
    assert time.monotonic() - started < 60
