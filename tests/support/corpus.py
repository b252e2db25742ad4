"""Where the shared corpus is: `../shared/corpus` beside the repository, from its main checkout or a worktree.

A git worktree lives elsewhere than the repository's main checkout (here
`/work/wt/<name>` beside `/work/main`), so `../shared` from the worktree
misses the corpus; git's common directory names the main checkout. The
environment variable DOCPIPE_CORPUS, when set, names the folder outright.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def shared_corpus(repository: Path = REPOSITORY) -> Path:
    """The corpus folder to use (it may not exist: callers skip what needs it)."""
    named = os.environ.get("DOCPIPE_CORPUS")
    if named:
        return Path(named)
    beside = repository.parent / "shared" / "corpus"
    if beside.is_dir():
        return beside
    main = main_checkout(repository)
    return main.parent / "shared" / "corpus" if main is not None else beside


def main_checkout(repository: Path = REPOSITORY) -> Path | None:
    """The folder of the repository's main checkout (the same as this one outside a worktree), if git can tell."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=repository,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    common = Path(found.stdout.strip())
    return common.parent if common.name == ".git" else None
