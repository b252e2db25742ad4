"""The whole local stack as a user runs it: `python -m local`, boto3 uploads, the authenticated API."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import requests

from docpipe_cli.main import main as cli
from local.emulator import free_port, port_in_use
from tests.support import samples

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


class RunningStack:
    def __init__(self, proc: subprocess.Popen[str], api: str, aws: str, env: dict[str, str]) -> None:
        self.proc, self.api, self.aws, self.env = proc, api, aws, env

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws,
            region_name="us-east-1",
            aws_access_key_id="e2e",
            aws_secret_access_key="e2e",
        )

    def login(self, username: str, password: str) -> str:
        config = requests.get(f"{self.api}/config", timeout=5).json()
        result = self.client("cognito-idp").initiate_auth(
            ClientId=config["client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        token: str = result["AuthenticationResult"]["IdToken"]
        return token


def start(
    api_port: int, aws_port: int, *args: str, data_dir: Path | None = None, session: bool = False, **extra_env: str
) -> subprocess.Popen[str]:
    """`python -m local` with its own data folder (a new empty one unless `data_dir` names one);
    `session`: in a process group of its own, as a terminal starts it."""
    env = {
        **os.environ,
        "DOCPIPE_API_PORT": str(api_port),
        "DOCPIPE_AWS_PORT": str(aws_port),
        "DOCPIPE_DEMO_PASSWORD": "E2e-demo-password-1",
        "DOCPIPE_DATA_DIR": str(data_dir or tempfile.mkdtemp(prefix="docpipe-e2e-data-")),
        **extra_env,
    }
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by output(); a file never blocks like a pipe
    proc = subprocess.Popen(
        [sys.executable, "-m", "local", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=session,
    )
    LOGS[proc.pid] = log
    return proc


LOGS: dict[int, Any] = {}


def output(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    """Wait for the stack to exit and return what it printed."""
    proc.wait(timeout=timeout)
    log = LOGS.pop(proc.pid)
    log.seek(0)
    text: str = log.read()
    log.close()
    return text


def wait_healthy(proc: subprocess.Popen[str], api: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the stack exited early:\n{output(proc)}")
        try:
            if requests.get(f"{api}/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        raise AssertionError("the stack did not become healthy in 90 s")


@pytest.fixture(scope="module")
def running() -> Iterator[RunningStack]:
    api_port, aws_port = free_port(), free_port()
    proc = start(api_port, aws_port)
    api = f"http://127.0.0.1:{api_port}"
    wait_healthy(proc, api)
    yield RunningStack(proc, api, f"http://127.0.0.1:{aws_port}", {})
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def wait_processed(api: str, token: str, doc_ids: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        items = requests.get(f"{api}/documents?limit=100", headers={"Authorization": token}, timeout=5).json()["items"]
        seen = {d["id"]: d for d in items if d["status"] in ("PROCESSED", "FAILED")}
        if doc_ids <= set(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"not processed in time: {doc_ids - set(seen)}")


def test_a_demo_user_drops_a_pdf_and_a_jpeg_and_reads_them_back_through_the_api(running: RunningStack) -> None:
    token = running.login("demo", "E2e-demo-password-1")
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    bucket = requests.get(f"{running.api}/config", timeout=5).json()["bucket"]
    s3 = running.client("s3")
    s3.put_object(Bucket=bucket, Key=f"uploads/{sub}/report.pdf", Body=samples.pdf(pages=3))
    s3.put_object(Bucket=bucket, Key=f"uploads/{sub}/holiday photo.jpg", Body=samples.jpeg(width=320, height=240))
    from chalicelib.ingest import dropped_document_id

    pdf_id = dropped_document_id(bucket, f"uploads/{sub}/report.pdf")
    jpg_id = dropped_document_id(bucket, f"uploads/{sub}/holiday photo.jpg")
    wait_processed(running.api, token, {pdf_id, jpg_id})
    headers = {"Authorization": token}
    pdf = requests.get(f"{running.api}/documents/{pdf_id}", headers=headers, timeout=5).json()
    jpg = requests.get(f"{running.api}/documents/{jpg_id}", headers=headers, timeout=5).json()
    assert pdf["status"] == "PROCESSED" and pdf["metadata"]["page_count"] == 3
    assert (pdf["metadata"]["title"], pdf["metadata"]["author"]) == ("Annual report", "Ada Lovelace")
    assert (jpg["metadata"]["width"], jpg["metadata"]["height"]) == (320, 240)
    assert jpg["filename"] == "holiday photo.jpg" and len(jpg["metadata"]["sha256"]) == 64


def test_a_file_dropped_without_an_owner_is_for_admins_only(running: RunningStack) -> None:
    bucket = requests.get(f"{running.api}/config", timeout=5).json()["bucket"]
    running.client("s3").put_object(Bucket=bucket, Key="uploads/provider/feed.pdf", Body=samples.pdf())
    from chalicelib.ingest import dropped_document_id

    doc_id = dropped_document_id(bucket, "uploads/provider/feed.pdf")
    admin = {"Authorization": running.login("admin", "Docpipe-admin-2026")}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = requests.get(f"{running.api}/documents/{doc_id}", headers=admin, timeout=5)
        if resp.status_code == 200 and resp.json()["status"] == "PROCESSED":
            break
        time.sleep(0.3)
    assert resp.json()["status"] == "PROCESSED"
    demo = {"Authorization": running.login("demo", "E2e-demo-password-1")}
    assert requests.get(f"{running.api}/documents/{doc_id}", headers=demo, timeout=5).status_code == 404


def test_a_second_stack_on_the_same_ports_says_so_instead_of_crashing(running: RunningStack) -> None:
    api_port = int(running.api.rsplit(":", 1)[1])
    aws_port = int(running.aws.rsplit(":", 1)[1])
    second = start(api_port, aws_port)
    out = output(second)
    assert second.returncode == 1
    assert "already in use" in out and "Traceback" not in out


def test_ctrl_c_stops_everything_and_frees_the_ports() -> None:
    api_port, aws_port = free_port(), free_port()
    proc = start(api_port, aws_port)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not port_in_use("127.0.0.1", api_port):
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out = output(proc)
    assert proc.returncode == 0, out
    assert "stopped." in out
    assert not port_in_use("127.0.0.1", api_port) and not port_in_use("127.0.0.1", aws_port)


def test_a_sigterm_to_the_whole_process_group_stops_the_pump_before_the_emulator_and_saves(tmp_path: Path) -> None:
    """A terminal's Ctrl-C, `timeout` or a service manager signal the whole process group, the emulator too:
    the pump must stop and the data be saved before the emulator goes, with nothing refused on the way."""
    api_port, aws_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    proc = start(api_port, aws_port, data_dir=tmp_path / "data", session=True)
    wait_healthy(proc, api)
    stack = RunningStack(proc, api, f"http://127.0.0.1:{aws_port}", {})
    bucket = requests.get(f"{api}/config", timeout=5).json()["bucket"]
    stack.client("s3").put_object(Bucket=bucket, Key="uploads/kept.txt", Body=b"kept across the stop\n")
    time.sleep(2)  # the pump's pollers are busy long-polling when the signal comes
    os.killpg(proc.pid, signal.SIGTERM)
    out = output(proc, timeout=90)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "refused" not in out.lower() and "pool is full" not in out, out
    assert "saved " in out and "stopped." in out, out
    assert not port_in_use("127.0.0.1", api_port) and not port_in_use("127.0.0.1", aws_port)


def test_uploads_can_arrive_through_eventbridge_instead_of_a_bucket_notification() -> None:
    api_port, aws_port = free_port(), free_port()
    proc = start(api_port, aws_port, DOCPIPE_UPLOAD_EVENTS="eventbridge")
    api = f"http://127.0.0.1:{api_port}"
    try:
        wait_healthy(proc, api)
        stack = RunningStack(proc, api, f"http://127.0.0.1:{aws_port}", {})
        token = stack.login("demo", "E2e-demo-password-1")
        sub = jwt.decode(token, options={"verify_signature": False})["sub"]
        bucket = requests.get(f"{api}/config", timeout=5).json()["bucket"]
        key = f"uploads/{sub}/via bus+100%.pdf"
        stack.client("s3").put_object(Bucket=bucket, Key=key, Body=samples.pdf(pages=2))
        from chalicelib.ingest import dropped_document_id

        doc_id = dropped_document_id(bucket, key)
        wait_processed(api, token, {doc_id})
        doc = requests.get(f"{api}/documents/{doc_id}", headers={"Authorization": token}, timeout=5).json()
        assert doc["status"] == "PROCESSED" and doc["key"] == key and doc["metadata"]["page_count"] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    return output(proc, timeout=60)


def test_a_restart_keeps_yesterdays_documents_and_the_demo_user(tmp_path: Path) -> None:
    api_port, aws_port = free_port(), free_port()
    api, aws = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}"
    data = tmp_path / "data"
    pdf = samples.pdf(pages=2)

    first = start(api_port, aws_port, data_dir=data)
    wait_healthy(first, api)
    stack = RunningStack(first, api, aws, {})
    token = stack.login("demo", "E2e-demo-password-1")
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    bucket = requests.get(f"{api}/config", timeout=5).json()["bucket"]
    stack.client("s3").put_object(Bucket=bucket, Key=f"uploads/{sub}/yesterday.pdf", Body=pdf)
    from chalicelib.ingest import dropped_document_id

    doc_id = dropped_document_id(bucket, f"uploads/{sub}/yesterday.pdf")
    wait_processed(api, token, {doc_id})
    before = requests.get(f"{api}/documents/{doc_id}", headers={"Authorization": token}, timeout=5).json()
    out = stop(first)
    assert "saved 2 objects" in out, out  # the file and its rendition

    second = start(api_port, aws_port, data_dir=data)
    try:
        wait_healthy(second, api)
        headers = {"Authorization": token}  # the same user pool and key: yesterday's token still verifies
        doc = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=5).json()
        signed = ("download", "preview", "text")  # links signed at each answer: their signatures differ
        carried = {k: doc.pop(k) for k in signed if k in doc}
        assert doc == {k: v for k, v in before.items() if k not in signed} and doc["metadata"]["page_count"] == 2
        assert carried.keys() == {k for k in signed if k in before} and {"download", "preview"} <= carried.keys()
        assert requests.get(carried["download"]["url"], timeout=5).content == pdf
        assert requests.get(carried["preview"]["url"], timeout=5).status_code == 200  # the saved rendition
        link = requests.get(f"{api}/documents/{doc_id}/download", headers=headers, timeout=5).json()
        assert requests.get(link["url"], timeout=5).content == pdf
        again_token = RunningStack(second, api, aws, {}).login("demo", "E2e-demo-password-1")
        assert jwt.decode(again_token, options={"verify_signature": False})["sub"] == sub
        time.sleep(2)  # nothing is processed again on the way back
        again = requests.get(f"{api}/documents/{doc_id}", headers=headers, timeout=5).json()
        assert again["timeline"] == doc["timeline"] and again["updated_at"] == doc["updated_at"]
    finally:
        out = stop(second)
    assert "restored 2 objects" in out or "saved 2 objects" in out

    fresh = start(api_port, aws_port, "--fresh", data_dir=data)
    try:
        wait_healthy(fresh, api)
        token = RunningStack(fresh, api, aws, {}).login("demo", "E2e-demo-password-1")
        listed = requests.get(f"{api}/documents", headers={"Authorization": token}, timeout=5).json()
        assert listed["items"] == []
    finally:
        stop(fresh)


def test_a_second_stack_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    api_port, aws_port = free_port(), free_port()
    first = start(api_port, aws_port, data_dir=tmp_path)
    try:
        wait_healthy(first, f"http://127.0.0.1:{api_port}")
        second = start(free_port(), free_port(), data_dir=tmp_path)
        out = output(second)
        assert second.returncode == 1 and "in use by another docpipe stack" in out and "Traceback" not in out
    finally:
        stop(first)


def test_the_cli_keeps_working_across_a_restart_with_its_cached_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign in and upload with the CLI, restart `python -m local` on the same data, list without a password."""
    api_port, aws_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    data = tmp_path / "data"
    report = tmp_path / "minutes.pdf"
    report.write_bytes(samples.pdf(pages=1))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCPIPE_API", api)
    monkeypatch.delenv("DOCPIPE_USER", raising=False)
    monkeypatch.delenv("DOCPIPE_PASSWORD", raising=False)

    def run(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        return cli(list(args), out=out), out.getvalue()

    first = start(api_port, aws_port, data_dir=data)
    try:
        wait_healthy(first, api)
        code, out = run("--user", "demo", "--password", "E2e-demo-password-1", "upload", str(report), "--wait")
        assert code == 0, out
        doc_id = out.split()[0]
        code, before = run("whoami")
        assert code == 0 and "demo" in before, before
    finally:
        stop(first)

    second = start(api_port, aws_port, data_dir=data)
    try:
        wait_healthy(second, api)
        code, out = run("ls")  # no --user, no password: the cached tokens of whoever signed in last
        assert code == 0 and doc_id in out and "minutes.pdf" in out and " processed" in out, out
        code, after = run("whoami")
        assert code == 0 and after.splitlines()[:3] == before.splitlines()[:3]  # same user, sub and groups
    finally:
        stop(second)
