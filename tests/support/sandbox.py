"""Faults injected into the extraction sandbox from outside, as the platform would cause them."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from chalicelib.extraction import sandbox


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
