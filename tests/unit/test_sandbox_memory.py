"""The pool knows the peak resident memory of its workers, the processes that parse untrusted files.

`getrusage(RUSAGE_CHILDREN)` in the host cannot tell it: the workers are the
zygote's children, not the host's, and every other subprocess the host waited
for (a test run, an emulator) is counted there too.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits
from chalicelib.extraction.sandbox import Pool, Session

MIB = 1024 * 1024
LIMITS = Limits(wall_seconds=30.0, cpu_seconds=10.0, memory_bytes=512 * MIB)


def hold(megabytes: int) -> int:
    """Touch `megabytes` of memory (bytearray zero-fills it, so it is resident) and let it go."""
    held = bytearray(megabytes * MIB)
    return len(held) // MIB


def hold_then_die(megabytes: int) -> None:
    hold(megabytes)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def owner() -> Iterator[Pool]:
    made = Pool()
    yield made
    made.close()


def test_the_peak_a_worker_reaches_in_a_job_is_reported_to_the_pool(owner: Pool) -> None:
    with Session(owner=owner) as session:
        session.call(hold, 1, limits=LIMITS)
        small = owner.peak_rss
        assert session.call(hold, 200, limits=LIMITS) == 200
    assert 0 < small < owner.peak_rss
    assert owner.peak_rss >= 200 * MIB
    assert owner.peak_rss < 200 * MIB + small + 64 * MIB  # the worker's own peak, not a sum over processes


def test_the_peak_of_a_worker_that_was_killed_is_learned_when_it_is_reaped(owner: Pool) -> None:
    with Session(owner=owner) as session, pytest.raises(ExtractionFailed) as failed:
        session.call(hold_then_die, 150, limits=LIMITS)
    assert failed.value.code == "interrupted"
    assert owner.peak_rss >= 150 * MIB


def test_other_subprocesses_of_the_host_are_not_counted(owner: Pool) -> None:
    script = f"x = bytearray({300 * MIB}); print(len(x))"
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 >= 300 * MIB
    with Session(owner=owner) as session:
        session.call(hold, 1, limits=LIMITS)
    assert 0 < owner.peak_rss < 300 * MIB
