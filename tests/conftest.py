"""Shared fixtures: environment defaults, the AWS emulator, a provisioned stack.

The environment is set before anything imports `app`, so the decorators see
test resource names and no test can reach real AWS (fake credentials, and an
endpoint override whenever the emulator is used).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "docpipe-test",
        "AWS_SECRET_ACCESS_KEY": "docpipe-test",  # the emulator accepts any credentials
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "DOCPIPE_BUCKET": "docpipe-uploads",
        "DOCPIPE_TABLE": "docpipe",
        "DOCPIPE_RECORDS_QUEUE": "docpipe-records",
        "DOCPIPE_CURSOR_SECRET": "docpipe-test-cursor-key",  # cursors fail closed without a key
    }
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    from local.emulator import Emulator, free_port

    emu = Emulator(port=free_port()).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def stack(emulator: Any) -> Iterator[Any]:
    """Every resource the app expects, on the emulator, with the app's env pointing at it."""
    import app as app_module
    from chalicelib import wiring
    from local.provision import StackNames, provision

    provisioned = provision(emulator.endpoint, app_module.app, StackNames())
    saved = dict(os.environ)
    os.environ.update(provisioned.app_environment())
    os.environ.pop("DOCPIPE_CURSOR_SECRET")  # on the stack, the key is read from Secrets Manager, as deployed
    wiring.reset()
    yield provisioned
    os.environ.clear()
    os.environ.update(saved)
    wiring.reset()


@pytest.fixture(scope="session")
def aws(stack: Any) -> dict[str, Any]:
    from local.provision import clients

    return clients(stack.endpoint, stack.names.region)


@pytest.fixture(scope="session")
def direct_bucket(stack: Any, aws: dict[str, Any]) -> str:
    """A bucket with no event notifications: tests that call the ingest use case directly
    use it, so the pump never processes the same object at the same time."""
    name = "docpipe-direct"
    aws["s3"].create_bucket(Bucket=name)
    return name


# -- the app's HTTP gateway and event pump, shared by every suite that needs them --
OTHER_PASSWORD = "Other-user-pass-1"


@pytest.fixture(scope="session")
def api(stack: Any, aws: dict[str, Any]) -> Iterator[str]:
    """The local gateway (JWT-verifying) serving the app, the web app and the hosted UI on a free port."""
    import app as app_module
    from local.auth import CognitoVerifier
    from local.emulator import free_port
    from local.gateway import make_server, site_for

    verifier = CognitoVerifier(stack.jwks_url, stack.cognito_issuer, (stack.client_id,))
    port = free_port()
    site = site_for(stack, aws["cognito-idp"], stack.endpoint, f"http://127.0.0.1:{port}")
    server = make_server(app_module.app, verifier, "127.0.0.1", port, site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tokens(stack: Any, aws: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Cognito tokens for demo, admin (group admins) and a second ordinary user, other."""
    from local.provision import create_user, login

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
def pump(stack: Any, aws: dict[str, Any]) -> Iterator[Any]:
    """The Lambda-like event pump driving the app's handlers from the emulator's queues."""
    import app as app_module
    from local.pump import Pump

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
