"""`python -m data_collector`: the configured markets' data, from each one's exchange, into
PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from data_collector import adapters, health, heartbeat_report, metrics
from data_collector.collector import Collector
from data_collector.exchange import ExchangeBlocked
from data_collector.publisher import Publisher
from data_collector.settings import SUPPORTED_VENUES, CollectorSettings
from linkora_core import bus, db, lifecycle, logs
from linkora_core.heartbeat import Heartbeat
from linkora_core.settings import load

log = logging.getLogger("data_collector")


async def main(settings: CollectorSettings, stop: asyncio.Event) -> None:
    pool = await db.connect_pool(
        settings.db_dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    redis = bus.connect(settings.redis_url)
    session = aiohttp.ClientSession(headers={"User-Agent": "linkora-data-collector/0.1"})
    # Every venue's source, built together so an exchange's venues share one budget: a market
    # may be added at runtime on any of them.
    sources = adapters.rest_sources(settings, session, SUPPORTED_VENUES)
    publisher = Publisher(redis, settings.publish_queue_size)
    collector = Collector(settings, pool, sources, session, publisher)
    heartbeat = Heartbeat(pool, "data-collector", lambda: heartbeat_report.report(collector))
    heartbeat.start()
    runner = None
    if settings.metrics_port > 0:
        runner = await health.start(
            collector.status,
            collector.health,
            settings.metrics_port,
            metrics.registry_for(collector),
            collector.problems,
            host=settings.metrics_host,
        )
    # They seed the desired state; the collector logs what it collects once it has read it.
    log.info("configured %s", ",".join(str(m) for m in settings.collected_markets))
    try:
        await collector.run(stop)
    except ExchangeBlocked as error:
        log.error("an exchange refuses this client, stopping: %s", error)
        raise SystemExit(1) from None
    finally:
        if runner is not None:
            await runner.cleanup()
        await heartbeat.close()
        await session.close()
        await redis.aclose()
        await pool.close()
        log.info("stopped")


def run() -> None:
    settings = load(CollectorSettings)
    logs.configure(settings.log_level.value, "data_collector")
    lifecycle.run(lambda stop: main(settings, stop))


if __name__ == "__main__":
    run()
