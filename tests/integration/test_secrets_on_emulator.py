"""The cursor key is read from Secrets Manager at run time, once, and only by the services that sign cursors."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.errors import TransientError

pytestmark = pytest.mark.emulator


def test_the_api_signs_cursors_with_the_key_from_secrets_manager(stack: Any, aws: Any) -> None:
    wiring.reset()
    assert wiring.settings().cursor_secret == ""  # nothing in the environment but the secret's ARN
    assert wiring.settings().cursor_secret_arn == stack.cursor_secret_arn
    assert wiring.cursor_settings().signing_secret == stack.cursor_secret


def test_the_key_is_read_once_per_execution_environment(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.aws import secrets

    reads = []
    real = secrets.read_secret

    def counted(*args: Any) -> str:
        reads.append(args)
        return real(*args)

    monkeypatch.setattr(secrets, "read_secret", counted)
    wiring.reset()
    for _ in range(3):
        assert wiring.cursor_settings().signing_secret == stack.cursor_secret
    assert len(reads) == 1


def test_an_unreadable_secret_is_a_platform_fault_not_a_guessable_key(stack: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCPIPE_CURSOR_SECRET_ARN", stack.cursor_secret_arn.replace("cursor-secret", "no-such-secret"))
    wiring.reset()
    try:
        with pytest.raises(TransientError) as raised:
            _ = wiring.cursor_settings().signing_secret
        assert raised.value.http_status == 503
        assert "arn:" not in raised.value.message
    finally:
        monkeypatch.undo()
        wiring.reset()
