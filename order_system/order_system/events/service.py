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
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from linkora_core import db
from linkora_core.backoff import RetryPolicy, pause
from linkora_core.heartbeat import Heartbeat
from linkora_core.tasks import BackgroundTasks
from order_system.events import heartbeat_report, metrics, store
from order_system.events.chain import Chain
from order_system.events.guard import ReorgGuard
from order_system.events.health import Health, IndexerState
from order_system.events.processor import Processor
from order_system.events.reorg import Halt, ReorgDeferred
from order_system.providers import Providers
from order_system.rpc import JsonRpc, RpcUnavailable
from order_system.settings import EventSettings

log = logging.getLogger("order_system.events")

# One writer at a time: "LKORDX" in ASCII, distinct from the migrator's key.
WRITER_LOCK_KEY = 0x4C4B4F524458
RESUME_COMMAND = "python -m order_system.events resume"
# How often a waiting processor asks for the writer lock again.
LOCK_POLL_SECONDS = 2.0
# How often a halted processor looks whether an operator lifted the halt.
HALT_POLL_SECONDS = 1.0
# After the node or the database went away: try again after 0.5 s, doubling up to 5 s.
OUTAGE_RETRY = RetryPolicy(first=0.5, cap=5.0)


async def _lock(connection: asyncpg.Connection, stop: asyncio.Event) -> bool:
    warned = False
    while not stop.is_set():
        if await connection.fetchval("SELECT pg_try_advisory_lock($1)", WRITER_LOCK_KEY):
            return True
        if not warned:
            log.warning("another event processor holds the writer lock; waiting")
            warned = True
        await pause(LOCK_POLL_SECONDS, stop)
    return False


async def _watchdog(state: IndexerState, rpc: JsonRpc | Providers, limit: float) -> None:
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
        if processor.chain.guard.deferring(processor.last_step) is not None:
            continue  # waiting on purpose for the node (health says why), not stuck
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


async def _index(processor: Processor, rpc: JsonRpc | Providers, stop: asyncio.Event) -> None:
    backoff = OUTAGE_RETRY.backoff()
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
            wait = max(backoff.next_delay(), getattr(error, "retry_after", None) or 0.0)
            log.warning("node unavailable (%s); retrying in %.1f s", error, wait)
            await rpc.reconnect()
            await pause(wait, stop)
        except ReorgDeferred as deferred:
            # Logged where decided (reorg.py); a provider that lags makes way for the others.
            if deferred.lagging and isinstance(rpc, Providers):
                rpc.set_aside_current(str(deferred))
            await pause(max(processor.tuning.poll_interval, backoff.next_delay()), stop)


async def _halted(
    connection: asyncpg.Connection, state: IndexerState, message: str, stop: asyncio.Event
) -> None:
    """Stay halted, alert untouched, until the halt is lifted in the database (or stop)."""
    state.halted = message
    log.critical(
        "ALERT: halted: %s. Not indexing until an operator resumes: %s", message, RESUME_COMMAND
    )
    while not stop.is_set():
        await pause(HALT_POLL_SECONDS, stop)
        if await store.load_halt(connection) is None:
            log.warning("the halt was lifted by an operator; indexing again")
            state.halted = None
            return


@dataclass(frozen=True, slots=True)
class Indexer:
    """The indexer task: the writer lock held on one connection, indexing until stopped."""

    pool: asyncpg.Pool
    rpc: Providers
    config: EventSettings
    state: IndexerState
    stop: asyncio.Event

    async def run(self) -> None:
        backoff = OUTAGE_RETRY.backoff()
        while not self.stop.is_set():
            try:
                await self._session()
                return
            except db.DATABASE_DOWN as error:
                # The batch in flight was rolled back with its checkpoint; the writer lock went
                # with the connection. Start over from the committed checkpoint.
                delay = backoff.next_delay()
                log.warning("database unavailable (%r); reconnecting in %.1f s", error, delay)
                await self.pool.expire_connections()
                await pause(delay, self.stop)

    async def _session(self) -> None:
        """Hold the writer lock on one connection and index until stopped (halted meanwhile
        if the database says so)."""
        config, state, stop = self.config, self.state, self.stop
        assert config.trading_address is not None
        async with self.pool.acquire() as connection:
            if not await _lock(connection, stop):
                return
            state.lock_held = True
            guard = ReorgGuard(confirm_depth=config.reorg_confirm_depth)
            try:
                while not stop.is_set():
                    halt = await store.load_halt(connection)
                    if halt is not None:
                        await _halted(connection, state, halt, stop)
                        continue
                    chain = Chain(
                        self.rpc,
                        config.trading_address,
                        reader=config.block_order_reads,
                        guard=guard,
                    )
                    processor = Processor(connection, chain, config, stop)
                    state.processor = processor
                    try:
                        await _index(processor, self.rpc, stop)
                    except Halt as halted:
                        await store.save_halt(connection, str(halted))
                        continue
                    log.info("stopped after block %d", processor.processed)
            finally:
                state.lock_held = False
                state.halted = None


class EventService:
    """`start()` connects and starts the tasks and the health server; `close()` ends them."""

    def __init__(self, config: EventSettings, stop: asyncio.Event) -> None:
        self.config = config
        self.stop = stop
        self.state = IndexerState()
        self.tasks = BackgroundTasks("order-events", stop=stop)
        urls = config.provider_urls
        self.rpc = Providers(urls, timeout=config.rpc_timeout, batch_size=config.rpc_batch_size)
        self.state.providers = self.rpc
        # Health asks the node once per check and reports; it never waits out a rate limit.
        self.probe: JsonRpc | Providers = Providers(
            urls, timeout=db.HEALTH_TIMEOUT, rate_limit_retries=0
        )
        self.pool: asyncpg.Pool | None = None
        self.health: Health | None = None
        self.heartbeat: Heartbeat | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        config = self.config
        # The writer's connection, and one for health checks.
        self.pool = pool = await db.connect_pool(config.db_dsn, min_size=1, max_size=2)
        self.health = health = Health(self.state, pool, self.probe, self.tasks)
        if config.metrics_port:
            self._runner = await metrics.start(health, config.metrics_host, config.metrics_port)
        indexer = Indexer(pool, self.rpc, config, self.state, self.stop)
        self.tasks.start("indexer", indexer.run)
        self.tasks.start(
            "watchdog", lambda: _watchdog(self.state, self.rpc, config.watchdog_seconds)
        )
        self.heartbeat = Heartbeat(
            pool, "order-events", lambda: heartbeat_report.report(self.state, self.tasks)
        )
        self.heartbeat.start()

    async def drain(self, seconds: float = 30.0) -> None:
        """After `stop` is set: let the indexer finish the batch it is writing."""
        with contextlib.suppress(KeyError):
            await asyncio.wait([self.tasks.current("indexer")], timeout=seconds)

    async def close(self) -> None:
        await self.tasks.close()
        if self.heartbeat is not None:
            await self.heartbeat.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.rpc.close()
        await self.probe.close()
        if self.pool is not None:
            await self.pool.close()
