"""Mutated files and the shared corpus: no unhandled exception, no hang, memory bounded."""

from __future__ import annotations

import pytest

from tests.reliability.support import hostile

RSS_BOUND_MIB = hostile.BUDGET.memory_bytes / hostile.MIB + 512  # the child's budget over a forked parent


def test_mutated_files_never_escape_detection_with_an_unexpected_exception() -> None:
    figures = hostile.fuzz(300, "detection")
    assert figures.problems == [] and figures.inputs == 300, figures.problems[:5]
    assert figures.max_seconds < 2.0


def test_mutated_files_end_in_metadata_or_a_known_failure_within_the_extraction_budget() -> None:
    figures = hostile.fuzz(80, "extraction")
    assert figures.problems == [] and figures.inputs == 80, figures.problems[:5]
    assert figures.peak_child_rss_mib < RSS_BOUND_MIB, hostile.describe(figures)


@pytest.mark.corpus
@pytest.mark.skipif(not hostile.corpus_files(), reason=f"the shared corpus is not at {hostile.CORPUS}")
@pytest.mark.timeout(240)
def test_the_corrupt_corpus_folder_fails_cleanly_without_hangs() -> None:
    corpus = hostile.CORPUS
    figures = hostile.HostileFigures()
    for path in sorted((corpus / "corrupt").iterdir()):
        figures.record(path.name, hostile.probe_extraction(path.read_bytes(), path.name))
    assert figures.inputs > 0 and figures.problems == [], figures.problems[:5]
