"""The worker pool recovers from whatever is killed from outside: idle workers, a busy one, the zygote, all at once.

The OOM killer acting for the whole machine or an operator may SIGKILL any
process of the sandbox at any moment. The file being read then ends
`interrupted` (transient: the event is retried, the file is never blamed),
and the very next file is served: the pool replaces every worker that died
and the zygote if it is gone.

Each test has a private pool; the work is module-level functions (a worker
imports them by name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction import sandbox
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.reader import RangedReader, bytes_reader
from chalicelib.extraction.sandbox import Pool, Session
from tests.support.sandbox import idle_workers, kill_workers, wait_ended, worker_pids

LIMITS = Limits(wall_seconds=30.0, cpu_seconds=10.0, memory_bytes=256 * 1024 * 1024)
DATA = b"%PDF-1.4 " + bytes(range(256)) * 64


def read_all(reader: RangedReader) -> int:
    return len(reader.read())


@pytest.fixture
def make_pool() -> Iterator[Callable[[], Pool]]:
    made: list[Pool] = []

    def make() -> Pool:
        made.append(Pool())
        return made[-1]

    yield make
    for owner in made:
        owner.close()


def _pid_in(owner: Pool) -> int:
    with Session(owner=owner) as session:
        return int(session.call(os.getpid, limits=LIMITS))


def _idle_workers(owner: Pool, count: int) -> list[int]:
    """`count` workers, each having served a file, back in the pool and waiting."""
    pids = idle_workers(count, owner)
    assert len(set(pids)) == count and sorted(worker_pids(owner)) == sorted(pids)
    return pids


def _kill_zygote(owner: Pool) -> list[int]:
    """SIGKILL the zygote; its workers end with it (PR_SET_PDEATHSIG). The pids of all that ended."""
    workers = worker_pids(owner)
    zygote = owner.zygote_pid()
    assert zygote is not None
    os.kill(zygote, signal.SIGKILL)
    wait_ended([zygote, *workers])
    return [zygote, *workers]


def test_every_idle_worker_killed_from_outside_is_replaced_and_the_next_file_is_served(
    make_pool: Callable[[], Pool],
) -> None:
    owner = make_pool()
    killed = _idle_workers(owner, 3)
    kill_workers(owner=owner)
    wait_ended(killed)
    assert _pid_in(owner) not in killed
    assert _pid_in(owner) not in killed  # and the one after it, by the same fresh worker


def test_a_killed_zygote_is_replaced_with_the_idle_workers_that_died_with_it(make_pool: Callable[[], Pool]) -> None:
    owner = make_pool()
    _idle_workers(owner, 3)
    first = owner.zygote_pid()
    killed = _kill_zygote(owner)
    assert _pid_in(owner) not in killed
    assert owner.zygote_pid() not in (None, first)


def test_the_zygote_and_every_worker_killed_at_once_are_replaced(make_pool: Callable[[], Pool]) -> None:
    owner = make_pool()
    _idle_workers(owner, 3)
    workers = kill_workers(owner=owner)
    killed = _kill_zygote(owner) + workers
    wait_ended(killed)
    assert _pid_in(owner) not in killed


def _read_killing(owner: Pool, kill: Callable[[], list[int]]) -> tuple[ExtractionFailed, list[int]]:
    """Read a file in a worker; on its first fetch (the worker waits for bytes) `kill` strikes. The error, the pids."""
    struck: list[int] = []

    def fetch(start: int, end: int) -> bytes:
        if not struck:
            struck.extend(kill())
            wait_ended(struck)
        return DATA[start : end + 1]

    with Session(RangedReader(fetch, len(DATA)), owner=owner) as session, pytest.raises(ExtractionFailed) as failed:
        session.call(read_all, limits=LIMITS)
    return failed.value, struck


def test_every_worker_killed_while_one_reads_a_file_interrupts_that_file_only(make_pool: Callable[[], Pool]) -> None:
    owner = make_pool()
    _idle_workers(owner, 3)
    error, killed = _read_killing(owner, lambda: kill_workers(owner=owner))
    assert error.code == "interrupted" and "SIGKILL" in error.message, error.message
    assert len(killed) == 3
    with Session(bytes_reader(DATA), owner=owner) as session:
        assert session.call(read_all, limits=LIMITS) == len(DATA)
    assert _pid_in(owner) not in killed


def test_the_zygote_killed_while_a_worker_reads_a_file_interrupts_that_file_and_the_next_is_served(
    make_pool: Callable[[], Pool],
) -> None:
    owner = make_pool()
    _idle_workers(owner, 2)
    error, killed = _read_killing(owner, lambda: _kill_zygote(owner))
    assert error.code == "interrupted", error.message
    with Session(bytes_reader(DATA), owner=owner) as session:
        assert session.call(read_all, limits=LIMITS) == len(DATA)
    assert _pid_in(owner) not in killed


def test_a_worker_killed_between_its_fork_and_its_first_job_is_replaced(
    make_pool: Callable[[], Pool], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_pool()
    fork = sandbox._Zygote.fork
    killed: list[int] = []

    def fork_then_kill(zygote: sandbox._Zygote, *args: int | list[int]) -> tuple[int, object]:
        pid, sock = fork(zygote, *args)  # type: ignore[arg-type]
        if not killed:
            os.kill(pid, signal.SIGKILL)
            wait_ended([pid])
            killed.append(pid)
        return pid, sock

    monkeypatch.setattr(sandbox._Zygote, "fork", fork_then_kill)
    assert _pid_in(owner) not in killed
    assert len(killed) == 1 and owner.forks == 2


def test_a_zygote_killed_as_a_worker_is_asked_for_is_replaced(
    make_pool: Callable[[], Pool], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_pool()
    _pid_in(owner)
    fork = sandbox._Zygote.fork
    killed: list[int] = []

    def kill_then_fork(zygote: sandbox._Zygote, *args: int | list[int]) -> tuple[int, object]:
        if not killed:
            killed.extend(_kill_zygote(owner))
        return fork(zygote, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sandbox._Zygote, "fork", kill_then_fork)
    with Session(owner=owner) as holding, Session(owner=owner) as forking:
        holding.call(os.getpid, limits=LIMITS)  # takes the idle worker, so the next session needs a fork
        forked = int(forking.call(os.getpid, limits=LIMITS))  # the zygote is killed just before that fork
    assert killed and forked not in killed and owner.zygote_pid() not in killed
    assert _pid_in(owner) not in killed


def test_a_worker_whose_zygote_died_while_forking_it_ends_instead_of_living_on_unreaped() -> None:
    # In a child process: the parent-death signal set by the check must not outlive this test.
    code = (
        "import os, sys; from chalicelib.extraction import zygote; "
        "print(zygote._die_with_parent(os.getppid()), zygote._die_with_parent(os.getppid() + 1))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_threads_reading_files_while_every_worker_is_killed_all_end_served_or_interrupted(
    make_pool: Callable[[], Pool],
) -> None:
    owner = make_pool()
    _idle_workers(owner, 3)
    results: list[object] = []

    def read() -> None:
        try:
            with Session(bytes_reader(DATA), owner=owner) as session:
                results.append(session.call(read_all, limits=LIMITS))
        except ExtractionFailed as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    wait_ended(kill_workers(owner=owner))
    for thread in threads:
        thread.join(60)
    assert len(results) == 6 and set(results) <= {len(DATA), "interrupted"}, results
    assert _pid_in(owner) > 0
