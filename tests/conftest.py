"""Shared fixtures: environment defaults, the AWS emulator, a provisioned stack.

The environment is set before anything imports `app`, so the decorators see
test resource names and no test can reach real AWS (fake credentials, and an
endpoint override whenever the emulator is used).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
