"""The docpipe CLI against the local gateway: log in, upload with progress, list, show, watch, download."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from docpipe_cli.main import main
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture
def cli(api: str, stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def run(*args: str, login: bool = True) -> tuple[int, str]:
        out = io.StringIO()
        creds = ["--user", "demo", "--password", stack.names.demo_password] if login else []
        code = main(["--api", api, *creds, *args], out=out)
        return code, out.getvalue()

    return run


def test_the_cli_uploads_waits_lists_shows_and_downloads(cli, pump, tmp_path: Path) -> None:
    pdf = tmp_path / "quarterly report.pdf"
    pdf.write_bytes(samples.pdf(pages=3))
    jpg = tmp_path / "photo.jpg"
    jpg.write_bytes(samples.jpeg())
    code, out = cli("upload", str(pdf), str(jpg), "--wait")
    assert code == 0, out
    ids = [line.split()[0] for line in out.splitlines() if line.endswith("uploaded")]
    assert len(ids) == 2 and out.count("PROCESSED") == 2

    code, out = cli("ls", "--name", "quarterly", login=False)  # the cached token is reused
    assert code == 0 and ids[0] in out and "quarterly report.pdf" in out

    code, out = cli("show", ids[0], login=False)
    assert code == 0 and '"page_count": 3' in out

    target = tmp_path / "back.pdf"
    code, out = cli("download", ids[0], "-o", str(target), login=False)
    assert code == 0 and target.read_bytes() == pdf.read_bytes()

    code, out = cli("watch", ids[1], login=False)
    assert code == 0 and "PROCESSED" in out


def test_the_cli_reports_errors_without_a_traceback(cli, capsys) -> None:
    code, _ = cli("show", "0" * 32)
    assert code == 1 and "404 not_found" in capsys.readouterr().err


def test_the_cli_refuses_a_wrong_password(api, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    assert main(["--api", api, "--user", "demo", "--password", "wrong-Password-1", "ls"], out=io.StringIO()) == 1
    assert "docpipe:" in capsys.readouterr().err
