"""`python -m order_system.events`: index the Trading contract's order events into PostgreSQL.

Exit status 3 after an alert (a reorg deeper than the window, another chain or contract)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

from linkora_core import db, lifecycle, logs, settings
from order_system.events import metrics, store
from order_system.events.chain import Chain
from order_system.events.processor import Processor, Tuning
from order_system.events.reorg import Halt
from order_system.events.rpc import JsonRpc, RpcUnavailable
from order_system.settings import EventSettings

log = logging.getLogger("order_system.events")

# One writer at a time: "LKORDX" in ASCII, distinct from the migrator's key.
WRITER_LOCK_KEY = 0x4C4B4F524458
HALT_EXIT_STATUS = 3


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


async def _watchdog(processor: Processor, rpc: JsonRpc) -> None:
    """Reconnect when the node stops answering (no pass completes) or when the checkpoint
    stops moving while the head is ahead of it."""
    limit = processor.tuning.watchdog_seconds
    while True:
        await asyncio.sleep(min(limit / 4, 5.0))
        now = time.monotonic()
        silent = now - max(processor.last_step, processor.last_progress) > limit
        behind = processor.head - processor.tuning.confirmations > processor.processed
        stalled = behind and now - processor.last_progress > limit
        if silent or stalled:
            reason = "the node has not answered" if silent else "no progress while the head moves"
            log.error("ALERT: %s for %.0f s; reconnecting", reason, limit)
            processor.last_step = processor.last_progress = now
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


async def _session(
    pool: asyncpg.Pool, rpc: JsonRpc, config: EventSettings, stop: asyncio.Event
) -> None:
    """Hold the writer lock on one connection and index until stopped."""
    assert config.trading_address is not None
    async with pool.acquire() as connection:
        if not await _lock(connection, stop):
            return
        processor = Processor(
            connection,
            Chain(rpc, config.trading_address, reader=config.block_order_reads),
            tuning(config),
            stop,
        )
        runner = None
        if config.metrics_port:
            runner = await metrics.start(processor, config.api_host, config.metrics_port)
        watchdog = asyncio.create_task(_watchdog(processor, rpc))
        try:
            await _index(processor, rpc, stop)
        except Halt as halt:
            log.critical("ALERT: %s", halt)
            await store.save_alert(connection, str(halt))
            raise SystemExit(HALT_EXIT_STATUS) from None
        finally:
            watchdog.cancel()
            if runner is not None:
                await runner.cleanup()
        log.info("stopped after block %d", processor.processed)


async def main(stop: asyncio.Event) -> None:
    config = settings.load(EventSettings)
    logs.configure(config.log_level, "order-events")
    pool = await db.connect_pool(config.db_dsn, min_size=1, max_size=2)
    rpc = JsonRpc(
        config.web3_provider, timeout=config.rpc_timeout, batch_size=config.rpc_batch_size
    )
    delay = 0.5
    try:
        while not stop.is_set():
            try:
                await _session(pool, rpc, config, stop)
                return
            except db.DATABASE_DOWN as error:
                # The batch in flight was rolled back with its checkpoint; the writer lock went
                # with the connection. Start over from the committed checkpoint.
                log.warning("database unavailable (%r); reconnecting in %.1f s", error, delay)
                await pool.expire_connections()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 5.0)
    finally:
        await rpc.close()
        await pool.close()


if __name__ == "__main__":
    lifecycle.run(main)
