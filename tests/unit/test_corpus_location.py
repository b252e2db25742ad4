"""Benches and corpus tests find `../shared/corpus` from a clean clone, from a git worktree, or where told."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.corpus import shared_corpus


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/main (a repository with one commit), tmp/shared/corpus beside it, and no override."""
    monkeypatch.delenv("DOCPIPE_CORPUS", raising=False)
    main = tmp_path / "main"
    main.mkdir()
    _git(main, "init", "-q", "-b", "main")
    (main / "README.md").write_text("docpipe\n")
    _git(main, "add", "README.md")
    _git(main, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    (tmp_path / "shared" / "corpus").mkdir(parents=True)
    return tmp_path


def test_a_clean_clone_finds_the_corpus_beside_it(layout: Path) -> None:
    assert shared_corpus(layout / "main") == layout / "shared" / "corpus"


def test_a_worktree_elsewhere_finds_the_corpus_beside_the_main_checkout(layout: Path) -> None:
    worktree = layout / "wt" / "reliability"
    _git(layout / "main", "worktree", "add", "-q", "-b", "reliability", str(worktree))
    assert not (worktree.parent / "shared").exists()
    assert shared_corpus(worktree) == layout / "shared" / "corpus"


def test_the_environment_names_the_corpus_outright(layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCPIPE_CORPUS", str(layout / "elsewhere"))
    assert shared_corpus(layout / "main") == layout / "elsewhere"


def test_a_folder_outside_any_repository_looks_beside_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCPIPE_CORPUS", raising=False)
    (tmp_path / "unpacked").mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert shared_corpus(tmp_path / "unpacked") == tmp_path / "shared" / "corpus"
