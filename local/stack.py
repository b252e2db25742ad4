"""The whole local stack in one object: emulator + provisioning + pump + gateway (+ its data folder).

With a data folder, the stack restores the last snapshot before anything runs,
saves again whenever it has been quiet for a few seconds after activity, and
saves everything (queued messages included) when it stops (see `local.data`).
Without one it starts empty and forgets everything, as tests want.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.data import Autosave, Counts, DataFolder, Restored, Snapshotter
from local.emulator import Emulator, port_in_use
from local.provision import Stack, StackNames, clients, provision

ROOT = Path(__file__).resolve().parent.parent
POLLER_CONNECTIONS = 64  # the pump's pollers share one SQS client: one connection each, none discarded


class AlreadyRunning(RuntimeError):
    pass


@dataclass
class LocalStack:
    host: str = "127.0.0.1"
    api_port: int = 8000
    aws_port: int = 4566
    names: StackNames = field(default_factory=StackNames)
    quiet_emulator: bool = True
    emulator_log: Path | None = None
    data_dir: Path | None = None
    fresh: bool = False
    stack: Stack | None = None
    restored: Restored | None = None
    _folder: DataFolder | None = None
    _snapshots: Snapshotter | None = None
    _autosave: Autosave | None = None
    _ready: bool = False
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
        if self.data_dir is not None:
            self._folder = DataFolder(self.data_dir)
            self._folder.lock()
            if self.fresh:
                self._folder.wipe()
        try:
            self._emulator = Emulator(
                self.host, self.aws_port, quiet=self.quiet_emulator, log=self.emulator_log
            ).start()
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
        self._restore()
        self._start_pump(module)
        self._start_gateway(module)
        if self._snapshots is not None:
            self._autosave = Autosave(lambda: self.save(queues=False), self._activity).start()
        self._ready = True

    def _restore(self) -> None:
        if self._folder is None:
            return
        assert self.stack is not None
        self._snapshots = Snapshotter(self._folder, clients(self.aws_url, self.names.region))
        self.restored = self._snapshots.restore(self.stack.user_subs)

    def _activity(self) -> int:
        pump = self._pump.invocations if self._pump is not None else 0
        gateway = getattr(self._server, "changes", 0) if self._server is not None else 0
        return int(pump) + int(gateway)

    def save(self, queues: bool = True) -> Counts | None:
        """Snapshot the stack into its data folder (None without one)."""
        if self._snapshots is None or self.stack is None:
            return None
        return self._snapshots.save(self.stack.user_subs, queues=queues)

    def _import_app(self) -> ModuleType:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        module = sys.modules.get("app") or importlib.import_module("app")
        return module

    def _start_pump(self, module: ModuleType) -> None:
        from local.pump import Pump

        assert self.stack is not None
        sqs = clients(self.aws_url, self.names.region, pool=POLLER_CONNECTIONS)["sqs"]
        self._pump = Pump(module.app, module, sqs, self.stack).start()

    def _start_gateway(self, module: ModuleType) -> None:
        from local.auth import CognitoVerifier
        from local.gateway import make_server, site_for

        assert self.stack is not None
        verifier = CognitoVerifier(self.stack.jwks_url, self.stack.cognito_issuer, (self.stack.client_id,))
        idp = clients(self.aws_url, self.names.region)["cognito-idp"]
        site = site_for(self.stack, idp, self.aws_url, self.api_url)
        self._server = make_server(module.app, verifier, self.host, self.api_port, site)
        self._server_thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._server_thread.start()

    def stop(self) -> Counts | None:
        """Stop everything; with a data folder, save first (only a stack that came up completely: a
        failed start must not replace a good snapshot). Returns what was saved."""
        saved = None
        if self._autosave is not None:
            self._autosave.stop()
            self._autosave = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
        try:
            if self._ready:
                saved = self.save(queues=True)
        finally:
            self._ready = False
            if self._emulator is not None:
                self._emulator.stop()
                self._emulator = None
            if self._folder is not None:
                self._folder.unlock()
                self._folder = None
        return saved

    def banner(self) -> str:
        assert self.stack is not None
        n = self.names
        from chalicelib.config import Settings

        mode = Settings.from_env().upload_events
        uploads = (
            "EventBridge (the bucket's Object Created events, as on AWS with DOCPIPE_UPLOAD_EVENTS=eventbridge)"
            if mode == "eventbridge"
            else "S3 event notifications through SQS (DOCPIPE_UPLOAD_EVENTS=eventbridge switches to EventBridge)"
        )
        return "\n".join(
            [
                "docpipe local stack is ready",
                f"  API and web app   {self.api_url}   (GET /health, GET /config)",
                f"  AWS emulator      {self.aws_url}",
                f"  bucket            {n.bucket}",
                f"  uploads arrive by {uploads}",
                f"  user pool         {self.stack.user_pool_id}  client {self.stack.client_id}",
                f"  demo user         {n.demo_user} / {n.demo_password}   (sub {self.stack.user_subs[n.demo_user]})",
                f"  admin user        {n.admin_user} / {n.admin_password}   (group: admins)",
                f"  data              {self._data_line()}",
                "",
                "Try it:",
                "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=" + n.region,
                f"  .venv/bin/aws --endpoint-url {self.aws_url} s3 cp report.pdf "
                f"s3://{n.bucket}/uploads/{self.stack.user_subs[n.demo_user]}/report.pdf",
                "  (under uploads/<sub>/ a file belongs to that user; anywhere else under uploads/ only admins see it)",
                f"  .venv/bin/docpipe --api {self.api_url} --user {n.demo_user} ls",
                "Press Ctrl-C to stop.",
            ]
        )

    def _data_line(self) -> str:
        if self.data_dir is None:
            return "kept in memory only: everything is gone when the stack stops"
        where = str(self.data_dir)
        if self.restored is None:
            return f"{where} (empty: a new stack; saved when quiet and when it stops; --fresh starts over)"
        r = self.restored
        moved = f"; {len(r.remapped)} users' sub changed, their data moved to the new one" if r.remapped else ""
        return f"{where} (restored {r}, saved {r.saved_at}{moved}; --fresh starts over)"
