"""`docpipe backfill` against the local gateway, the real state machine and the pump."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from docpipe_cli.main import main
from tests.integration.test_backfill_on_emulator import notifications_off

pytestmark = pytest.mark.emulator


@pytest.fixture
def cli(api: str, stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def run(*args: str, user: str = "admin") -> tuple[int, str]:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / user))  # each user's own token cache
        out = io.StringIO()
        password = stack.names.admin_password if user == "admin" else stack.names.demo_password
        code = main(["--api", api, "--user", user, "--password", password, *args], out=out)
        return code, out.getvalue()

    return run


def test_an_admin_backfills_from_the_command_line_and_follows_it_to_the_end(
    cli: Any, stack: Any, aws: dict[str, Any], pump: Any
) -> None:
    prefix = f"uploads/cli-{uuid.uuid4().hex[:8]}/"
    with notifications_off(aws, stack.names.bucket):
        for i in range(3):
            aws["s3"].put_object(Bucket=stack.names.bucket, Key=f"{prefix}note-{i}.txt", Body=b"note %d\n" % i)
    code, out = cli("backfill", "start", "--missing", prefix, "--max-concurrency", "2", "--wait")
    assert code == 0, out
    run_id = out.split()[0]
    assert (
        "succeeded" in out and "SUCCEEDED" not in out and "listed 3  queued 3  processed 3  failed 0  skipped 0" in out
    )
    assert f"objects without a document under {prefix}" in out

    code, out = cli("backfill", "status")
    assert code == 0 and run_id in out
    code, out = cli("backfill", "status", run_id)
    assert code == 0 and "ended" in out
    code, out = cli("backfill", "stop", run_id)
    assert code == 1, out  # it already ended: 409, reported on stderr


def test_backfill_start_needs_a_selection_and_an_administrator(cli: Any) -> None:
    code, out = cli("backfill", "start")
    assert code == 2 and "--missing and/or --stale" in out
    code, _ = cli("backfill", "start", "--stale", "--family", "pdf", user="demo")
    assert code == 1
