"""Waiting in tests for state that changes without an event to wait on (a task restarted, a
row written by another process, a server back up): `eventually(check)` polls until `check()`
(plain or async) is truthy and returns that value."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]], within: float = ..., *, every: float = ..., what: str = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T], within: float = ..., *, every: float = ..., what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    within: float = 20.0,
    *,
    every: float = 0.1,
    what: str = "the condition",
) -> Any:
    """Poll `check()` every `every` seconds until it is truthy; AssertionError after
    `within` seconds (a check that hangs counts against the same time)."""
    timer = asyncio.timeout(within)
    try:
        async with timer:
            while True:
                result = check()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                await asyncio.sleep(every)
    except TimeoutError:
        if not timer.expired():
            raise
        raise AssertionError(f"{what} not reached within {within} s") from None
