"""The whole local stack in one object: emulator + provisioning + pump + gateway."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.emulator import Emulator, port_in_use
from local.provision import Stack, StackNames, clients, provision

ROOT = Path(__file__).resolve().parent.parent


class AlreadyRunning(RuntimeError):
    pass


@dataclass
class LocalStack:
    host: str = "127.0.0.1"
    api_port: int = 8000
    aws_port: int = 4566
    names: StackNames = field(default_factory=StackNames)
    quiet_emulator: bool = True
    stack: Stack | None = None
    _emulator: Emulator | None = None
    _pump: Any = None
    _server: Any = None
    _server_thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    def start(self) -> LocalStack:
        for port, what in ((self.api_port, "API"), (self.aws_port, "AWS emulator")):
            if port_in_use(self.host, port):
                raise AlreadyRunning(
                    f"port {port} ({what}) is already in use on {self.host}: docpipe (or something else) "
                    f"is already running. Stop it first, or choose other ports with "
                    f"DOCPIPE_API_PORT / DOCPIPE_AWS_PORT."
                )
        self._emulator = Emulator(self.host, self.aws_port, quiet=self.quiet_emulator).start()
        try:
            self._bring_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _bring_up(self) -> None:
        base = {
            "DOCPIPE_AWS_ENDPOINT": self.aws_url,
            "DOCPIPE_BUCKET": self.names.bucket,
            "DOCPIPE_TABLE": self.names.table,
            "DOCPIPE_RECORDS_QUEUE": self.names.records_queue,
            "AWS_REGION": self.names.region,
            "DOCPIPE_WEB_ORIGIN": self.api_url,
        }
        os.environ.update(base)
        module = self._import_app()
        # the bucket's CORS rules must admit the web app on whatever port it is served from
        self.names.web_origins = (self.api_url, f"http://localhost:{self.api_port}")
        self.stack = provision(self.aws_url, module.app, self.names)
        os.environ.update(self.stack.app_environment())
        from chalicelib import wiring

        wiring.reset()
        self._start_pump(module)
        self._start_gateway(module)

    def _import_app(self) -> ModuleType:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        module = sys.modules.get("app") or importlib.import_module("app")
        return module

    def _start_pump(self, module: ModuleType) -> None:
        from local.pump import Pump

        assert self.stack is not None
        sqs = clients(self.aws_url, self.names.region)["sqs"]
        self._pump = Pump(module.app, module, sqs, self.stack).start()

    def _start_gateway(self, module: ModuleType) -> None:
        from local.auth import CognitoVerifier
        from local.gateway import make_server

        assert self.stack is not None
        verifier = CognitoVerifier(self.stack.jwks_url, self.stack.cognito_issuer, (self.stack.client_id,))
        self._server = make_server(module.app, verifier, self.host, self.api_port)
        self._server_thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._server_thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def banner(self) -> str:
        assert self.stack is not None
        n = self.names
        return "\n".join(
            [
                "docpipe local stack is ready",
                f"  API and web app   {self.api_url}   (GET /health, GET /config)",
                f"  AWS emulator      {self.aws_url}",
                f"  bucket            {n.bucket}",
                f"  user pool         {self.stack.user_pool_id}  client {self.stack.client_id}",
                f"  demo user         {n.demo_user} / {n.demo_password}   (sub {self.stack.user_subs[n.demo_user]})",
                f"  admin user        {n.admin_user} / {n.admin_password}   (group: admins)",
                "",
                "Try it:",
                "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=" + n.region,
                f"  .venv/bin/aws --endpoint-url {self.aws_url} s3 cp report.pdf "
                f"s3://{n.bucket}/uploads/{self.stack.user_subs[n.demo_user]}/report.pdf",
                "  (under uploads/<sub>/ a file belongs to that user; anywhere else under uploads/ only admins see it)",
                "Press Ctrl-C to stop.",
            ]
        )
