"""The AWS emulator (moto in server mode, made faithful by `local.moto_server`) as a child process on loopback.

The child watches this process and ends when it is gone, so a stack killed
hard never leaves an emulator holding its port (`local.emulator_fidelity`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.emulator_fidelity import PARENT_ENV


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Emulator:
    """Starts the emulator (`local.moto_server` unless told otherwise) and waits until it answers."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        quiet: bool = True,
        module: str = "local.moto_server",
        log: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.log = log  # its stdout and stderr appended to this file (else: discarded when quiet, else inherited)
        self.module = module  # local.moto_server (moto made faithful where docpipe needs it), local.deploy_emulator
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The emulator process (tests freeze it to play an outage)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """None while it runs; its exit code once it has ended (negative: the signal that ended it)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> Emulator:
        if port_in_use(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use (is another docpipe stack running?)")
        out: Any = subprocess.DEVNULL if self.quiet else None
        if self.log is not None:
            out = self.log.open("ab")  # the child keeps its own copy of the descriptor
        # MOTO_PORT: where the emulator's Step Functions interpreter sends its own service calls
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "MOTO_PORT": str(self.port), PARENT_ENV: str(os.getpid()), "PYTHONPATH": path}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "-H", self.host, "-p", str(self.port)],
            stdout=out,
            stderr=out,
            env=env,
            # its own session: a Ctrl-C or a SIGTERM sent to the whole process group (a terminal, `timeout`,
            # a service manager) must not end it before its parent has stopped the pump and saved; the parent
            # stops it last (`stop`), and the watchdog ends it if the parent dies first
            start_new_session=True,
        )
        if self.log is not None:
            out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the AWS emulator exited with code {self._proc.returncode}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the AWS emulator did not answer on {self.endpoint} within {timeout:.0f}s")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
