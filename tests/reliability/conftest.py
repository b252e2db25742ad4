"""Fixtures for the reliability suite: the app's own services on the emulator, with room for faults.

The gateway and the pump come from tests/conftest.py (one of each per test
session); `ingest` is the app's IngestService exactly as `wiring` builds it.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def ingest(stack: Any) -> Any:
    from chalicelib import wiring

    return wiring.ingest_service()


@pytest.fixture
def repository(stack: Any) -> Any:
    from chalicelib import wiring

    return wiring.repository()


@pytest.fixture(scope="session")
def demo(stack: Any, aws: dict[str, Any]) -> dict[str, str]:
    """The demo user's id token and sub (the integration suite's `tokens` also creates users; this only logs in)."""
    from local.provision import login

    tokens = login(aws["cognito-idp"], stack.client_id, "demo", stack.names.demo_password)
    return {"token": tokens["IdToken"], "sub": stack.user_subs["demo"]}


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Any:
    """Record a measured figure with the test's result (junit properties; `bench.reliability` prints them)."""

    def record(name: str, value: object) -> None:
        request.node.user_properties.append((name, value))

    return record
