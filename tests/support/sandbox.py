"""Faults injected into the extraction sandbox from outside, as the platform would cause them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import sandbox
from chalicelib.extraction.bounds import WORK_SHARE, Limits


def worker_pids(owner: sandbox.Pool | None = None) -> list[int]:
    """The workers of a pool (this process's by default): the children of its zygote, as yet unreaped."""
    zygote = (owner or sandbox.pool()).zygote_pid()
    if zygote is None:
        return []
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{zygote}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def idle_workers(count: int, owner: sandbox.Pool | None = None) -> list[int]:
    """Leave `count` workers idle in a pool (this process's by default), as a run of many files does; their pids."""
    sessions = [sandbox.Session(owner=owner) for _ in range(count)]
    limits = Limits(wall_seconds=60.0, cpu_seconds=10.0)
    try:
        return [int(session.call(os.getpid, limits=limits)) for session in sessions]
    finally:
        for session in sessions:
            session.close()


def kill_workers(sig: int = signal.SIGKILL, owner: sandbox.Pool | None = None) -> list[int]:
    """What an outside SIGKILL (the OOM killer acting for the machine, an operator) does to the workers."""
    pids = worker_pids(owner)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def wait_ended(pids: list[int], timeout: float = 10.0) -> None:
    """Until every process in `pids` has ended (a zombie has closed its sockets: its parent need not reap it)."""
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still running: {[pid for pid in pids if _running(pid)]}")
        time.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


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
