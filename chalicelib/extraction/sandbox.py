"""The host's side of the extraction sandbox: a pool of pre-forked workers and sessions on them.

A `Session` checks one worker out of the pool for the reads of one file:
extraction, the rendition's content and the plain text all run in that worker,
one after the other, each under its own `Limits`, against one cached reader
that lives in the worker. The file is read once: the worker asks the host for
the byte ranges it misses, the host fetches them (timing every fetch as
waiting on storage) and counts them on the host's reader.

The host enforces the wall-clock deadline of each call; the worker enforces
CPU and memory on itself (RLIMIT_CPU, RLIMIT_AS). How a call ended decides
whose fault it was (`bounds.failure_of`): only a limit we enforced names the
file. A worker that crashed, breached a limit or wore out (`max_jobs`,
`max_growth`) is replaced by a fresh fork of the zygote (`zygote.py`), which
costs about a millisecond; a healthy one goes back to the pool.

Nothing here forks: the zygote is started with `subprocess` (fork + exec in
C) and does all the forking, single-threaded, so the host may have as many
threads as it likes (see `zygote.py` for why that matters).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import bounds
from chalicelib.extraction.noise import report
from chalicelib.extraction.reader import first_block
from chalicelib.extraction.wire import (
    DATA,
    END_SESSION,
    FETCH,
    FORKED,
    FRAME,
    JOB,
    PID,
    RANGE,
    RESULT,
    dumps,
    recv_frame,
    send_frame,
)

MAX_IDLE = 4
MAX_JOBS = 500
MAX_GROWTH = 256 * 1024 * 1024


class Fetcher(Protocol):
    """What a session reads through: the host's reader (`RangedReader.fetch_range`)."""

    def fetch_range(self, start: int, end: int) -> bytes: ...

    @property
    def size(self) -> int: ...


class _Zygote:
    """The forking process, and the one socket the host speaks to it through (under the pool's lock)."""

    def __init__(self) -> None:
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]  # the host's imports, absolute
        code = (
            "import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
            "from chalicelib.extraction import zygote; zygote.main(int(sys.argv[1]))"
        )
        self.process = subprocess.Popen(  # fork + exec in C: safe from a threaded host
            [sys.executable, "-c", code, str(zygote_end.fileno()), json.dumps(path)],
            pass_fds=(zygote_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for the host does not reach it; it ends when the host does
        )
        zygote_end.close()
        self.control = host_end

    def fork(self, reap: list[int], max_jobs: int, max_growth: int) -> tuple[int, socket.socket]:
        body = {"do": "fork", "reap": reap, "max_jobs": max_jobs, "max_growth": max_growth}
        send_frame(self.control, JOB, dumps(body))
        data, fds, _, _ = socket.recv_fds(self.control, FRAME.size + PID.size, 1)
        if len(data) < FRAME.size:
            raise ConnectionError("the zygote is gone")
        kind, size = FRAME.unpack_from(data)
        if kind != FORKED:
            rest = self._rest(data[FRAME.size :], size)
            raise ExtractionFailed(f"No worker could be started ({json.loads(rest).get('error')})", code="interrupted")
        return PID.unpack_from(data, FRAME.size)[0], socket.socket(fileno=fds[0])

    def _rest(self, start: bytes, size: int) -> bytes:
        data = bytearray(start)
        while len(data) < size:
            chunk = self.control.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the zygote is gone")
            data += chunk
        return bytes(data)

    def wait(self, pid: int) -> tuple[int | None, float, int]:
        send_frame(self.control, JOB, dumps({"do": "wait", "pid": pid}))
        frame = recv_frame(self.control)
        if frame is None:
            raise ConnectionError("the zygote is gone")
        body = json.loads(frame[1])
        return body["status"], float(body["cpu"]), int(body.get("rss") or 0)

    def warm(self, modules: list[str]) -> None:
        send_frame(self.control, JOB, dumps({"do": "warm", "modules": modules}))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=2)


def peak_resident(pid: int) -> int:
    """A process's peak resident bytes so far (VmHWM in /proc/PID/status), 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class _Worker:
    pid: int
    sock: socket.socket
    zygote: int
    """The pool's count of zygotes when this one forked it: only that zygote may reap, and be asked about, its pid."""
    cpu_base: float = 0.0
    """CPU seconds the worker had used when its current job began (its own total after the last one)."""
    peak_before: int = 0
    """The worker's peak resident bytes when its current job began: its own report after the last one, read from
    /proc for a fresh worker (0 when it could not be read)."""
    peak_after: int = 0
    """Its peak resident bytes over its life, from wait4 once it ended (0 while it runs)."""
    took_a_job: bool = False
    """False while fresh from the zygote: a fresh worker that cannot take a job means forking itself is failing."""


def _ended_while_idle(worker: _Worker) -> bool:
    """An idle worker sends nothing: if its socket reads (end of stream, or stray bytes) it is no use.

    A worker killed from outside while idle (the OOM killer, an operator, the
    end of its zygote) closes its end as it dies; the pool must not hand it out.
    """
    poller = select.poll()  # not select.select: a host with many sockets may pass descriptor 1024
    poller.register(worker.sock, select.POLLIN)
    return bool(poller.poll(0))


@dataclass
class Pool:
    """Idle workers of this process, and the zygote that forks new ones."""

    max_idle: int = MAX_IDLE
    max_jobs: int = MAX_JOBS
    max_growth: int = MAX_GROWTH
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _zygote: _Zygote | None = field(default=None, init=False)
    _idle: list[_Worker] = field(default_factory=list, init=False)
    _reap: list[int] = field(default_factory=list, init=False)
    _zygotes: int = field(default=0, init=False)
    forks: int = field(default=0, init=False)
    peak_rss: int = field(default=0, init=False)
    """The largest resident set (bytes) any of this pool's workers reported or was reaped with."""

    def acquire(self) -> _Worker:
        """An idle worker that is still there, else a fresh one (a new zygote if the old one is gone)."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if not _ended_while_idle(worker):
                    return worker
                self._forget(worker)
            for attempt in (1, 2):
                try:
                    pid, sock = self._ensure().fork(self._reap, self.max_jobs, self.max_growth)
                    self._reap.clear()
                    self.forks += 1
                    return _Worker(pid, sock, self._zygotes)
                except (ConnectionError, OSError, ValueError):
                    self._restart()
                    if attempt == 2:
                        message = "No worker could be started; it will be retried"
                        raise ExtractionFailed(message, code="interrupted") from None
        raise AssertionError("unreachable")

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(worker)
                return
        self.retire(worker)

    def retire(self, worker: _Worker) -> None:
        """A worker that ends on its own (or on end of stream): reaped with the next fork."""
        with self._lock:
            self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        """Close a worker's socket (it ends on end of stream) and have its zygote reap it (under the lock)."""
        with contextlib.suppress(OSError):
            worker.sock.close()
        if self._of_current_zygote(worker):
            self._reap.append(worker.pid)

    def _of_current_zygote(self, worker: _Worker) -> bool:
        """False for a worker of a zygote that is gone: it died with it, and its pid may be another process's now."""
        return self._zygote is not None and worker.zygote == self._zygotes

    def kill(self, worker: _Worker) -> tuple[int | None, float]:
        """Stop a worker now; its wait status and the CPU it used in its current job."""
        with self._lock:
            current = self._of_current_zygote(worker)
        if current:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
        return self.ended(worker)

    def ended(self, worker: _Worker) -> tuple[int | None, float]:
        """A worker's wait status and CPU in its current job; (None, 0) when its zygote is gone and cannot tell."""
        with contextlib.suppress(OSError):
            worker.sock.close()
        with self._lock:
            if not self._of_current_zygote(worker):
                return None, 0.0
            try:
                status, cpu, rss = self._ensure().wait(worker.pid)
                self.peak_rss = max(self.peak_rss, rss)
                worker.peak_after = rss
            except (ConnectionError, OSError, ValueError):
                self._restart()
                return None, 0.0
        return status, max(0.0, cpu - worker.cpu_base)

    def note_rss(self, rss: int) -> None:
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)

    def zygote_pid(self) -> int | None:
        zygote = self._zygote
        return None if zygote is None else zygote.process.pid

    def warm(self, modules: list[str]) -> None:
        with self._lock, contextlib.suppress(ConnectionError, OSError):
            self._ensure().warm(modules)

    def _ensure(self) -> _Zygote:
        if self._zygote is None:
            self._zygote = _Zygote()
            self._zygotes += 1
        return self._zygote

    def _restart(self) -> None:
        """The zygote is gone or confused: its workers die with it; start afresh on the next request."""
        if self._zygote is not None:
            self._zygote.close()
        self._zygote = None
        for worker in self._idle:
            with contextlib.suppress(OSError):
                worker.sock.close()
        self._idle.clear()
        self._reap.clear()

    def close(self) -> None:
        with self._lock:
            self._restart()


_pool: Pool | None = None
_pool_lock = threading.Lock()
_fetchers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="docpipe-fetch")
_sessions = itertools.count(1)


def pool() -> Pool:
    """This process's pool (one per process: a forked host starts its own)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
        return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)
atexit.register(lambda: _pool.close() if _pool is not None else None)


def function_name(function: Callable[..., Any]) -> str:
    """'module:qualified.name' of a function a worker can import (not a lambda or a nested function)."""
    qualname = getattr(function, "__qualname__", "")
    if "<" in qualname or not getattr(function, "__module__", None):
        raise TypeError(f"{function!r} cannot run in a worker: pass a module-level function")
    return f"{function.__module__}:{qualname}"


class _Abandoned(Exception):
    """The host gave up on the call (deadline or a failed fetch); the worker must be killed."""


@dataclass
class _Call:
    """The host's bookkeeping for one call."""

    limits: bounds.Limits
    deadline: float
    storage_seconds: float = 0.0


class Session:
    """One worker, checked out for the reads of one file (`reader`), or for reader-less work."""

    def __init__(self, reader: Fetcher | None = None, owner: Pool | None = None) -> None:
        self._reader = reader
        self._pool = owner or pool()
        self._worker: _Worker | None = None
        self._id = str(next(_sessions))
        self._primed = False

    def on(self, reader: Fetcher) -> Session:
        """This session, reading `reader` from now on (a session is opened before its file is found)."""
        if self._reader is not reader:
            self._reader = reader
            self._id = str(next(_sessions))
            self._primed = False
        return self

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self, function: Callable[..., Any], *args: Any, limits: bounds.Limits, reads_head: bool = False, **kwargs: Any
    ) -> Any:
        """`function(reader, *args, **kwargs)` in the worker (without `reader` when the session has none).

        `reads_head=True` says the function reads the file's head first (extraction
        does): on the session's first call the host sends the first block with
        the job, sparing the worker a round trip to ask for it.
        """
        job: dict[str, Any] = {
            "function": function_name(function),
            "args": list(args),
            "kwargs": kwargs,
            "limits": {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes},
        }
        block = None
        if self._reader is not None:
            job.update(session=self._id, size=self._reader.size)
            block = first_block(self._reader.size) if reads_head and not self._primed else None
            if block is not None:
                job["head"] = True
                self._primed = True
        worker = self._send(json.dumps(job).encode())  # arguments must be JSON as they are: no bytes
        state = _Call(limits, time.monotonic() + limits.wall_seconds)
        try:
            if block is not None:
                send_frame(worker.sock, DATA, self._fetch(*block, state))
            return self._serve(worker, state)
        except _Abandoned as abandoned:
            self._worker = None
            status, cpu = self._pool.kill(worker)
            cause = abandoned.__cause__
            if cause is not None:
                raise cause from None
            raise bounds.past_deadline(limits, bounds.Spent(state.storage_seconds, cpu)) from None
        except (ConnectionError, OSError):
            self._worker = None
            status, cpu = self._pool.ended(worker)
            grew = worker.peak_after - worker.peak_before if worker.peak_before and worker.peak_after else 0
            raise bounds.failure_of(status, limits, bounds.Spent(state.storage_seconds, cpu, grew)) from None

    def _send(self, job: bytes) -> _Worker:
        """Hand the job to a live worker: every one that died while idle is replaced (they may all have been killed).

        Only fresh workers that cannot take a job stop the call (twice: forking
        itself is failing), as `interrupted`: it is never the file's doing.
        """
        fresh_failures = 0
        while True:
            if self._worker is None:
                self._worker = self._pool.acquire()
            worker = self._worker
            if not worker.took_a_job:
                worker.peak_before = peak_resident(worker.pid)
            try:
                send_frame(worker.sock, JOB, job)
            except OSError:
                self._worker = None
                self._pool.retire(worker)
                fresh_failures += not worker.took_a_job
                if fresh_failures == 2:
                    raise ExtractionFailed("No worker took the job; it will be retried", code="interrupted") from None
                continue
            worker.took_a_job = True
            return worker

    def _serve(self, worker: _Worker, state: _Call) -> Any:
        while True:
            frame = self._next(worker, state)
            if frame is None:
                raise ConnectionError("the worker ended without a result")
            kind, payload = frame
            if kind == FETCH:
                start, end = RANGE.unpack(payload)
                send_frame(worker.sock, DATA, self._fetch(start, end, state))
            elif kind == RESULT:
                return self._result(worker, json.loads(payload))
            else:
                raise _Abandoned(f"unexpected frame {kind!r}")

    def _next(self, worker: _Worker, state: _Call) -> tuple[bytes, bytes] | None:
        remaining = state.deadline - time.monotonic()
        if remaining <= 0:
            raise _Abandoned("deadline")
        worker.sock.settimeout(remaining)
        try:
            return recv_frame(worker.sock)
        except TimeoutError:
            raise _Abandoned("deadline") from None
        finally:
            with contextlib.suppress(OSError):
                worker.sock.settimeout(None)

    def _fetch(self, start: int, end: int, state: _Call) -> bytes:
        """A range for the worker, fetched here; a fetch that outlives the deadline abandons the call."""
        reader = self._reader
        if reader is None:
            raise _Abandoned("a reader-less call asked for bytes")
        began = time.monotonic()
        future = _fetchers.submit(reader.fetch_range, start, end)
        try:
            return future.result(timeout=max(0.0, state.deadline - began))
        except FutureTimeout:
            raise _Abandoned("storage") from None
        except BaseException as exc:  # storage failed: the host's error, raised as it is, never the file's
            raise _Abandoned("fetch failed") from exc
        finally:
            state.storage_seconds += time.monotonic() - began

    def _result(self, worker: _Worker, body: dict[str, Any]) -> Any:
        report(body.get("noise"))  # what the parsing libraries said: one line per call, never a flood
        worker.cpu_base = float(body.get("cpu") or 0.0)
        worker.peak_before = int(body.get("rss") or 0)
        self._pool.note_rss(worker.peak_before)
        if body.get("modules"):
            self._pool.warm(body["modules"])
        if body.get("retire"):
            self._worker = None
            self._pool.retire(worker)
        if "error" in body:
            error = body["error"]
            raise ExtractionFailed(error["message"], code=error["code"], metadata=error.get("metadata"))
        return body["ok"]

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            if self._reader is not None:
                send_frame(worker.sock, END_SESSION)
        except OSError:
            self._pool.retire(worker)
            return
        self._pool.release(worker)


@contextlib.contextmanager
def session(reader: Fetcher | None = None) -> Iterator[Session]:
    with Session(reader) as opened:
        yield opened


def run_bounded(work: Callable[..., Any], *args: Any, limits: bounds.Limits | None = None, **kwargs: Any) -> Any:
    """`work(*args, **kwargs)` in a sandbox worker under `limits`; its JSON-able result.

    `work` is a module-level function (the worker imports it by name).
    `ExtractionFailed` raised by it keeps its code; any other exception becomes
    `corrupt`, memory exhaustion `too_large`.
    """
    with Session() as session:
        return session.call(work, *args, limits=limits or bounds.Limits.from_env(), **kwargs)
