"""What the web app's browser tests need: the local stack as a subprocess, and Debian's chromium.

Browsers cannot be downloaded here, so Playwright drives the system chromium
(`DOCPIPE_CHROMIUM`, default /usr/bin/chromium) through its executable path.
The flags keep a headless chromium from reaching out to the network on its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.emulator import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "web"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """The system chromium, or None when it is not installed."""
    configured = os.environ.get("DOCPIPE_CHROMIUM")
    candidates = [configured] if configured else ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    candidates.append(shutil.which("chromium") or "")
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@contextmanager
def chromium(sync_api: Any) -> Iterator[Any]:
    """The system chromium under Playwright (skips the test when it is not installed)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed: apt-get install chromium (Playwright cannot download browsers here)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class WebStack:
    proc: subprocess.Popen[str]
    api: str
    aws: str
    demo_password: str

    def s3(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.aws, region_name="us-east-1", aws_access_key_id="e2e", aws_secret_access_key="e2e"
        )

    def allow_web_origin_on_bucket(self) -> None:
        """The presigned POST is cross-origin (page on the API port, S3 on the emulator's): the bucket's
        CORS rules must name the page's origin. The stack provisions them for its own API port; if it
        did not (a stack that only knows port 8000), say so and add the origin so the browser can upload."""
        bucket = requests.get(f"{self.api}/config", timeout=5).json()["bucket"]
        s3 = self.s3()
        rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        if any(self.api in r.get("AllowedOrigins", []) and "POST" in r.get("AllowedMethods", []) for r in rules):
            return
        warnings.warn(
            f"the local stack's bucket CORS rules do not allow {self.api}; adding it for this run",
            stacklevel=2,
        )
        rules[0]["AllowedOrigins"] = [*rules[0]["AllowedOrigins"], self.api]
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})


@contextmanager
def web_stack(demo_password: str = "Web-e2e-password-1") -> Iterator[WebStack]:  # noqa: S107 - local test user
    """`python -m local` on free ports, as a user runs it; stopped with Ctrl-C at the end."""
    api_port, aws_port = free_port(), free_port()
    env = {
        **os.environ,
        "DOCPIPE_API_PORT": str(api_port),
        "DOCPIPE_AWS_PORT": str(aws_port),
        "DOCPIPE_DEMO_PASSWORD": demo_password,
        "DOCPIPE_DATA_DIR": tempfile.mkdtemp(prefix="docpipe-web-data-"),  # never the developer's data folder
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "stack.log"
    with log_path.open("w") as log:  # a file, not a pipe: a long run's output must never block the stack
        proc = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    api = f"http://127.0.0.1:{api_port}"
    try:
        _wait_healthy(proc, api, log_path)
        yield WebStack(proc, api, f"http://127.0.0.1:{aws_port}", demo_password)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(proc: subprocess.Popen[str], api: str, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the stack exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(f"{api}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the stack did not become healthy in {timeout:.0f} s")


def sign_in(page: Any, web: WebStack, username: str = "demo", password: str | None = None) -> None:
    """Through the hosted UI: the app's Sign in button, the user pool's page, back with a code."""
    page.goto(web.api + "/")
    page.click("#sign-in")
    page.wait_for_selector("#signInFormUsername")
    page.fill("#signInFormUsername", username)
    page.fill("#signInFormPassword", password or web.demo_password)
    page.click("button[name=signInSubmitButton]")
    page.wait_for_selector("#topbar:not([hidden])")
    assert "code=" not in page.url  # the code leaves the address bar at once
