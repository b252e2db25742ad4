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

The outcome maps to the stable reason codes: a deadline or CPU limit ->
`timeout`, memory exhaustion -> `too_large`, a crash -> `corrupt`.
`multiprocessing` is not used: its queues and pools need /dev/shm, which Lambda
lacks. `fork` works from any thread (the child holds only the calling thread).
The budgets and the switch to run in-process (DOCPIPE_SANDBOX=0, e.g. under a
debugger) come from `Settings`, where every environment variable is read.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import resource
import select
import signal
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import ExtractionFailed

MIB = 1024 * 1024
_HEADER = struct.Struct("!Q")
_EXIT_OK = 0
_EXIT_NO_MEMORY = 86
_EXIT_FAILED = 87
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


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


def run_bounded(work: Callable[[], Any], limits: Limits | None = None) -> Any:
    """Run `work` in a forked child under `limits`; return its JSON-able result.

    `ExtractionFailed` raised by `work` is re-raised here with its code; any
    other exception becomes `corrupt`, memory exhaustion `too_large`.
    """
    limits = limits or Limits.from_env()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(read_end)
        _child(work, limits, write_end)
    os.close(write_end)
    try:
        payload, status = _collect(pid, read_end, limits.wall_seconds)
    finally:
        os.close(read_end)
    return _outcome(payload, status, limits)


def _child(work: Callable[[], Any], limits: Limits, out: int) -> None:
    code = _EXIT_OK
    try:
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


def _collect(pid: int, fd: int, wall_seconds: float) -> tuple[bytes | None, int]:
    """Read the framed result; kill the child at the deadline. Returns (payload, wait status)."""
    deadline = time.monotonic() + wall_seconds
    buffer = bytearray()
    expected: int | None = None
    while expected is None or len(buffer) < expected + _HEADER.size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, _kill(pid)
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.05))
        if ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                buffer += chunk
                if expected is None and len(buffer) >= _HEADER.size:
                    expected = _HEADER.unpack_from(buffer)[0]
                continue
            _, status = os.waitpid(pid, 0)  # end of file: the child has exited
            return _drain(fd, buffer, expected), status
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return _drain(fd, buffer, expected), status
    _, status = os.waitpid(pid, 0)
    return bytes(buffer[_HEADER.size :]), status


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


def _kill(pid: int) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return -1 if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else status


def _outcome(payload: bytes | None, status: int, limits: Limits) -> Any:
    if payload is not None:
        body = json.loads(payload)
        if "error" in body:
            raise ExtractionFailed(body["error"]["message"], code=body["error"]["code"])
        return body["ok"]
    raise _failure(status, limits)


def _failure(status: int, limits: Limits) -> ExtractionFailed:
    if status == -1:
        return ExtractionFailed(f"Reading the file took longer than {limits.wall_seconds:g} s", code="timeout")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return ExtractionFailed(f"Reading the file used more than {limits.cpu_seconds:g} s of CPU", code="timeout")
        if sig == signal.SIGKILL:
            return ExtractionFailed("The file needs too much memory to read", code="too_large")
        if sig in _CRASH_SIGNALS:
            return ExtractionFailed(f"The parser crashed on this file ({signal.Signals(sig).name})", code="corrupt")
        return ExtractionFailed(f"The parser was stopped by signal {sig}", code="corrupt")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == _EXIT_NO_MEMORY:
        return ExtractionFailed("The file needs too much memory to read", code="too_large")
    return ExtractionFailed("The parser ended without a result", code="corrupt")
