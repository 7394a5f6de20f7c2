"""The relay loop: one active relay per database (a PostgreSQL advisory lock held on the
connection it works on), woken by NOTIFY linkora_outbox or its poll, publishing the pending
rows in id order and marking published only what the broker confirmed.

Faults: the broker away (connect refused, connection lost, a nack, a confirmation late) means
reconnect with backoff and publish again from the first row not marked; the database away
means the lock is gone with the connection, so the relay starts over (waits, locks again)
and the broker connection is closed with it. Rows confirmed but not marked when the relay
dies are published again: duplicates carry the same message id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Final

import asyncpg

from linkora_core import db, outbox
from linkora_core.backoff import RetryPolicy, pause
from outbox_relay.broker import Broker, BrokerUnavailable, Observer, PublishInterrupted
from outbox_relay.settings import RelaySettings

log = logging.getLogger("outbox_relay")

# One active relay at a time: "LKOUTB" in ASCII, distinct from the other services' keys.
RELAY_LOCK_KEY: Final = 0x4C4B4F555442
# How often a standby asks for the lock again.
LOCK_POLL_SECONDS: Final = 1.0
BROKER_RETRY: Final = RetryPolicy(first=0.5, cap=10.0)
DATABASE_RETRY: Final = RetryPolicy(first=0.5, cap=5.0)


@dataclass
class RelayState:
    """What the relay tells /health, /metrics and its heartbeat."""

    active: bool = False
    broker_connected: bool = False
    broker_error: str | None = None
    database_error: str | None = None
    published: int = 0
    reconnects: int = 0
    pruned: int = 0
    backlog: int = 0
    last_published: float = field(default_factory=time.monotonic)


class Relay:
    """`run()` until `stop`: wait for the lock, then relay; start over after an outage."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        config: RelaySettings,
        state: RelayState,
        stop: asyncio.Event,
        *,
        observe: Observer | None = None,
    ) -> None:
        self.pool = pool
        self.config = config
        self.state = state
        self.stop = stop
        self.observe = observe
        self._wake = asyncio.Event()

    async def run(self) -> None:
        backoff = DATABASE_RETRY.backoff()
        while not self.stop.is_set():
            try:
                await self._session()
                return
            except db.DATABASE_DOWN as error:
                self.state.database_error = repr(error)
                delay = backoff.next_delay()
                log.warning("database unavailable (%r); reconnecting in %.1f s", error, delay)
                await self.pool.expire_connections()
                await pause(delay, self.stop)

    async def _session(self) -> None:
        async with self.pool.acquire() as connection:
            self.state.database_error = None
            if not await self._lock(connection):
                return
            self.state.active = True
            log.info("holding the relay lock: publishing the outbox")
            await connection.add_listener(outbox.NOTIFY_CHANNEL, self._notified)
            try:
                await self._with_broker(connection)
            finally:
                self.state.active = False
                with contextlib.suppress(*db.DATABASE_DOWN, asyncpg.InterfaceError):
                    await connection.remove_listener(outbox.NOTIFY_CHANNEL, self._notified)

    async def _lock(self, connection: asyncpg.Connection) -> bool:
        warned = False
        while not self.stop.is_set():
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                return True
            if not warned:
                log.warning("another relay holds the relay lock; standing by")
                warned = True
            await pause(LOCK_POLL_SECONDS, self.stop)
        return False

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _with_broker(self, connection: asyncpg.Connection) -> None:
        """Connect to the broker (again after each failure) and relay until stopped."""
        backoff, config = BROKER_RETRY.backoff(), self.config
        while not self.stop.is_set():
            broker: Broker | None = None
            try:
                broker = await Broker.connect(
                    config.broker_url, config.outbox_exchange, window=config.outbox_window,
                    confirm_timeout=config.outbox_confirm_timeout, observe=self.observe,
                )  # fmt: skip
                self.state.broker_connected, self.state.broker_error = True, None
                log.info("broker connected; exchange %s", config.outbox_exchange)
                await self._relay(connection, broker)
                backoff.reset()
            except BrokerUnavailable as error:
                self.state.broker_connected, self.state.broker_error = False, repr(error)
                self.state.reconnects += 1
                delay = backoff.next_delay()
                log.warning("broker unavailable (%r); reconnecting in %.1f s", error, delay)
                await pause(delay, self.stop)
            finally:
                self.state.broker_connected = False
                if broker is not None:
                    await broker.close()

    async def _relay(self, connection: asyncpg.Connection, broker: Broker) -> None:
        config, state = self.config, self.state
        pruned_at = 0.0
        while not self.stop.is_set():
            if time.monotonic() - pruned_at >= config.outbox_prune_seconds:
                state.pruned += await outbox.prune(connection, config.retention)
                pruned_at = time.monotonic()
            self._wake.clear()
            rows = await outbox.pending(connection, config.outbox_batch_size)
            if not rows:
                if broker.is_closed:
                    raise PublishInterrupted([], "the broker connection closed")
                await self._idle()
                continue
            try:
                confirmed = await broker.publish(rows)
            except PublishInterrupted as interrupted:
                await self._mark(connection, interrupted.confirmed)
                raise
            await self._mark(connection, confirmed)

    async def _mark(self, connection: asyncpg.Connection, ids: list[int]) -> None:
        if ids:
            await outbox.mark_published(connection, ids)
            self.state.published += len(ids)
            self.state.last_published = time.monotonic()

    async def _idle(self) -> None:
        """Until a NOTIFY, the poll interval, or stop."""
        wake = asyncio.ensure_future(self._wake.wait())
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait(
                [wake, stopping],
                timeout=self.config.outbox_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            wake.cancel()
            stopping.cancel()
