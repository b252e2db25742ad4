"""Bounded execution: hangs, memory hogs and crashes end as reason codes, never as a stuck handler."""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import ExtractionFailed
from chalicelib.extraction.bounds import Limits, StorageGauge, run_bounded, sandbox_enabled, waiting_on_storage

FAST = Limits(wall_seconds=2.0, cpu_seconds=5.0, memory_bytes=256 * 1024 * 1024)
ROOMY = Limits(
    wall_seconds=30.0, cpu_seconds=30.0, memory_bytes=256 * 1024 * 1024
)  # ends long before, even on a busy machine


def hang() -> None:
    while True:  # waits on nothing the file controls: a stuck lock, a stopped or starved process
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


def test_a_parser_spinning_past_the_wall_clock_deadline_ends_as_timeout() -> None:
    started = time.monotonic()
    assert code_of(spin, Limits(wall_seconds=3.0, cpu_seconds=10.0)) == "timeout"
    assert time.monotonic() - started < 8.0


def test_a_child_that_makes_no_progress_until_the_deadline_is_interrupted_not_the_files_fault() -> None:
    started = time.monotonic()
    assert code_of(hang, Limits(wall_seconds=0.5, cpu_seconds=5.0)) == "interrupted"
    assert time.monotonic() - started < 2.0


def test_a_busy_loop_ends_as_timeout_through_the_cpu_limit() -> None:
    assert code_of(spin, Limits(wall_seconds=10.0, cpu_seconds=1.0)) == "timeout"


def test_a_memory_hog_ends_as_too_large() -> None:
    assert code_of(hog, ROOMY) == "too_large"


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

    def run(name: str, work: Any, limits: Limits = ROOMY) -> None:
        try:
            results[name] = str(run_bounded(work, limits))
        except ExtractionFailed as exc:
            results[name] = exc.code

    threads = [
        threading.Thread(target=run, args=("hang", spin, Limits(wall_seconds=60.0, cpu_seconds=1.0))),
        threading.Thread(target=run, args=("hog", hog)),
        threading.Thread(target=run, args=("crash", crash)),
        threading.Thread(target=run, args=("ok", lambda: 42)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
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
    assert code_of(lambda: os.kill(os.getpid(), signal.SIGKILL)) == "interrupted"


def test_a_child_terminated_from_outside_is_interrupted() -> None:
    assert code_of(lambda: os.kill(os.getpid(), signal.SIGTERM)) == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT])
def test_a_crash_signal_sent_from_outside_does_not_stop_the_work(sig: signal.Signals) -> None:
    def work() -> int:
        os.kill(os.getpid(), sig)
        return 42

    assert run_bounded(work, FAST) == 42


def test_a_real_abort_in_a_parser_is_still_corrupt() -> None:
    assert code_of(lambda: ctypes.CDLL(None).abort()) == "corrupt"


def test_a_child_stalled_on_storage_past_its_deadline_is_unavailable_not_timeout() -> None:
    def stalled_read() -> None:
        with waiting_on_storage():
            time.sleep(10)

    started = time.monotonic()
    with pytest.raises(ExtractionFailed) as caught:
        run_bounded(stalled_read, Limits(wall_seconds=1.0, cpu_seconds=5.0))
    assert caught.value.code == "unavailable" and "Storage did not answer" in caught.value.message
    assert time.monotonic() - started < 4.0


def test_the_storage_gauge_counts_finished_and_running_waits() -> None:
    gauge = StorageGauge()
    try:
        with gauge.waiting():
            time.sleep(0.05)
        assert 0.04 < gauge.seconds() < 1.0
        with gauge.waiting():
            time.sleep(0.05)
            assert gauge.seconds() > 0.09
    finally:
        gauge.close()


def test_forking_while_another_thread_imports_the_module_the_child_needs_does_not_deadlock(tmp_path: Path) -> None:
    marker = tmp_path / "importing"
    name = f"docpipe_slow_import_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(1.5)\nVALUE = 7\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        importer = threading.Thread(target=importlib.import_module, args=(name,))
        importer.start()
        while not marker.exists():
            time.sleep(0.005)
        value = run_bounded(lambda: importlib.import_module(name).VALUE, Limits(wall_seconds=6.0, cpu_seconds=5.0))
        importer.join(5)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    assert value == 7
