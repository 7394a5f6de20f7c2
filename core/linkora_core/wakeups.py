"""Waiting for time to pass or for something to happen, whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib


async def sleep_unless(seconds: float | None, *events: asyncio.Event) -> None:
    """Sleep `seconds` (None: until woken), ending early once any of `events` is set."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
