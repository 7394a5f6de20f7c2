"""Running a long-lived service: signals become a stop event the service drains on."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

ServiceMain = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def _supervise(main: ServiceMain) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)


def run(main: ServiceMain) -> None:
    """Run `main(stop)` on uvloop when installed; SIGTERM/SIGINT set `stop`."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_supervise(main))
    else:
        uvloop.run(_supervise(main))
