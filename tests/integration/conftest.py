"""Fixtures for tests that run the app's HTTP gateway and event pump against the emulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import app as app_module
from local.auth import CognitoVerifier
from local.emulator import free_port
from local.gateway import make_server
from local.provision import create_user, login
from local.pump import Pump

OTHER_PASSWORD = "Other-user-pass-1"


@pytest.fixture(scope="session")
def api(stack: Any) -> Iterator[str]:
    """The local gateway (JWT-verifying) serving the app on a free port."""
    verifier = CognitoVerifier(stack.jwks_url, stack.cognito_issuer, (stack.client_id,))
    port = free_port()
    server = make_server(app_module.app, verifier, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tokens(stack: Any, aws: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Cognito tokens for demo, admin (group admins) and a second ordinary user, other."""
    idp = aws["cognito-idp"]
    other_sub = create_user(idp, stack.user_pool_id, "other", OTHER_PASSWORD)
    out = {
        "demo": login(idp, stack.client_id, "demo", stack.names.demo_password),
        "admin": login(idp, stack.client_id, "admin", stack.names.admin_password),
        "other": login(idp, stack.client_id, "other", OTHER_PASSWORD),
    }
    out["demo"]["sub"] = stack.user_subs["demo"]
    out["admin"]["sub"] = stack.user_subs["admin"]
    out["other"]["sub"] = other_sub
    return out


@pytest.fixture(scope="session")
def pump(stack: Any, aws: dict[str, Any]) -> Iterator[Pump]:
    running = Pump(app_module.app, app_module, aws["sqs"], stack, concurrency=2).start()
    yield running
    running.stop()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")
