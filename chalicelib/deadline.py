"""How long a handler has: a monotonic deadline from the Lambda context.

Long work (extraction, CSV production) stops at the deadline and hands the
rest on (a continuation message, a retry) instead of being killed mid-write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def deadline_from_context(
    context: Any, reserve_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic
) -> float:
    """A monotonic deadline that leaves `reserve_seconds` (at least 10% of the time) before Lambda's timeout."""
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 900.0
    return clock() + max(1.0, remaining - max(reserve_seconds, remaining * 0.1))
