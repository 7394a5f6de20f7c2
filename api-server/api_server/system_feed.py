"""The WebSocket `system` stream: every `interval` seconds, while anyone follows it, one
snapshot of the platform (`system_view.snapshot`) computed once and sent to every subscriber
as `{"type":"system","data":<snapshot>}`. A new subscriber gets the newest snapshot at once
when it is fresh, else a snapshot is taken now."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from api_server.ws_hub import ALL, Client, Hub, Message, Topic
from linkora_core import db
from linkora_core.wakeups import sleep_unless

log = logging.getLogger(__name__)

STREAM = "system"
TOPIC = Topic(STREAM, ALL, "", None)
Snapshot = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(eq=False)
class SystemFeed:
    hub: Hub
    snapshot: Snapshot
    interval: float = 5.0
    ticks: int = field(default=0, init=False)
    _latest: tuple[float, Message] | None = field(default=None, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def greet(self, client: Client) -> None:
        """A client just subscribed: the newest snapshot if fresh, else one taken now."""
        latest = self._latest
        if latest is not None and time.monotonic() - latest[0] < self.interval:
            client.offer(latest[1])
        else:
            self._wake.set()

    async def tick(self) -> int:
        """Take a snapshot and send it to every subscriber; answers how many got it."""
        try:
            data = await self.snapshot()
        except (*db.DATABASE_DOWN, asyncpg.PostgresError, TimeoutError) as problem:
            log.warning("system snapshot failed: %r", problem)
            return 0
        text = orjson.dumps({"type": STREAM, "data": data}, default=_plain).decode()
        self._latest = (time.monotonic(), Message.of(text))
        self.ticks += 1
        return self.hub.deliver((TOPIC,), text)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            if self.hub.followed(TOPIC):
                await self.tick()
            await sleep_unless(self.interval, self._wake, stop)


def _plain(value: object) -> str:
    """A Decimal as a plain decimal string (never a float, never `5E-8`)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
