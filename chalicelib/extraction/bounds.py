"""Budgets for untrusted parsing, and whose fault it was when a parse did not finish.

Parsers meet hostile bytes: decompression bombs, quines, billion-laughs XML,
inputs that send C libraries into endless loops or segfaults. No timeout inside
the same process can stop a C loop, and a segfault there would take the Lambda
handler down with it, so the work runs in a sandbox worker
(`chalicelib.extraction.sandbox`, `zygote.py`) under `Limits`: a wall-clock
deadline the host enforces, a CPU limit and an address-space bound the worker
sets on itself (RLIMIT_CPU, RLIMIT_AS) for each job, no core dumps.

Only a limit we enforced names the file: the CPU limit -> `timeout`, the
memory bound -> `too_large` (also a crash after the worker's memory grew by
half the bound or more: allocators that abort when an allocation fails),
another crash of the parser -> `corrupt`. What is not
the file's doing never names it: a call that spent its wall-clock budget
waiting on storage (the host times every fetch it makes for the worker) ends
`unavailable`; a worker stopped by a signal we did not send (an outside
SIGKILL, the OOM killer acting for the whole machine, SIGTERM) or that made no
progress at all (neither computing nor reading: starved, stopped, stuck on a
lock) ends `interrupted`. Both are transient: the caller gives the document
back and the event is retried. Workers block the crash signals (SIGSEGV,
SIGBUS, SIGILL, SIGFPE, SIGABRT): the kernel still delivers them for a real
fault (and abort() unblocks its own), while the same signals sent from outside
stay pending and harmless.

`multiprocessing` is not used: its queues and pools need /dev/shm, which Lambda
lacks. The budgets and the switch to run in-process (DOCPIPE_SANDBOX=0, e.g.
under a debugger) come from `Settings`, where every environment variable is read.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed

MIB = 1024 * 1024
EXIT_NO_MEMORY = 86
"""A worker's exit code when it ran out of memory outside a job's own handling."""
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
OUT_OF_MEMORY_SHARE = 0.5
"""A parser that crashed after its resident memory grew by this share of the memory bound ran out of memory.

C allocators that do not return NULL abort instead (PDFium's PartitionAlloc calls abort() when an allocation
fails under RLIMIT_AS, and writes nothing first): the signal alone cannot tell that from a parser bug, the
growth of the worker's peak resident set during the call (/proc/PID/status VmHWM before it, wait4's ru_maxrss
after) can. Measured: a page inflating to 377 MB aborts at a growth of 225 MB under a 256 MB bound, 381 MB under
600 MB, 994 MB under 1,024 MB; an abort() in a parser grows it by nothing."""
STORAGE_SHARE = 0.5
"""A call that spent this share of its wall-clock budget waiting on storage was stalled by storage."""
WORK_SHARE = 0.05
"""A call that used less CPU than this share of its wall-clock budget (and was not waiting on storage)
made no progress of its own: it was starved, stopped or stuck, which is not the file's doing."""


@dataclass(frozen=True)
class Limits:
    """Budgets for one bounded call."""

    wall_seconds: float = 30.0
    cpu_seconds: float = 25.0
    memory_bytes: int = 1024 * MIB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The extraction budget the deployment set (DOCPIPE_EXTRACT_*)."""
        return cls.for_extraction(Settings.from_env(env))

    @classmethod
    def for_extraction(cls, settings: Settings) -> Limits:
        return cls(settings.extract_seconds, settings.extract_cpu_seconds, settings.extract_memory_mb * MIB)

    @classmethod
    def for_rendition(cls, settings: Settings) -> Limits:
        wall = settings.rendition_seconds
        return cls(wall, max(1.0, wall - 1.0), settings.rendition_memory_mb * MIB)


def sandbox_enabled(settings: Settings | None = None) -> bool:
    """False when the deployment runs parsers in-process (DOCPIPE_SANDBOX=0, for debugging)."""
    return (settings or Settings.from_env()).sandbox


@dataclass(frozen=True)
class Spent:
    """Where a child's time went: waiting on storage, and on the CPU."""

    storage_seconds: float
    cpu_seconds: float
    memory_growth: int = 0
    """How far the worker's peak resident memory rose during the call (bytes; 0 when unknown)."""


def failure_of(status: int | None, limits: Limits, spent: Spent) -> ExtractionFailed:
    """Why a worker ended without a result (`status` from wait4; None when it could not be learned)."""
    if status is None:
        return ExtractionFailed("The extraction worker was lost; it will be retried", code="interrupted")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU and spent.cpu_seconds >= limits.cpu_seconds * 0.9:
            return ExtractionFailed(f"Reading the file used more than {limits.cpu_seconds:g} s of CPU", code="timeout")
        if sig in CRASH_SIGNALS and spent.memory_growth >= limits.memory_bytes * OUT_OF_MEMORY_SHARE:
            return ExtractionFailed(
                f"The file needs too much memory to read (the parser stopped, {signal.Signals(sig).name}, after its"
                f" memory grew by {spent.memory_growth // MIB} MB of the {limits.memory_bytes // MIB} MB it may add)",
                code="too_large",
            )
        if sig in CRASH_SIGNALS:
            return ExtractionFailed(f"The parser crashed on this file ({signal.Signals(sig).name})", code="corrupt")
        return ExtractionFailed(
            f"The extraction was stopped from outside ({signal.Signals(sig).name}); it will be retried",
            code="interrupted",
        )
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_NO_MEMORY:
        return ExtractionFailed("The file needs too much memory to read", code="too_large")
    return ExtractionFailed("The parser ended without a result", code="corrupt")


def past_deadline(limits: Limits, spent: Spent) -> ExtractionFailed:
    """We stopped the child at its wall-clock deadline: whose time was it?"""
    wall = limits.wall_seconds
    if spent.storage_seconds >= wall * STORAGE_SHARE:
        return ExtractionFailed(
            f"Storage did not answer in time ({spent.storage_seconds:.0f} s of {wall:g} s went waiting on reads); "
            "it will be retried",
            code="unavailable",
        )
    if spent.cpu_seconds < wall * WORK_SHARE:
        return ExtractionFailed(
            f"The extraction made no progress in {wall:g} s (it used {spent.cpu_seconds:.1f} s of CPU); "
            "it will be retried",
            code="interrupted",
        )
    return ExtractionFailed(f"Reading the file took longer than {wall:g} s", code="timeout")
