"""Helpers for collector tests: an in-process simulator and a collector wired to the
session's PostgreSQL and Redis (fixtures in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

from data_collector import adapters
from data_collector.collector import Collector
from data_collector.exchange import ExchangeRest
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.venue_stream import VenueStream
from data_collector.weights import WeightBudget
from exchange_sim.server import SimServer
from linkora_core import db
from linkora_core.markets import BINANCE_SPOT, Market, Venue
from tests.polling import eventually

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LINKORA_SHARED_DIR") or REPO.parent / "shared")
DAY_MS = 86_400_000
MINUTE_MS = 60_000


def days_ago(days: int) -> str:
    """The UTC date `days` days before today, as the simulator's `start`."""
    day = (time.time_ns() // 1_000_000) // DAY_MS - days
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def settings_for(sim: SimServer, **overrides: Any) -> CollectorSettings:
    values: dict[str, Any] = {
        "binance_base_url": sim.rest_url,
        "binance_stream_url": sim.stream_url,
        "symbols": ",".join(sim.config.symbols),
        "start_date": sim.config.start,
        "audit_interval": 0,
        "orderbook_retention": 0,
    }
    values.update(overrides)
    return CollectorSettings(_env_file=None, **values)  # type: ignore[call-arg]


SimFactory = Callable[..., Awaitable[SimServer]]


@contextlib.asynccontextmanager
async def redis_messages(
    redis_url: str, channels: list[str], heard: Callable[[str, bytes], None]
) -> AsyncIterator[None]:
    """`heard(channel, data)` for every message published on `channels` while the block runs."""
    client = Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(*channels)

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                heard(message["channel"].decode(), message["data"])

    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks the hint
        await client.aclose()


def spot(symbol: str) -> Market:
    """A Binance spot market, what a bare symbol names."""
    return Market(BINANCE_SPOT, symbol)


class Harness:
    """A collector plus the pieces it is built from, closed by the fixture."""

    def __init__(self, settings: CollectorSettings, pool: asyncpg.Pool, redis: Redis) -> None:
        self.settings = settings
        self.log: list[tuple[float, float, int, int]] = []  # sent, answered, status, used weight
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._started)
        trace.on_request_end.append(self._ended)
        self.session = aiohttp.ClientSession(trace_configs=[trace])
        self.rest = BinanceRest(
            self.session, settings.binance_base_url,
            WeightBudget(6000, settings.weight_budget_fraction),
            timeout=settings.rest_timeout, max_attempts=settings.rest_max_attempts,
        )  # fmt: skip
        self.publisher = Publisher(redis, settings.publish_queue_size)
        # Binance spot's source is the one the tests look into; other venues as in production.
        others = {m.venue for m in settings.collected_markets} - {self.rest.venue}
        sources: dict[Venue, ExchangeRest] = {self.rest.venue: self.rest}
        sources.update(adapters.rest_sources(settings, self.session, others))
        self.collector = Collector(settings, pool, sources, self.session, self.publisher)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _started(self, _: Any, context: Any, params: Any) -> None:
        context.sent = time.monotonic()

    async def _ended(self, _: Any, context: Any, params: Any) -> None:
        used = int(params.response.headers.get("X-MBX-USED-WEIGHT-1M", "0"))
        self.log.append((context.sent, time.monotonic(), params.response.status, used))

    async def backfill(self) -> None:
        await self.collector.prepare()
        await self.collector.backfill_all()

    def start(self) -> None:
        self.task = asyncio.create_task(self.collector.run(self.stop))

    async def wait_backfilled(self, within: float = 60.0) -> None:
        async with asyncio.timeout(within):
            await self.collector.backfilled.wait()

    async def streaming(self) -> VenueStream:
        """Start the collector and wait until its stream has connected once."""
        self.start()
        await self.wait_backfilled()
        stream = self.collector.stream
        assert isinstance(stream, VenueStream)
        await eventually(lambda: stream.connections >= 1)
        return stream

    async def close(self) -> None:
        self.stop.set()
        try:
            if self.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(self.task, 15)
        finally:
            await self.session.close()


HarnessFactory = Callable[..., Harness]


def stored_rows(rows: list[asyncpg.Record]) -> list[tuple[Any, ...]]:
    """DB rows in the 12-field REST order (open time in ms), for comparison with the sim."""
    out = []
    for r in rows:
        open_ms = int(r["open_time"].timestamp()) * 1000
        out.append(
            (
                open_ms,
                r["open_price"],
                r["high_price"],
                r["low_price"],
                r["close_price"],
                r["volume"],
                r["quote_volume"],
                r["trades"],
                r["taker_buy_volume"],
                r["taker_buy_quote_volume"],
            )
        )
    return out


# Simulated time 30x faster, pushes every 0.2 s: real-time tests take seconds.
FAST = {"clock_speed": 30.0, "kline_push_interval": 0.2, "depth_push_interval": 0.2}


async def closed_minutes(pool: asyncpg.Pool, symbol: str) -> list[int]:
    rows = await pool.fetch(
        "SELECT open_time FROM candles WHERE symbol = $1 AND is_closed ORDER BY open_time",
        symbol,
    )
    return [int(r["open_time"].timestamp()) * 1000 for r in rows]


async def closed_past(pool: asyncpg.Pool, symbol: str, minute_ms: int) -> bool:
    """Whether `symbol` has a closed minute at or after `minute_ms`; False while the database
    is still away (a check to poll across a restart)."""
    try:
        minutes = await closed_minutes(pool, symbol)
    except (*db.DATABASE_DOWN, asyncpg.InterfaceError):
        return False
    return bool(minutes) and minutes[-1] >= minute_ms


async def lose_candles(pool: asyncpg.Pool, end_ms: int, start_ms: int | None = None) -> None:
    """Delete the stored candles opening before `end_ms` (and at or after `start_ms`)."""
    await pool.execute(
        """DELETE FROM candles WHERE open_time < to_timestamp($1::bigint / 1000)
           AND ($2::bigint IS NULL OR open_time >= to_timestamp($2::bigint / 1000))""",
        end_ms,
        start_ms,
    )


async def stored_equals_source(pool: asyncpg.Pool, sim: Any, symbol: str) -> None:
    rows = await pool.fetch(
        "SELECT * FROM candles WHERE symbol = $1 AND is_closed ORDER BY open_time", symbol
    )
    first = int(rows[0]["open_time"].timestamp()) * 1000
    last = int(rows[-1]["open_time"].timestamp()) * 1000
    source = sim.source.klines(symbol, first, last)
    assert len(rows) == len(source)
    columns = ("open_price", "high_price", "low_price", "close_price", "volume")
    for stored, row in zip(rows, source, strict=True):
        assert int(stored["open_time"].timestamp()) * 1000 == row[0]
        assert [stored[c] for c in columns] == [Decimal(v) for v in row[1:6]]
        assert stored["quote_volume"] == Decimal(row[7])
        assert stored["trades"] == row[8]
        assert stored["taker_buy_volume"] == Decimal(row[9])
        assert stored["taker_buy_quote_volume"] == Decimal(row[10])
