"""The relay's process: the relay and the backlog gauge as background tasks that come back
when they end (linkora_core.tasks), the status server and the heartbeat, all up from the
start whatever the broker and the database are doing."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import asyncpg
from aiohttp import web

from linkora_core import db, outbox, status_server
from linkora_core.backoff import pause
from linkora_core.heartbeat import Heartbeat
from linkora_core.tasks import BackgroundTasks
from outbox_relay import status
from outbox_relay.relay import Relay, RelayState
from outbox_relay.settings import RelaySettings

log = logging.getLogger("outbox_relay")

SERVICE: Final = "outbox-relay"
BACKLOG_SECONDS: Final = 2.0


async def _measure_backlog(pool: asyncpg.Pool, state: RelayState) -> None:
    while True:
        try:
            state.backlog = await outbox.backlog(pool)
        except (*db.DATABASE_DOWN, asyncpg.PostgresError) as error:
            log.debug("backlog not measured: %r", error)
        await pause(BACKLOG_SECONDS)


class RelayService:
    """`start()` connects and starts everything; `close()` ends it."""

    def __init__(self, config: RelaySettings, stop: asyncio.Event) -> None:
        self.config = config
        self.stop = stop
        self.state = RelayState()
        self.tasks = BackgroundTasks(SERVICE, stop=stop)
        self.metrics = status.RelayMetrics(self.state)
        self.pool: asyncpg.Pool | None = None
        self.heartbeat: Heartbeat | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        config = self.config
        # Health answers from the start, also while the database is not there yet.
        if config.metrics_port:
            service = status.service_status(self.state, self.tasks, self.metrics)
            self._runner = await status_server.start(
                service, config.metrics_host, config.metrics_port
            )
        self.state.database_error = "connecting"
        # The relay's own connection (the lock, LISTEN, reads and marks), the heartbeat's and
        # the backlog's; a connection handed back is reset, which releases the lock.
        self.pool = pool = await db.connect_pool(
            config.db_dsn, min_size=1, max_size=3, retry_for=float("inf")
        )
        relay = Relay(pool, config, self.state, self.stop, observe=self.metrics.observe)
        self.tasks.start("relay", relay.run)
        self.tasks.start("backlog", lambda: _measure_backlog(pool, self.state))
        self.heartbeat = Heartbeat(pool, SERVICE, lambda: status.report(self.state, self.tasks))
        self.heartbeat.start()

    async def drain(self, seconds: float = 10.0) -> None:
        """After `stop`: let the relay finish the batch it is publishing and mark it."""
        try:
            task = self.tasks.current("relay")
        except KeyError:
            return
        await asyncio.wait([task], timeout=seconds)

    async def close(self) -> None:
        await self.tasks.close()
        if self.heartbeat is not None:
            await self.heartbeat.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.pool is not None:
            await self.pool.close()
