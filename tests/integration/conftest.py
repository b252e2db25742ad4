"""The integration suites' fixtures (api, tokens, pump) live in tests/conftest.py, shared with the reliability suite."""

from tests.conftest import wait_for

__all__ = ["wait_for"]
