"""The desired state as the api-server's WebSocket side follows it: the runtime
`ws_update_interval` (control_settings, else the environment's) applied to the live feed, and
the markets collected, kept for the `status` and `list` commands. Both are read again on every
NOTIFY on `control_store.CHANNEL` and every `every` seconds besides, so a lost LISTEN
connection (opened again on the next round) delays a change by at most that.

A market that leaves the collected set between two reads has its WebSocket subscribers told
and ended here too (control_events.end_market), whatever took it out: the `market_removed`
event on Redis is fast but pub/sub keeps no message for a moment without a subscriber, and an
exchange switched off sends no event per market."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import KW_ONLY, dataclass, field

import asyncpg

from api_server import control_events, market_catalog
from api_server.live_feed import LiveFeed
from api_server.market_catalog import CollectedMarket
from linkora_core import control_store, db
from linkora_core.wakeups import sleep_unless

log = logging.getLogger(__name__)

_DATABASE_TROUBLE = (*db.DATABASE_DOWN, asyncpg.PostgresError, TimeoutError)


@dataclass(eq=False)
class ControlWatch:
    dsn: str
    pool: asyncpg.Pool
    feed: LiveFeed
    _: KW_ONLY
    # The environment's interval, which a runtime setting overrides.
    update_interval: float = 1.0
    every: float = 5.0
    markets: list[CollectedMarket] = field(default_factory=list, init=False)
    refreshed: int = field(default=0, init=False)

    async def refresh(self) -> None:
        async with self.pool.acquire() as connection:
            runtime = await control_store.runtime_settings(connection)
            markets = await market_catalog.collected(connection)
        gone = {m.market for m in self.markets} - {m.market for m in markets}
        self.markets = markets
        # Ending a market already ended by its event finds no subscriber: a no-op.
        for market in sorted(gone):
            closed = control_events.end_market(self.feed.hub, market)
            log.info("%s no longer collected: %d WebSocket clients closed", market, closed)
        interval = runtime.get("ws_update_interval", self.update_interval)
        if interval != self.feed.update_interval:
            log.info("ws_update_interval now %s s", interval)
            self.feed.set_update_interval(float(interval))
        self.refreshed += 1

    async def run(self, stop: asyncio.Event) -> None:
        changed = asyncio.Event()
        listening: asyncpg.Connection | None = None
        try:
            while not stop.is_set():
                if listening is None or listening.is_closed():
                    listening = await self._listen(changed)
                changed.clear()  # before reading, so a change made meanwhile is read again
                try:
                    await self.refresh()
                except (*_DATABASE_TROUBLE, ValueError) as problem:
                    log.warning("desired state not read: %r", problem)
                await sleep_unless(self.every, changed, stop)
        finally:
            # At once, whatever ends the loop (a cancellation too): a LISTEN connection holds
            # nothing worth a graceful close.
            if listening is not None:
                listening.terminate()

    async def _listen(self, changed: asyncio.Event) -> asyncpg.Connection | None:
        """A connection of its own (LISTEN holds it), or None while the database is away."""
        try:
            connection = await asyncpg.connect(self.dsn, timeout=5)
        except _DATABASE_TROUBLE as problem:
            log.warning("not listening for control changes: %r", problem)
            return None
        try:
            await connection.add_listener(control_store.CHANNEL, lambda *_: changed.set())
        except _DATABASE_TROUBLE as problem:
            log.warning("not listening for control changes: %r", problem)
            connection.terminate()
            return None
        except BaseException:  # cancelled while subscribing: the connection is not leaked
            connection.terminate()
            raise
        return connection
