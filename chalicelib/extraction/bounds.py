"""Run untrusted parsing under a time budget and a memory bound.

Parsers meet hostile bytes: decompression bombs, quines, billion-laughs XML,
inputs that send C libraries into endless loops or segfaults. No timeout inside
the same process can stop a C loop, and a segfault there would take the Lambda
handler down with it, so the work runs in a forked child:

- the child sets RLIMIT_AS (its current address space plus the budget), a CPU
  time limit and no core dumps, runs the function and sends its JSON result
  back through a pipe (length-prefixed, so a pipe end inherited by a sibling
  forked from another thread cannot hold the parent up);
- the parent waits on the pipe with a wall-clock deadline and kills the child
  when it passes.

Only a limit we enforced names the file: the CPU limit -> `timeout`, the
memory bound -> `too_large`, a crash of the parser -> `corrupt`. What is not
the file's doing never names it: a child that spent its wall-clock budget
waiting on storage (reads go through `waiting_on_storage`, which keeps account
in memory shared with the parent) ends `unavailable`; one stopped by a signal
we did not send (an outside SIGKILL, the OOM killer acting for the whole
machine, SIGTERM) or that made no progress at all (neither computing nor
reading: starved, stopped, stuck on a lock) ends `interrupted`. Both are
transient: the caller gives the document back and the event is retried. The
child blocks the crash signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT):
the kernel still delivers them for a real fault (and abort() unblocks its
own), while the same signals sent from outside stay pending and harmless.

`multiprocessing` is not used: its queues and pools need /dev/shm, which Lambda
lacks. `fork` works from any thread (the child holds only the calling thread),
but not while another thread is importing a module: the child would inherit
that module's import lock, held by a thread it does not have, and wait for it
forever. `fork_clean` retries until the child's snapshot has no such lock.
The budgets and the switch to run in-process (DOCPIPE_SANDBOX=0, e.g. under a
debugger) come from `Settings`, where every environment variable is read.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib._bootstrap as bootstrap
import json
import mmap
import os
import resource
import select
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed

MIB = 1024 * 1024
_HEADER = struct.Struct("!Q")
_EXIT_OK = 0
_EXIT_NO_MEMORY = 86
_EXIT_FAILED = 87
_EXIT_FORKED_MID_IMPORT = 88
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
_KILLED_AT_DEADLINE = -1
STORAGE_SHARE = 0.5
"""A child that spent this share of its wall-clock budget waiting on storage was stalled by storage."""
WORK_SHARE = 0.25
"""A child that used less CPU than this share of its wall-clock budget (and was not waiting on storage)
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


class StorageGauge:
    """Time spent waiting on storage, in memory shared by a parent and the children it forks afterwards.

    Two doubles: when the read in progress began (0 when none is) and the
    seconds of finished reads. `time.monotonic` is one clock for all
    processes of the machine, so the parent can read what the child wrote.
    """

    _LAYOUT = struct.Struct("dd")

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, self._LAYOUT.size)  # MAP_SHARED | MAP_ANONYMOUS: no /dev/shm needed

    def _get(self) -> tuple[float, float]:
        started, total = self._LAYOUT.unpack_from(self._memory)
        return started, total

    def reset(self) -> None:
        self._LAYOUT.pack_into(self._memory, 0, 0.0, 0.0)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        _, total = self._get()
        started = time.monotonic()
        self._LAYOUT.pack_into(self._memory, 0, started, total)
        try:
            yield
        finally:
            self._LAYOUT.pack_into(self._memory, 0, 0.0, total + time.monotonic() - started)

    def seconds(self, now: float | None = None) -> float:
        """Seconds spent waiting so far, the read in progress included."""
        started, total = self._get()
        return total + (max(0.0, (now or time.monotonic()) - started) if started else 0.0)

    def close(self) -> None:
        self._memory.close()


_gauge: StorageGauge | None = None
"""The gauge of the bounded work running in this process (set in the child only)."""


@contextlib.contextmanager
def waiting_on_storage() -> Iterator[None]:
    """Wrap every read from storage in this, so a stalled store is told from a slow parser."""
    if _gauge is None:
        yield
        return
    with _gauge.waiting():
        yield


def sandbox_enabled(settings: Settings | None = None) -> bool:
    """False when the deployment runs parsers in-process (DOCPIPE_SANDBOX=0, for debugging)."""
    return (settings or Settings.from_env()).sandbox


def run_bounded(work: Callable[[], Any], limits: Limits | None = None) -> Any:
    """Run `work` in a forked child under `limits`; return its JSON-able result.

    `ExtractionFailed` raised by `work` is re-raised here with its code; any
    other exception becomes `corrupt`, memory exhaustion `too_large`.
    """
    limits = limits or Limits.from_env()
    gauge = StorageGauge()
    read_end, write_end = os.pipe()
    try:
        pid = fork_clean()
        if pid == 0:  # child: never returns
            os.close(read_end)
            _child(work, limits, write_end, gauge)
        os.close(write_end)
        try:
            payload, status, usage = _collect(pid, read_end, limits.wall_seconds)
        finally:
            os.close(read_end)
        waited = gauge.seconds()
    finally:
        gauge.close()
    return _outcome(payload, status, limits, _Spent(waited, usage.ru_utime + usage.ru_stime if usage else 0.0))


def fork_clean(patience: float = 10.0) -> int:
    """os.fork(), again and again until no other thread was importing a module at that instant.

    A module lock held at the fork belongs, in the child, to a thread that
    does not exist there: any import of that module in the child waits
    forever. The child checks its snapshot first thing and tells the parent
    through a pipe; a tainted child exits at once and the parent forks again a
    moment later (after `patience` seconds it keeps the child it has: the
    wall-clock deadline still bounds it, and a stuck child ends `interrupted`).
    """
    give_up = time.monotonic() + patience
    while True:
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            clean = not _foreign_import_in_progress() or time.monotonic() > give_up
            os.write(ready_write, b"1" if clean else b"0")
            os.close(ready_write)
            if not clean:
                os._exit(_EXIT_FORKED_MID_IMPORT)
            return 0
        os.close(ready_write)
        try:
            verdict = os.read(ready_read, 1)
        finally:
            os.close(ready_read)
        if verdict != b"0":
            return pid
        os.waitpid(pid, 0)
        time.sleep(0.002)


def _foreign_import_in_progress() -> bool:
    """True when a module lock is owned by a thread other than this one (in a child: one that is gone)."""
    me = threading.get_ident()
    for ref in list(getattr(bootstrap, "_module_locks", {}).values()):
        lock = ref()
        owner = getattr(lock, "owner", None)
        if owner is not None and owner != me:
            return True
    return False


def _child(work: Callable[[], Any], limits: Limits, out: int, gauge: StorageGauge) -> None:
    global _gauge
    code = _EXIT_OK
    _gauge = gauge
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _CRASH_SIGNALS)
        _apply_limits(limits)
        try:
            body: dict[str, Any] = {"ok": work()}
        except ExtractionFailed as exc:
            body = {"error": {"code": exc.code, "message": exc.message}}
        except MemoryError:
            body = {"error": {"code": "too_large", "message": "The file needs too much memory to read"}}
        except RecursionError:
            body = {"error": {"code": "corrupt", "message": "The file's structure is nested too deeply"}}
        except Exception as exc:
            body = {"error": {"code": "corrupt", "message": f"{type(exc).__name__}: {str(exc)[:200]}"}}
        data = json.dumps(body, default=str).encode()
        _write_all(out, _HEADER.pack(len(data)) + data)
    except MemoryError:
        code = _EXIT_NO_MEMORY
    except BaseException:
        code = _EXIT_FAILED
    finally:
        os._exit(code)


def _apply_limits(limits: Limits) -> None:
    faulthandler.disable()  # a crash is reported by the parent as `corrupt`, not as a dump
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    address_space = _address_space() + limits.memory_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or address_space < hard:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, hard))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + limits.cpu_seconds) + 1
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    if cpu_hard == resource.RLIM_INFINITY or cpu < cpu_hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu_hard))


def _address_space() -> int:
    """The process's current virtual size in bytes (VmSize)."""
    try:
        with open("/proc/self/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


Reaped = tuple[int, Any]
"""(wait status, resource usage of the child) from os.wait4."""


def _collect(pid: int, fd: int, wall_seconds: float) -> tuple[bytes | None, int, Any]:
    """Read the framed result; kill the child at the deadline. Returns (payload, wait status, usage)."""
    deadline = time.monotonic() + wall_seconds
    buffer = bytearray()
    expected: int | None = None
    while expected is None or len(buffer) < expected + _HEADER.size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, *_kill(pid)
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.05))
        if ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                buffer += chunk
                if expected is None and len(buffer) >= _HEADER.size:
                    expected = _HEADER.unpack_from(buffer)[0]
                continue
            _, status, usage = os.wait4(pid, 0)  # end of file: the child has exited
            return _drain(fd, buffer, expected), status, usage
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return _drain(fd, buffer, expected), status, usage
    _, status, usage = os.wait4(pid, 0)
    return bytes(buffer[_HEADER.size :]), status, usage


def _drain(fd: int, buffer: bytearray, expected: int | None) -> bytes | None:
    """After the child exited: whatever complete payload is left in the pipe."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0)
        chunk = os.read(fd, 1 << 16) if ready else b""
        if not chunk:
            break
        buffer += chunk
    if len(buffer) >= _HEADER.size:
        expected = _HEADER.unpack_from(buffer)[0]
        if len(buffer) >= expected + _HEADER.size:
            return bytes(buffer[_HEADER.size : _HEADER.size + expected])
    return None


def _kill(pid: int) -> Reaped:
    """Kill the child at its deadline; the status says it was us unless it had already ended otherwise."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    ours = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return (_KILLED_AT_DEADLINE if ours else status), usage


@dataclass(frozen=True)
class _Spent:
    """Where a child's time went: waiting on storage, and on the CPU."""

    storage_seconds: float
    cpu_seconds: float


def _outcome(payload: bytes | None, status: int, limits: Limits, spent: _Spent) -> Any:
    if payload is not None:
        body = json.loads(payload)
        if "error" in body:
            raise ExtractionFailed(body["error"]["message"], code=body["error"]["code"])
        return body["ok"]
    raise _failure(status, limits, spent)


def _failure(status: int, limits: Limits, spent: _Spent) -> ExtractionFailed:
    if status == _KILLED_AT_DEADLINE:
        return _past_deadline(limits, spent)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU and spent.cpu_seconds >= limits.cpu_seconds * 0.9:
            return ExtractionFailed(f"Reading the file used more than {limits.cpu_seconds:g} s of CPU", code="timeout")
        if sig in _CRASH_SIGNALS:
            return ExtractionFailed(f"The parser crashed on this file ({signal.Signals(sig).name})", code="corrupt")
        return ExtractionFailed(
            f"The extraction was stopped from outside ({signal.Signals(sig).name}); it will be retried",
            code="interrupted",
        )
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == _EXIT_NO_MEMORY:
        return ExtractionFailed("The file needs too much memory to read", code="too_large")
    return ExtractionFailed("The parser ended without a result", code="corrupt")


def _past_deadline(limits: Limits, spent: _Spent) -> ExtractionFailed:
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
