"""Waiting in tests for state that no event announces (process tables, counters)."""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio


async def eventually(
    predicate: Callable[[], object], within: float = 10.0, interval: float = 0.05
) -> None:
    """Poll ``predicate`` until true; fail with TimeoutError after ``within`` seconds."""
    with anyio.fail_after(within):
        for _ in range(math.ceil(within / interval) + 1):
            if predicate():
                return
            await anyio.sleep(interval)
    raise TimeoutError(f"condition not met within {within} s")
