"""The event processor's process: the indexer and its watchdog as background tasks that come
back when they end (linkora_core.tasks), and the health server, up from the start whatever
the indexer is doing.

A halt (a reorg deeper than the window, another chain or contract) is written to the database
with its alert. A processor that starts, or is running, while the database says halted does
not index and does not clear the alert: it stays up, `/ready` 503 with the halt's message,
until an operator lifts it (`python -m order_system.events resume`), and then carries on
without a restart. So no restart policy can bring it back into the same halt in a loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
from aiohttp import web

from linkora_core import db
from linkora_core.tasks import BackgroundTasks
from order_system.events import metrics, store
from order_system.events.chain import Chain
from order_system.events.health import Health, IndexerState
from order_system.events.processor import Processor, Tuning
from order_system.events.reorg import Halt
from order_system.events.rpc import JsonRpc, RpcUnavailable
from order_system.settings import EventSettings

log = logging.getLogger("order_system.events")

# One writer at a time: "LKORDX" in ASCII, distinct from the migrator's key.
WRITER_LOCK_KEY = 0x4C4B4F524458
RESUME_COMMAND = "python -m order_system.events resume"
# How often a halted processor looks whether an operator lifted the halt.
HALT_POLL_SECONDS = 1.0


def tuning(config: EventSettings) -> Tuning:
    return Tuning(
        start_block=config.start_block or 0,
        confirmations=config.confirmations,
        reorg_window=config.reorg_window,
        poll_interval=config.poll_interval,
        initial_range=config.initial_range,
        max_range=config.max_range,
        fetch_concurrency=config.fetch_concurrency,
        watchdog_seconds=config.watchdog_seconds,
    )


async def _lock(connection: asyncpg.Connection, stop: asyncio.Event) -> bool:
    warned = False
    while not stop.is_set():
        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", WRITER_LOCK_KEY):
            return True
        if not warned:
            log.warning("another event processor holds the writer lock; waiting")
            warned = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
    return False


async def _watchdog(state: IndexerState, rpc: JsonRpc, limit: float) -> None:
    """Reconnect when the node stops answering (no pass completes) or when the checkpoint
    stops moving while the head is ahead of it."""
    # Counted from the last reconnect too, so one episode reconnects once per `limit`; the
    # processor's own times stay true for health ("stalled") and the metrics.
    reconnected = time.monotonic()
    while True:
        await asyncio.sleep(min(limit / 4, 5.0))
        processor = state.processor
        if processor is None or state.halted is not None:
            continue
        now = time.monotonic()
        silent = now - max(processor.last_step, processor.last_progress, reconnected) > limit
        behind = processor.head - processor.tuning.confirmations > processor.processed
        stalled = behind and now - max(processor.last_progress, reconnected) > limit
        if silent or stalled:
            reason = "the node has not answered" if silent else "no progress while the head moves"
            log.error("ALERT: %s for %.0f s; reconnecting", reason, limit)
            reconnected = now
            processor.reconnects += 1
            await rpc.reconnect()


async def _index(processor: Processor, rpc: JsonRpc, stop: asyncio.Event) -> None:
    delay = 0.5
    prepared = False
    while not stop.is_set():
        try:
            if not prepared:
                await processor.prepare()
                prepared = True
            await processor.run()
            return
        except RpcUnavailable as error:
            # A provider that kept rate limiting: wait at least as long as it asked.
            wait = max(delay, getattr(error, "retry_after", None) or 0.0)
            log.warning("node unavailable (%s); retrying in %.1f s", error, wait)
            await rpc.reconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            delay = min(delay * 2, 5.0)


async def _halted(
    connection: asyncpg.Connection, state: IndexerState, message: str, stop: asyncio.Event
) -> None:
    """Stay halted, alert untouched, until the halt is lifted in the database (or stop)."""
    state.halted = message
    log.critical(
        "ALERT: halted: %s. Not indexing until an operator resumes: %s", message, RESUME_COMMAND
    )
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HALT_POLL_SECONDS)
        if await store.load_halt(connection) is None:
            log.warning("the halt was lifted by an operator; indexing again")
            state.halted = None
            return


async def _session(
    pool: asyncpg.Pool,
    rpc: JsonRpc,
    config: EventSettings,
    state: IndexerState,
    stop: asyncio.Event,
) -> None:
    """Hold the writer lock on one connection and index until stopped (halted meanwhile if
    the database says so)."""
    assert config.trading_address is not None
    async with pool.acquire() as connection:
        if not await _lock(connection, stop):
            return
        state.lock_held = True
        try:
            while not stop.is_set():
                halt = await store.load_halt(connection)
                if halt is not None:
                    await _halted(connection, state, halt, stop)
                    continue
                processor = Processor(
                    connection,
                    Chain(rpc, config.trading_address, reader=config.block_order_reads),
                    tuning(config),
                    stop,
                )
                state.processor = processor
                try:
                    await _index(processor, rpc, stop)
                except Halt as halted:
                    await store.save_halt(connection, str(halted))
                    continue
                log.info("stopped after block %d", processor.processed)
        finally:
            state.lock_held = False
            state.halted = None


async def _index_until_stopped(
    pool: asyncpg.Pool,
    rpc: JsonRpc,
    config: EventSettings,
    state: IndexerState,
    stop: asyncio.Event,
) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            await _session(pool, rpc, config, state, stop)
            return
        except db.DATABASE_DOWN as error:
            # The batch in flight was rolled back with its checkpoint; the writer lock went
            # with the connection. Start over from the committed checkpoint.
            log.warning("database unavailable (%r); reconnecting in %.1f s", error, delay)
            await pool.expire_connections()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)


class EventService:
    """`start()` connects and starts the tasks and the health server; `close()` ends them."""

    def __init__(self, config: EventSettings, stop: asyncio.Event) -> None:
        self.config = config
        self.stop = stop
        self.state = IndexerState()
        self.tasks = BackgroundTasks("order-events", stop=stop)
        self.rpc = JsonRpc(
            config.web3_provider, timeout=config.rpc_timeout, batch_size=config.rpc_batch_size
        )
        # Health asks the node once per check and reports; it never waits out a rate limit.
        self.probe = JsonRpc(config.web3_provider, timeout=db.HEALTH_TIMEOUT, rate_limit_retries=0)
        self.pool: asyncpg.Pool | None = None
        self.health: Health | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        config = self.config
        # The writer's connection, and one for health checks.
        self.pool = pool = await db.connect_pool(config.db_dsn, min_size=1, max_size=2)
        self.health = health = Health(self.state, pool, self.probe, self.tasks)
        if config.metrics_port:
            self._runner = await metrics.start(health, config.api_host, config.metrics_port)
        self.tasks.start(
            "indexer", lambda: _index_until_stopped(pool, self.rpc, config, self.state, self.stop)
        )
        self.tasks.start(
            "watchdog", lambda: _watchdog(self.state, self.rpc, config.watchdog_seconds)
        )

    async def drain(self, seconds: float = 30.0) -> None:
        """After `stop` is set: let the indexer finish the batch it is writing."""
        with contextlib.suppress(KeyError):
            await asyncio.wait([self.tasks.current("indexer")], timeout=seconds)

    async def close(self) -> None:
        await self.tasks.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.rpc.close()
        await self.probe.close()
        if self.pool is not None:
            await self.pool.close()
