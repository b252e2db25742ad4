"""Bounded execution: hangs, memory hogs and crashes end as reason codes, never as a stuck handler.

The work runs in a sandbox worker, which imports it by name: every workload
here is a module-level function.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import json
import os
import resource
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import sandbox, wire
from chalicelib.extraction.bounds import Limits, sandbox_enabled
from chalicelib.extraction.extract import extract
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.sandbox import Pool, Session, run_bounded
from tests.support import samples
from tests.support.sandbox import spun_out, wait_ended

FAST = Limits(wall_seconds=2.0, cpu_seconds=5.0, memory_bytes=256 * 1024 * 1024)
ROOMY = Limits(wall_seconds=20.0, cpu_seconds=10.0, memory_bytes=256 * 1024 * 1024)
"""For work that must reach its memory bound before the deadline on a loaded machine."""


@pytest.fixture(autouse=True, scope="module")
def _warm_workers() -> None:
    """Workers import this module to run its functions: have the zygote load it once, as it does an extractor."""
    run_bounded(answer, limits=Limits(wall_seconds=60.0, cpu_seconds=60.0))


def hang() -> None:
    while True:  # waits on nothing the file controls: a stuck lock, a stopped or starved process
        time.sleep(0.5)


def spin() -> None:
    while True:
        pass


def hog() -> None:
    chunks = []
    while True:
        chunks.append(bytearray(32 * 1024 * 1024))


def crash() -> None:
    ctypes.string_at(0)


def values() -> dict[str, Any]:
    return {"pid": os.getpid(), "values": [1, 2]}


def encrypted() -> None:
    raise ExtractionFailed("needs a password", code="encrypted")


def divide_by_zero() -> float:
    return 1 / 0


def recurse(n: int = 0) -> int:
    return recurse(n + 1) + 1


def exit_without_result() -> None:
    os._exit(3)


def send_self(sig: int) -> int:
    os.kill(os.getpid(), sig)
    return 42


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def abort() -> None:
    ctypes.CDLL(None).abort()


def abort_reading(reader: RangedReader) -> None:
    reader.read(1)
    abort()


def answer() -> int:
    return 42


def read_all(reader: RangedReader) -> int:
    return len(reader.read())


def code_of(work: Any, *args: Any, limits: Limits = FAST) -> str:
    with pytest.raises(ExtractionFailed) as caught:
        run_bounded(work, *args, limits=limits)
    return caught.value.code


def test_a_result_comes_back_as_json() -> None:
    assert run_bounded(values, limits=FAST)["values"] == [1, 2]


def test_the_work_runs_in_another_process() -> None:
    assert run_bounded(os.getpid, limits=FAST) != os.getpid()


def test_a_lambda_is_refused_with_a_clear_error_because_a_worker_cannot_import_it() -> None:
    with pytest.raises(TypeError, match="module-level function"):
        run_bounded(lambda: 1, limits=FAST)


def test_a_parser_spinning_past_the_wall_clock_deadline_ends_as_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ExtractionFailed) as caught:
        run_bounded(spin, limits=Limits(wall_seconds=1.0, cpu_seconds=5.0))
    assert spun_out(caught.value, 1.0)
    assert time.monotonic() - started < 3.0


def test_a_child_that_makes_no_progress_until_the_deadline_is_interrupted_not_the_files_fault() -> None:
    with Session() as session:
        # the worker has imported this module before the hang starts: on a loaded machine the import alone can
        # cost more CPU than the hang's share of a 2 s budget, and that is not the hang's progress
        session.call(answer, limits=FAST)
        started = time.monotonic()
        with pytest.raises(ExtractionFailed) as caught:
            session.call(hang, limits=Limits(wall_seconds=2.0, cpu_seconds=5.0))
    assert caught.value.code == "interrupted", caught.value.message
    assert time.monotonic() - started < 4.0


def test_a_busy_loop_ends_as_timeout_through_the_cpu_limit() -> None:
    assert code_of(spin, limits=Limits(wall_seconds=10.0, cpu_seconds=1.0)) == "timeout"


def test_a_memory_hog_ends_as_too_large() -> None:
    assert code_of(hog, limits=ROOMY) == "too_large"


def test_a_segfault_ends_as_corrupt() -> None:
    assert code_of(crash) == "corrupt"


def test_an_extraction_failure_keeps_its_code() -> None:
    with pytest.raises(ExtractionFailed, match="needs a password") as caught:
        run_bounded(encrypted, limits=FAST)
    assert caught.value.code == "encrypted"


def test_any_other_exception_is_corrupt_and_deep_recursion_too() -> None:
    assert code_of(divide_by_zero) == "corrupt"
    assert code_of(recurse) == "corrupt"


def test_a_child_that_exits_without_a_result_is_corrupt() -> None:
    assert code_of(exit_without_result) == "corrupt"


def test_bounds_work_from_non_main_threads_at_the_same_time() -> None:
    results: dict[str, str] = {}
    limits = Limits(wall_seconds=8.0, cpu_seconds=5.0, memory_bytes=256 * 1024 * 1024)  # four at once, loaded machine

    def run(name: str, work: Any) -> None:
        try:
            results[name] = str(run_bounded(work, limits=limits))
        except ExtractionFailed as exc:
            results[name] = "timeout" if name == "hang" and spun_out(exc, limits.wall_seconds) else exc.code

    threads = [
        threading.Thread(target=run, args=("hang", spin)),
        threading.Thread(target=run, args=("hog", hog)),
        threading.Thread(target=run, args=("crash", crash)),
        threading.Thread(target=run, args=("ok", answer)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {"hang": "timeout", "hog": "too_large", "crash": "corrupt", "ok": "42"}


def test_the_sandbox_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCPIPE_SANDBOX", "0")
    assert sandbox_enabled() is False
    monkeypatch.setenv("DOCPIPE_SANDBOX", "1")
    assert sandbox_enabled() is True


def test_limits_come_from_the_environment() -> None:
    limits = Limits.from_env({"DOCPIPE_EXTRACT_TIMEOUT": "7", "DOCPIPE_EXTRACT_MEMORY_MB": "300"})
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_bytes) == (7.0, 6.0, 300 * 1024 * 1024)


# -- the platform's faults never name the file ------------------------------------


def test_a_child_killed_from_outside_is_interrupted_not_too_large() -> None:
    assert code_of(kill_self) == "interrupted"


def test_a_child_terminated_from_outside_is_interrupted() -> None:
    assert code_of(terminate_self) == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT])
def test_a_crash_signal_sent_from_outside_does_not_stop_the_work(sig: signal.Signals) -> None:
    assert run_bounded(send_self, int(sig), limits=FAST) == 42


def test_a_real_abort_in_a_parser_is_still_corrupt() -> None:
    assert code_of(abort) == "corrupt"


def test_a_real_abort_in_a_worker_that_already_served_a_file_is_still_corrupt() -> None:
    with Session(bytes_reader(b"abc")) as session:
        assert session.call(read_all, limits=FAST) == 3
        with pytest.raises(ExtractionFailed) as caught:
            session.call(abort_reading, limits=FAST)
    assert caught.value.code == "corrupt" and "crashed" in caught.value.message


def _stalled(data: bytes, stall: float) -> RangedReader:
    def fetch(start: int, end: int) -> bytes:
        time.sleep(stall)
        return data[start : end + 1]

    return RangedReader(fetch, len(data))


def test_a_read_stalled_on_storage_past_its_deadline_is_unavailable_not_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ExtractionFailed) as caught, Session(_stalled(b"x" * 1000, 10.0)) as session:
        session.call(read_all, limits=Limits(wall_seconds=1.0, cpu_seconds=5.0))
    assert caught.value.code == "unavailable" and "Storage did not answer" in caught.value.message
    assert time.monotonic() - started < 4.0


def test_a_storage_error_reaches_the_caller_as_it_is_never_as_a_corrupt_file() -> None:
    def fetch(start: int, end: int) -> bytes:
        raise ExtractionFailed("The object changed while it was read", code="changed")

    with pytest.raises(ExtractionFailed) as caught, Session(RangedReader(fetch, 100)) as session:
        session.call(read_all, limits=FAST)
    assert caught.value.code == "changed"


def test_a_host_with_threads_never_forks_so_python_has_no_fork_deadlock_to_warn_about() -> None:
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)
    busy.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # os.fork() with threads warns since 3.12
            with Session() as session:
                session.call(answer, limits=FAST)
            assert code_of(crash) == "corrupt"  # a replacement worker is forked by the zygote, not here
            assert run_bounded(answer, limits=FAST) == 42
    finally:
        stop.set()
        busy.join()


def test_a_session_reads_a_file_through_the_host_once() -> None:
    data = os.urandom(200_000)
    reader = bytes_reader(data)
    with Session(reader) as session:
        assert session.call(read_all, limits=FAST) == len(data)
        assert session.call(read_all, limits=FAST) == len(data)  # the second pass is served by the worker's cache
    assert reader.bytes_fetched == len(data)


def _frames_from_workers(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The kinds of the frames the host receives from its workers, in order."""
    kinds: list[bytes] = []

    def recording(sock: Any) -> tuple[bytes, bytes] | None:
        frame = wire.recv_frame(sock)
        if frame is not None:
            kinds.append(frame[0])
        return frame

    monkeypatch.setattr(sandbox, "recv_frame", recording)
    return kinds


def test_an_extraction_gets_the_first_block_with_its_job_and_a_small_file_costs_no_round_trip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = samples.png()
    reader = bytes_reader(data)
    kinds = _frames_from_workers(monkeypatch)
    with Session(reader) as session:
        metadata = extract(reader, "picture.png", limits=FAST, session=session).metadata
    assert metadata["mime_type"] == "image/png" and metadata["sha256"] == hashlib.sha256(data).hexdigest()
    assert kinds == [wire.RESULT]  # the worker never had to ask the host for bytes
    assert (reader.requests, reader.bytes_fetched) == (1, len(data))


def test_a_primed_first_block_is_read_once_and_the_rest_is_fetched_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(300_000)
    reader = bytes_reader(data)
    kinds = _frames_from_workers(monkeypatch)
    with Session(reader) as session:
        assert session.call(read_all, limits=FAST, reads_head=True) == len(data)
        assert session.call(read_all, limits=FAST, reads_head=True) == len(data)  # primed once per session
    assert reader.bytes_fetched == len(data)
    assert kinds.count(wire.FETCH) == reader.requests - 1  # all but the first block were asked for by the worker


def test_a_storage_error_on_the_first_block_reaches_the_caller_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def fetch(start: int, end: int) -> bytes:
        raise ExtractionFailed("The object changed while it was read", code="changed")

    with pytest.raises(ExtractionFailed) as caught, Session(RangedReader(fetch, 100)) as session:
        session.call(read_all, limits=FAST, reads_head=True)
    assert caught.value.code == "changed"
    assert run_bounded(answer, limits=FAST) == 42  # the pool goes on


# -- the pool of pre-forked workers ------------------------------------------------


def grow(megabytes: int) -> int:
    global _kept
    _kept = bytearray(megabytes * 1024 * 1024)
    return os.getpid()


_kept = bytearray()


@pytest.fixture
def make_pool() -> Iterator[Callable[..., Pool]]:
    """Private pools (so a test's workers are its own), closed after the test."""
    made: list[Pool] = []

    def make(**settings: int) -> Pool:
        made.append(Pool(**settings))
        return made[-1]

    yield make
    for pool in made:
        pool.close()


def test_one_worker_serves_file_after_file(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    pids = {_pid_in(pool) for _ in range(5)}
    assert len(pids) == 1 and pool.forks == 1


def test_a_crashed_worker_is_replaced_and_the_next_file_is_served(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    first = _pid_in(pool)
    with Session(owner=pool) as session, pytest.raises(ExtractionFailed):
        session.call(crash, limits=FAST)
    assert _pid_in(pool) not in (first, os.getpid())


def test_a_worker_that_breached_the_memory_bound_is_replaced(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    first = _pid_in(pool)
    with Session(owner=pool) as session, pytest.raises(ExtractionFailed, match="too much memory"):
        session.call(hog, limits=ROOMY)
    assert _pid_in(pool) != first


def test_a_worker_retires_after_its_number_of_files(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool(max_jobs=3)
    pids = [_pid_in(pool) for _ in range(7)]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6]


def test_a_worker_whose_memory_grew_past_the_bound_retires(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool(max_growth=64 * 1024 * 1024)
    with Session(owner=pool) as session:
        first = session.call(grow, 100, limits=FAST)
    assert _pid_in(pool) != first


def test_a_worker_killed_while_idle_is_replaced_without_failing_the_next_file(make_pool: Callable[..., Pool]) -> None:
    pool = make_pool()
    first = _pid_in(pool)
    os.kill(first, signal.SIGKILL)
    wait_ended([first])  # a fixed sleep may end before a loaded machine has run the kill
    assert _pid_in(pool) != first


def _pid_in(pool: Pool) -> int:
    with Session(owner=pool) as session:
        return int(session.call(os.getpid, limits=FAST))


def allocate_until_refused_then_abort() -> None:
    """What C allocators that never return NULL do (PDFium's): touch memory until malloc fails, then abort()."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    while True:
        block = libc.malloc(16 * 1024 * 1024)
        if not block:
            libc.abort()
        ctypes.memset(block, 1, 16 * 1024 * 1024)


def test_a_parser_that_aborts_when_its_memory_runs_out_is_too_large_not_corrupt() -> None:
    with pytest.raises(ExtractionFailed) as caught:
        run_bounded(allocate_until_refused_then_abort, limits=FAST)
    assert caught.value.code == "too_large" and "SIGABRT" in str(caught.value)


def test_a_workers_bookkeeping_around_a_job_opens_no_file_and_sets_the_jobs_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per job the worker sizes itself through one descriptor opened at its start, not by opening /proc again."""
    from chalicelib.extraction import zygote

    host, end = socket.socketpair()
    worker = zygote.Worker(end, {})
    worker.baseline = worker.statm.resident_bytes()
    set_limits: list[int] = []
    opened: list[object] = []
    monkeypatch.setattr(resource, "setrlimit", lambda which, _: set_limits.append(which))  # never this process's
    monkeypatch.setattr(builtins, "open", _noting(builtins.open, opened))
    monkeypatch.setattr(os, "open", _noting(os.open, opened))
    job = {"function": "os:getpid", "limits": {"cpu_seconds": 5.0, "memory_bytes": 1 << 28}}
    try:
        for _ in range(3):
            assert worker.job(job) is None
            kind, payload = wire.recv_frame(host) or (b"", b"")
            assert kind == wire.RESULT and json.loads(payload)["ok"] == os.getpid()
    finally:
        host.close()
        end.close()
    assert opened == []
    assert set_limits == [resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_AS] * 3


def _noting(function: Callable[..., Any], calls: list[object]) -> Callable[..., Any]:
    def noted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return function(*args, **kwargs)

    return noted
