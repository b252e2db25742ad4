"""The docpipe CLI against the local gateway: sign in, upload with progress, list, show, watch, download,
switch users, sign in again when a token is refused, carry on past a bad file, export rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from docpipe_cli.auth import TokenCache, claims
from docpipe_cli.main import main
from tests.conftest import wait_for
from tests.support import samples

pytestmark = pytest.mark.emulator


@pytest.fixture
def cli(api: str, stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("DOCPIPE_API", "DOCPIPE_USER", "DOCPIPE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, login: bool = True, user: str = "demo", with_api: bool = True) -> tuple[int, str]:
        out = io.StringIO()
        password = stack.names.admin_password if user == "admin" else stack.names.demo_password
        creds = ["--user", user, "--password", password] if login else []
        code = main([*(["--api", api] if with_api else []), *creds, *args], out=out)
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
    assert len(ids) == 2 and out.count(" processed") == 2 and "PROCESSED" not in out

    code, out = cli("ls", "--name", "quarterly", login=False)  # the cached token is reused
    assert code == 0 and ids[0] in out and "quarterly report.pdf" in out

    code, out = cli("show", ids[0], login=False)
    assert code == 0 and '"page_count": 3' in out

    target = tmp_path / "back.pdf"
    code, out = cli("download", ids[0], "-o", str(target), login=False)
    assert code == 0 and target.read_bytes() == pdf.read_bytes()

    code, out = cli("watch", ids[1], login=False)
    assert code == 0 and " processed" in out and "PROCESSED" not in out


def test_the_cli_reports_errors_without_a_traceback(cli, capsys) -> None:
    code, _ = cli("show", "0" * 32)
    assert code == 1 and "404 not_found" in capsys.readouterr().err


def test_the_cli_refuses_a_wrong_password(api, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nocache"))
    assert main(["--api", api, "--user", "demo", "--password", "wrong-Password-1", "ls"], out=io.StringIO()) == 1
    assert "docpipe:" in capsys.readouterr().err


def test_each_user_keeps_their_own_tokens_and_uploads_as_themselves(cli, pump, stack, tmp_path: Path) -> None:
    note = tmp_path / "admin note.txt"
    note.write_text("for admins\n")
    assert cli("login")[0] == 0  # demo
    code, out = cli("upload", str(note), user="admin")
    assert code == 0, out
    doc_id = out.split()[0]
    code, out = cli("show", doc_id, login=False, user="admin")  # the last to sign in: admin
    assert code == 0 and json.loads(out)["owner"] == stack.user_subs["admin"]

    code, out = cli("--user", "demo", "whoami", login=False)  # demo's tokens are still there, unused by admin
    assert code == 0 and "user    demo" in out and stack.user_subs["demo"] in out
    code, _ = cli("--user", "demo", "show", doc_id, login=False)
    assert code == 1  # demo cannot see admin's document: the request really went out as demo
    code, out = cli("whoami", login=False)
    assert "user    admin" in out and "groups  admins" in out

    cache = json.loads((tmp_path / "cache" / "docpipe" / "tokens.json").read_text())
    assert len(cache["sessions"]) == 2 and all(k.endswith(("|demo", "|admin")) for k in cache["sessions"])
    assert oct((tmp_path / "cache" / "docpipe" / "tokens.json").stat().st_mode & 0o777) == "0o600"


def test_a_refused_token_signs_in_again_when_a_password_is_at_hand(cli, api, stack, monkeypatch, capsys) -> None:
    assert cli("login")[0] == 0
    cache = TokenCache()
    pool = stack.user_pool_id
    tokens = cache.get(api, pool, "demo")
    assert tokens is not None
    forged = tokens["id_token"][:-6] + ("AAAAAA" if not tokens["id_token"].endswith("AAAAAA") else "BBBBBB")
    cache.put(api, pool, "demo", {**tokens, "id_token": forged})  # as after a stack that changed its keys

    code, _ = cli("ls", login=False)
    assert code == 1 and "must sign in" in capsys.readouterr().err  # no password, no terminal: it says so

    cache.put(api, pool, "demo", {**tokens, "id_token": forged})
    monkeypatch.setenv("DOCPIPE_USER", "demo")
    monkeypatch.setenv("DOCPIPE_PASSWORD", stack.names.demo_password)
    code, _ = cli("ls", login=False)
    assert code == 0, capsys.readouterr().err
    renewed = cache.get(api, pool, "demo")
    assert renewed is not None and renewed["id_token"] != forged and claims(renewed["id_token"])["sub"]


def test_demos_password_in_the_environment_is_never_tried_for_another_user(cli, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DOCPIPE_USER", "demo")
    monkeypatch.setenv("DOCPIPE_PASSWORD", "the-demo-password-only-1")
    code, _ = cli("--user", "admin", "ls", login=False)
    assert code == 1 and "admin must sign in" in capsys.readouterr().err


def test_one_bad_file_in_a_batch_is_reported_and_the_others_are_uploaded(cli, pump, tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(samples.pdf())
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    also_good = tmp_path / "also good.jpg"
    also_good.write_bytes(samples.jpeg())
    code, out = cli("upload", str(good), str(tmp_path / "missing.pdf"), str(empty), str(also_good), "--wait")
    err = capsys.readouterr().err
    assert code == 1
    assert [line.split("  ")[1] for line in out.splitlines() if line.endswith("uploaded")] == [
        "good.pdf",
        "also good.jpg",
    ]
    assert out.count(" processed") == 2 and "PROCESSED" not in out
    assert "missing.pdf: not uploaded: not a file" in err and "empty.txt: not uploaded: the file is empty" in err
    assert "2 of 4 files failed (2 fine)" in err


def test_rows_export_as_csv_and_rejected_rows_say_why(cli, pump, tmp_path: Path) -> None:
    data = tmp_path / "ledger.csv"
    data.write_text('id,item,amount\n1,"tea, green",2.50\n2,coffee\n3,cake,4.00\n')
    code, out = cli("upload", str(data), "--wait")
    assert code == 0, out
    doc_id = out.split()[0]
    target = tmp_path / "export.csv"
    assert cli("rows", doc_id, "--csv", "-o", str(target), login=False)[0] == 0
    assert list(csv.reader(target.open())) == [
        ["id", "item", "amount"],
        ["1", "tea, green", "2.50"],
        ["3", "cake", "4.00"],
    ]
    code, out = cli("rows", doc_id, "--errors", login=False)
    assert code == 0 and out.splitlines() == ["row\tline\treason", "2\t3\texpected 3 fields, found 2"]
    code, out = cli("ls", "--family", "csv", "--status", "processed", login=False)  # aliases, any case
    assert code == 0 and "ledger.csv" in out and "rows complete with errors" in out


def test_rm_says_the_deletion_was_requested_and_the_document_then_goes(cli, pump, tmp_path: Path, capsys) -> None:
    pdf = tmp_path / "to remove.pdf"
    pdf.write_bytes(samples.pdf())
    code, out = cli("upload", str(pdf), "--wait")
    assert code == 0, out
    doc_id = out.split()[0]
    code, out = cli("rm", doc_id, login=False)
    assert code == 0 and out.strip() == f"{doc_id}  deletion requested (deleting: gone once its rows are removed)"
    wait_for(lambda: cli("show", doc_id, login=False)[0] == 1 and "404" in capsys.readouterr().err, timeout=60)


def test_an_empty_listing_says_so(cli) -> None:
    code, out = cli("ls", "--status", "pending", "-q", "nothing-is-called-this")
    assert code == 0 and out.strip() == "no documents match these filters"


def test_without_an_api_the_cli_says_so_and_then_remembers_the_one_used(cli, api, capsys) -> None:
    code, _ = cli("ls", with_api=False)
    assert code == 1 and "no API configured" in capsys.readouterr().err
    assert cli("login")[0] == 0
    code, out = cli("whoami", login=False, with_api=False)
    assert code == 0 and f"api     {api} (the API used last)" in out


def test_logout_forgets_the_tokens_and_revokes_them(cli, api, stack) -> None:
    assert cli("login")[0] == 0
    tokens = TokenCache().get(api, stack.user_pool_id, "demo")
    assert tokens is not None
    code, out = cli("logout", login=False)
    assert code == 0 and "demo signed out" in out
    assert TokenCache().get(api, stack.user_pool_id, "demo") is None
    code, out = cli("whoami", login=False)
    assert code == 1 and "not signed in" in out
    from docpipe_cli.auth import LoginFailed, refresh

    with pytest.raises(LoginFailed):  # revoked at Cognito, not just forgotten here
        refresh({"cognito_endpoint": stack.endpoint, "client_id": stack.client_id}, tokens["refresh_token"])
