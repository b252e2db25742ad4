"""The processes that run parsers: a zygote that forks workers, and the worker that serves many files.

Why two processes and not a fork per file: forking the host for every file
cost several milliseconds (a large address space to copy-on-write, libmagic
and the parsers re-imported in each child) while the parsing itself takes
about as long. Here the host (`chalicelib.extraction.sandbox`) starts the
zygote once, with `subprocess` (fork + exec in C, no Python code runs between
them, so it is safe in a threaded host and Python 3.12+ does not warn about
it). The zygote imports the extraction core, then forks a worker whenever the
host asks for one and passes the worker's socket to the host (SCM_RIGHTS).
A worker runs job after job, each under its own limits, and is replaced after
a crash, a breached limit, `max_jobs` jobs or `max_growth` of resident memory.

`fork()` in a process with threads may deadlock (a lock held by a thread the
child does not have, e.g. a module import lock or a logging handler's lock),
which is why Python 3.12 deprecates it. The only `fork()` here happens in the
zygote, which never starts a thread: it is single-threaded by construction and
checks `threading.active_count()` before every fork; the host never forks.
Modules a worker imports are reported back and imported by the zygote later
("warming"), so later workers start with them loaded.

The frames between host and worker are in `wire.py`. This module runs only
in the zygote and its workers; the host never imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import detect, extract, rendition, text, wire  # noqa: F401  (every worker starts with them)
from chalicelib.extraction.bounds import CRASH_SIGNALS, EXIT_NO_MEMORY
from chalicelib.extraction.extractors.registry import REGISTRY
from chalicelib.extraction.noise import Noise, plain
from chalicelib.extraction.reader import SESSION_CACHE_BYTES, RangedReader

_PR_SET_PDEATHSIG = 1
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the zygote -------------------------------------------------------------------------------------


def main(control_fd: int) -> None:
    """Serve the host's requests on `control_fd` until it closes: fork, reap, warm.

    The core (detection, libmagic, the reader) is loaded before the first
    fork; the extractors are loaded one module at a time while no request
    waits, so the first file is not held up by the whole preload; what
    workers report importing is loaded as soon as it is reported. Later
    workers start warm.
    """
    control = socket.socket(fileno=control_fd)
    detect.preload()
    pending = list(dict.fromkeys(entry.module for entry in REGISTRY))
    while True:
        if pending and not select.select([control], [], [], 0)[0]:
            _warm(pending.pop(0))
            if not pending:
                text.preload()  # the language profiles, last: the first file need not wait for them
            continue
        frame = wire.recv_frame(control)
        if frame is None:
            return  # the host is gone; workers follow through PR_SET_PDEATHSIG
        request = json.loads(frame[1])
        command = request.get("do")
        if command == "fork":
            _fork_worker(control, request)
        elif command == "wait":
            wire.send_frame(control, wire.RESULT, wire.dumps(_reap(int(request["pid"]))))
        elif command == "warm":  # what a worker needed: load it before the next fork
            for name in request.get("modules") or []:
                _warm(str(name))


def _warm(name: str) -> None:
    if name not in sys.modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _reap(pid: int) -> dict[str, Any]:
    """Wait for a worker to end; its wait status, the CPU seconds it used in its life and its peak RSS (bytes)."""
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return {"status": None, "cpu": 0.0, "rss": 0}
    return {"status": status, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024}


def _fork_worker(control: socket.socket, request: dict[str, Any]) -> None:
    for pid in request.get("reap") or []:
        _reap(int(pid))
    if threading.active_count() != 1:  # never expected: refuse rather than fork a process with threads
        wire.send_frame(control, wire.RESULT, wire.dumps({"error": "the zygote has threads; it will not fork"}))
        return
    host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    zygote = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        host_end.close()
        worker_end.close()
        wire.send_frame(control, wire.RESULT, wire.dumps({"error": f"fork failed: {exc}"}))
        return
    if pid == 0:
        code = 0
        try:
            control.close()
            host_end.close()
            code = Worker(worker_end, request).serve(zygote)
        except MemoryError:
            code = EXIT_NO_MEMORY
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    worker_end.close()
    socket.send_fds(control, [wire.FRAME.pack(wire.FORKED, wire.PID.size) + wire.PID.pack(pid)], [host_end.fileno()])
    host_end.close()


# --- the worker -------------------------------------------------------------------------------------


class Worker:
    """Runs jobs from the host one at a time; returns the exit code when it retires."""

    def __init__(self, sock: socket.socket, settings: dict[str, Any]) -> None:
        self.sock = sock
        self.max_jobs = int(settings.get("max_jobs") or 500)
        self.max_growth = int(settings.get("max_growth") or 256 * 1024 * 1024)
        self.jobs = 0
        self.session: str | None = None
        self.reader: Any = None
        self.known = set(sys.modules)
        self.statm = Statm()  # constructed in the worker, after the fork: these are the worker's own
        self.rlimits = Rlimits(self.statm)
        self.baseline = 0

    def serve(self, zygote: int) -> int:
        if not _die_with_parent(zygote):
            return 0  # the zygote was killed while forking this worker: nobody would reap or replace it
        faulthandler.disable()  # a crash is reported by the host as `corrupt`, not as a dump
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.pthread_sigmask(signal.SIG_BLOCK, CRASH_SIGNALS)
        self.baseline = self.statm.resident_bytes()
        while True:
            frame = wire.recv_frame(self.sock)
            if frame is None:
                return 0
            kind, payload = frame
            if kind == wire.END_SESSION:
                self.session, self.reader = None, None
                continue
            if kind != wire.JOB:
                return 1
            retire = self.job(json.loads(payload))
            if retire:
                return 0

    def job(self, job: dict[str, Any]) -> str | None:
        """Run one job; the reason to retire afterwards, if any."""
        self.jobs += 1
        limits = job.get("limits") or {}
        self.rlimits.apply(float(limits.get("cpu_seconds") or 30.0), int(limits.get("memory_bytes") or 1 << 30))
        body: dict[str, Any]
        retire: str | None = None
        noise = Noise()
        try:
            with noise.capturing():
                body = {"ok": self.call(job)}
        except MemoryError:
            body = {"error": {"code": "too_large", "message": "The file needs too much memory to read"}}
            retire = "memory"
        except RecursionError:
            body = {"error": {"code": "corrupt", "message": "The file's structure is nested too deeply"}}
        except Exception as exc:
            body = {"error": _error_of(exc)}
        finally:
            self.rlimits.lift()
        retire = retire or self._worn_out()
        body.update(cpu=cpu_seconds(), rss=peak_resident_bytes(), retire=retire, modules=self._new_modules())
        body.update(noise=noise.summary())
        try:
            data = wire.dumps(body)
        except MemoryError:
            os._exit(EXIT_NO_MEMORY)
        wire.send_frame(self.sock, wire.RESULT, data)
        return retire

    def call(self, job: dict[str, Any]) -> Any:
        function = resolve(str(job["function"]))
        args = list(job.get("args") or [])
        if job.get("size") is not None:
            args.insert(0, self._reader(str(job.get("session")), int(job["size"]), bool(job.get("head"))))
        return function(*args, **(job.get("kwargs") or {}))

    def _reader(self, session: str, size: int, head: bool) -> Any:
        if session != self.session or self.reader is None:
            self.session = session
            self.reader = RangedReader(self.fetch, size, cache_bytes=SESSION_CACHE_BYTES)
        if head:  # the host sent the first block right behind the job
            self.reader.prime(self._data())
        self.reader.seek(0)  # every job starts at the beginning; the cache is what carries over
        return self.reader

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive) of the file, asked of the host."""
        wire.send_frame(self.sock, wire.FETCH, wire.RANGE.pack(start, end))
        return self._data()

    def _data(self) -> bytes:
        frame = wire.recv_frame(self.sock)
        if frame is None or frame[0] != wire.DATA:
            os._exit(0)  # the host abandoned this job (storage failed or stalled): nothing left to do
        return frame[1]

    def _worn_out(self) -> str | None:
        if self.jobs >= self.max_jobs:
            return "jobs"
        if self.statm.resident_bytes() - self.baseline > self.max_growth:
            return "memory_growth"
        return None

    def _new_modules(self) -> list[str]:
        if len(sys.modules) == len(self.known):
            return []
        current = set(sys.modules)
        new = sorted(n for n in current - self.known if not n.startswith("__"))
        self.known = current
        return new


def _error_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ExtractionFailed):
        return {"code": exc.code, "message": plain(exc.message), "metadata": exc.metadata}
    return {"code": "corrupt", "message": plain(f"{type(exc).__name__}: {str(exc)[:200]}")}


def resolve(name: str) -> Callable[..., Any]:
    """'package.module:function' -> the function."""
    module, _, attribute = name.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{name} is not callable")
    return target


class Statm:
    """This process's virtual and resident size from /proc/self/statm, re-read through one descriptor.

    Opened by each worker after the fork (a descriptor the zygote opened
    would show the zygote's sizes: /proc/self is resolved when it is opened);
    `os.pread` at offset 0 regenerates the figures. Opening the file for every
    read cost about 15 us of the ~110 us a job's bookkeeping took; the pread
    costs 2 us.
    """

    def __init__(self) -> None:
        self._fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)

    def pages(self) -> tuple[int, int]:
        fields = os.pread(self._fd, 128, 0).split()
        return int(fields[0]), int(fields[1])

    def virtual_bytes(self) -> int:
        return self.pages()[0] * PAGE

    def resident_bytes(self) -> int:
        return self.pages()[1] * PAGE


class Rlimits:
    """A job's bounds as rlimits: the hard limits are read once (nothing here raises or lowers them)."""

    def __init__(self, statm: Statm) -> None:
        self._statm = statm
        self._as_hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        self._cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]

    def apply(self, cpu: float, memory: int) -> None:
        """This job's bounds: `cpu` more seconds of CPU, `memory` more bytes of address space."""
        address_space = self._statm.virtual_bytes() + memory
        if self._as_hard == resource.RLIM_INFINITY or address_space < self._as_hard:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, self._as_hard))
        limit = int(cpu_seconds() + cpu) + 1
        if self._cpu_hard == resource.RLIM_INFINITY or limit < self._cpu_hard:
            resource.setrlimit(resource.RLIMIT_CPU, (limit, self._cpu_hard))

    def lift(self) -> None:
        """Between jobs the worker answers the host unbounded (a result must not fail to be sent)."""
        resource.setrlimit(resource.RLIMIT_AS, (self._as_hard, self._as_hard))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_resident_bytes() -> int:
    """The most this worker has had resident in its life (getrusage reports KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _die_with_parent(zygote: int) -> bool:
    """End with the zygote (Linux PR_SET_PDEATHSIG); False if it already ended (then the signal never comes).

    Its parent is single-threaded, so the signal is reliable once set; but a
    zygote that died between the fork and the `prctl` never sends it and
    leaves the worker an orphan, which `getppid()` then shows.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return os.getppid() == zygote
