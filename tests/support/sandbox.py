"""Faults injected into the extraction sandbox from outside, as the platform would cause them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import sandbox
from chalicelib.extraction.bounds import WORK_SHARE


def worker_pids() -> list[int]:
    """The running workers of this process's pool (the children of its zygote)."""
    zygote = sandbox.pool().zygote_pid()
    if zygote is None:
        return []
    pids: list[int] = []
    for task in Path(f"/proc/{zygote}/task").iterdir():
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def kill_workers(sig: int = signal.SIGKILL) -> None:
    """What an outside SIGKILL (the OOM killer acting for the machine, an operator) does to the workers."""
    for pid in worker_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def spun_out(error: ExtractionFailed, wall: float) -> bool:
    """A spinning parser stopped at the deadline: `timeout`, or `interrupted` when the machine starved it.

    Under the rule of `bounds.WORK_SHARE` a worker that got less than that
    share of its wall-clock time on a CPU made no progress of its own (which is
    not the file's doing); on a loaded machine (several test runs on two cores)
    that happens to a spinning one too.
    """
    if error.code == "timeout":
        return True
    used = re.search(r"used ([\d.]+) s of CPU", error.message)
    return error.code == "interrupted" and used is not None and float(used.group(1)) <= wall * WORK_SHARE + 0.05
