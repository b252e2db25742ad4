"""A clock for tests that must cross a deadline without waiting for one."""

from __future__ import annotations


class Ticks:
    """A clock that advances one second per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now
