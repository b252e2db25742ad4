"""Bounded execution: hangs, memory hogs and crashes end as reason codes, never as a stuck handler."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Any

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits, run_bounded, sandbox_enabled

FAST = Limits(wall_seconds=2.0, cpu_seconds=5.0, memory_bytes=256 * 1024 * 1024)


def hang() -> None:
    while True:
        time.sleep(0.01)


def spin() -> None:
    while True:
        pass


def hog() -> None:
    chunks = []
    while True:
        chunks.append(bytearray(32 * 1024 * 1024))


def crash() -> None:
    ctypes.string_at(0)


def code_of(work: Any, limits: Limits = FAST) -> str:
    with pytest.raises(ExtractionFailed) as caught:
        run_bounded(work, limits)
    return caught.value.code


def test_a_result_comes_back_as_json() -> None:
    assert run_bounded(lambda: {"pid": os.getpid(), "values": [1, 2]}, FAST)["values"] == [1, 2]


def test_the_work_runs_in_another_process() -> None:
    assert run_bounded(os.getpid, FAST) != os.getpid()


def test_a_hanging_extractor_ends_as_timeout_at_the_wall_clock_deadline() -> None:
    started = time.monotonic()
    assert code_of(hang, Limits(wall_seconds=0.5, cpu_seconds=5.0)) == "timeout"
    assert time.monotonic() - started < 2.0


def test_a_busy_loop_ends_as_timeout_through_the_cpu_limit() -> None:
    assert code_of(spin, Limits(wall_seconds=10.0, cpu_seconds=1.0)) == "timeout"


def test_a_memory_hog_ends_as_too_large() -> None:
    assert code_of(hog) == "too_large"


def test_a_segfault_ends_as_corrupt() -> None:
    assert code_of(crash) == "corrupt"


def test_an_extraction_failure_keeps_its_code() -> None:
    def encrypted() -> None:
        raise ExtractionFailed("needs a password", code="encrypted")

    with pytest.raises(ExtractionFailed, match="needs a password") as caught:
        run_bounded(encrypted, FAST)
    assert caught.value.code == "encrypted"


def test_any_other_exception_is_corrupt_and_deep_recursion_too() -> None:
    def recurse(n: int = 0) -> int:
        return recurse(n + 1) + 1

    assert code_of(lambda: 1 / 0) == "corrupt"
    assert code_of(recurse) == "corrupt"


def test_a_child_that_exits_without_a_result_is_corrupt() -> None:
    assert code_of(lambda: os._exit(3)) == "corrupt"


def test_bounds_work_from_non_main_threads_at_the_same_time() -> None:
    results: dict[str, str] = {}

    def run(name: str, work: Any) -> None:
        try:
            results[name] = str(run_bounded(work, FAST))
        except ExtractionFailed as exc:
            results[name] = exc.code

    threads = [
        threading.Thread(target=run, args=("hang", hang)),
        threading.Thread(target=run, args=("hog", hog)),
        threading.Thread(target=run, args=("crash", crash)),
        threading.Thread(target=run, args=("ok", lambda: 42)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {"hang": "timeout", "hog": "too_large", "crash": "corrupt", "ok": "42"}


def test_the_sandbox_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCPIPE_SANDBOX", "0")
    assert sandbox_enabled() is False
    monkeypatch.setenv("DOCPIPE_SANDBOX", "1")
    assert sandbox_enabled() is True


def test_limits_come_from_the_environment() -> None:
    limits = Limits.from_env({"DOCPIPE_EXTRACT_TIMEOUT": "7", "DOCPIPE_EXTRACT_MEMORY_MB": "300"})
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_bytes) == (7.0, 6.0, 300 * 1024 * 1024)
