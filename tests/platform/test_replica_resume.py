"""Resume and rollups across replicas: three `python -m api_server` processes over the test
PostgreSQL and Redis behind Debian's nginx (started by the test); WebSocket clients follow 1m
(and 5m) candles through nginx while closed minutes are announced as the collector does
(published on Redis, stored a moment later); the replica maintaining the rollups is killed with
SIGKILL. Its clients reconnect through nginx to the others, resuming from the last closed
candle they saw: every client gets every closed bucket exactly once, in order, with the bytes
of the live closed message. All along, exactly one replica maintains the rollups (its
/metrics says so and one PostgreSQL backend holds the lock, the others wait for it); the lock
passes to one survivor within seconds of the kill, and the rollups of the minutes written
after it are stored."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from api_server.ws_sequence import candle_text
from linkora_core.candle_columns import VALUES, values
from linkora_core.candles import Candle, LiveCandle
from linkora_core.epoch import to_datetime, to_ms
from linkora_core.live_bucket import LiveBucket
from linkora_core.market_messages import candle_message, encode
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.timeframes import MINUTE_MS, Timeframe
from tests.platform.api_replicas import MaintainerWatch, Replicas
from tests.platform.nginx_proxy import Nginx
from tests.polling import eventually

BASE = int(datetime(2024, 6, 3, tzinfo=UTC).timestamp()) * 1000
MARKET = Market(BINANCE_SPOT, "BTCUSDT")
REPLICAS = 3
# Clients per timeframe: 1m as the issue asks, and 5m (buckets aggregated from the minutes).
FOLLOWERS = {Timeframe.MINUTE_1: 9, Timeframe.MINUTE_5: 3}
MINUTES = 40
KILL_AT = 15
# The lock passes as soon as PostgreSQL sees the killed replica's session end; a waiter that
# polled would take up to 5 x rollup_interval (10 s by default).
TAKEOVER_WITHIN = 3.0


def _minute(i: int) -> Candle:
    price = Decimal(30000 + i) + Decimal("0.25")
    return Candle(
        open_time_ms=BASE + i * MINUTE_MS,
        open=price,
        high=price + 5,
        low=price - 5,
        close=price + 1,
        volume=Decimal(i + 1) / 8,
        quote_volume=Decimal(i + 1) * 3750,
        trades=10 + i,
        taker_buy_volume=Decimal(i + 1) / 16,
        taker_buy_quote_volume=Decimal(i + 1) * 1875,
    )


def _closed(series: list[Candle], timeframe: Timeframe) -> list[Candle]:
    """The closed buckets of `timeframe` the minutes make (the last one closes with the last
    minute: the series ends on a bucket boundary)."""
    bucket, out = LiveBucket(timeframe), []
    for m in series:
        update = bucket.update(m)
        if update is not None and update.closed is not None:
            out.append(update.closed)
    assert bucket.current is not None
    return [*out, bucket.current]


class Follower:
    """A client following BTCUSDT candles through nginx, resuming after every loss from the
    last closed candle it saw (as the chart page does)."""

    def __init__(self, url: str, timeframe: Timeframe, since: int) -> None:
        self.url = url
        self.timeframe = timeframe
        self.since = since
        self.closed: list[str] = []
        self.connections = 0

    async def run(self) -> None:
        while True:
            query = f"symbol=BTCUSDT&timeframe={self.timeframe.value}&since={self.since}"
            try:
                async with connect(f"ws://{self.url}/ws?{query}", open_timeout=5) as ws:
                    self.connections += 1
                    async for text in ws:
                        message = orjson.loads(text)
                        if message.get("type") == "heartbeat":
                            await ws.send('{"type":"pong"}')
                        elif message.get("closed") is True:
                            self.closed.append(str(text))
                            self.since = message["seq"]
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                pass
            # The chart page's first retry delay: minutes close while the client is away.
            await asyncio.sleep(0.5)


@pytest.fixture
def replicas(
    service_env: dict[str, str], clean_db: asyncpg.Pool, tmp_path: Path
) -> Iterator[Replicas]:
    with Replicas(service_env, tmp_path, REPLICAS) as running:
        yield running


@pytest.fixture
def nginx(replicas: Replicas, tmp_path: Path) -> Iterator[Nginx]:
    proxy = Nginx(tmp_path / "nginx", replicas.ports)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
async def followers(replicas: Replicas, nginx: Nginx) -> AsyncIterator[list[Follower]]:
    # Connecting before every replica is up would have nginx count them failed for a while.
    await replicas.ready()
    clients = [
        Follower(nginx.url, timeframe, BASE - MINUTE_MS)
        for timeframe, count in FOLLOWERS.items()
        for _ in range(count)
    ]
    tasks = [asyncio.create_task(client.run()) for client in clients]
    try:
        yield clients
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _announce(pool: asyncpg.Pool, redis: Redis, m: Candle) -> None:
    """As the collector does: open updates, the closed minute published, stored a moment
    later (its writes are buffered)."""
    half = Candle(m.open_time_ms, m.open, m.high, m.low, m.open, m.volume / 2, m.quote_volume / 2,
                  m.trades, None, None)  # fmt: skip
    for version, closed in ((half, False), (m, False), (m, True)):
        await redis.publish(
            "candles:all", encode(candle_message(LiveCandle(MARKET, version, closed)))
        )
    await asyncio.sleep(0.05)
    await pool.execute(
        f"INSERT INTO candles (venue, symbol, open_time, {VALUES}, is_closed) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true)",
        MARKET.venue.key, MARKET.symbol, to_datetime(m.open_time_ms), *values(m),
    )  # fmt: skip


async def _rollups(db: asyncpg.Pool, timeframe: Timeframe) -> list[tuple[int, Decimal, int]]:
    rows = await db.fetch(
        "SELECT open_time, volume, trades FROM candle_rollups WHERE venue = $1 AND symbol = $2 "
        "AND timeframe = $3 ORDER BY open_time",
        MARKET.venue.key, MARKET.symbol, timeframe.value,
    )  # fmt: skip
    return [(to_ms(r["open_time"]), r["volume"], r["trades"]) for r in rows]


async def _rolled_up(db: asyncpg.Pool, buckets: list[Candle]) -> None:
    """Wait until the 5m rollups are exactly `buckets`."""
    expected = [(c.open_time_ms, c.volume, c.trades) for c in buckets]

    async def stored() -> bool:
        return await _rollups(db, Timeframe.MINUTE_5) == expected

    await eventually(stored, 15, what=f"5m rollups of {len(buckets)} buckets")


async def test_a_killed_maintainer_hands_on_the_rollups_and_its_clients_miss_no_candle(
    replicas: Replicas,
    nginx: Nginx,
    followers: list[Follower],
    clean_db: asyncpg.Pool,
    redis: Redis,
) -> None:
    await eventually(
        lambda: all(f.connections for f in followers), 20, what="every follower connected"
    )
    series = [_minute(i) for i in range(MINUTES)]
    five = _closed(series, Timeframe.MINUTE_5)
    watch = MaintainerWatch(replicas, clean_db)
    async with watch.running():
        first = await watch.one_maintainer(15)
        (killed,) = first.maintainers
        for m in series[:KILL_AT]:
            await _announce(clean_db, redis, m)
            await asyncio.sleep(0.1)
        await _rolled_up(clean_db, five[: KILL_AT // 5])
        async with watch.quiet():
            replicas.kill(f"api-{killed}")
            kill = time.monotonic()
        for m in series[KILL_AT:]:
            await _announce(clean_db, redis, m)
            await asyncio.sleep(0.1)
        await _rolled_up(clean_db, five)
        took_over = await watch.one_maintainer(TAKEOVER_WITHIN, after=kill)
        (successor,) = took_over.maintainers
        expected = {tf: _closed(series, tf) for tf in FOLLOWERS}
        await eventually(
            lambda: all(f.since == expected[f.timeframe][-1].open_time_ms for f in followers),
            30,
            what=f"every follower saw the last bucket; nginx: {nginx.errors()[-500:]}",
        )
    samples = watch.since(0)
    print(
        f"rollup takeover: replica {killed} killed, replica {successor} maintains "
        f"{took_over.at - kill:.2f} s later; {len(samples)} samples"
    )
    assert successor != killed and took_over.at - kill < TAKEOVER_WITHIN
    before = [s for s in samples if first.at <= s.at < kill]
    after = [s for s in samples if s.at >= took_over.at]
    assert len(before) >= 5 and len(after) >= 5
    # Never two maintainers, nor two backends holding the lock, at any sample; one all along
    # but for the moment of the handover, the others waiting for it in PostgreSQL.
    assert all(len(s.maintainers) <= 1 and s.granted <= 1 for s in samples)
    assert all(s.maintainers == (killed,) and (s.granted, s.waiting) == (1, 2) for s in before)
    assert all(s.maintainers == (successor,) and (s.granted, s.waiting) == (1, 1) for s in after)
    assert all(killed not in s.answered for s in watch.since(kill))
    assert replicas.replica(killed).poll() == -signal.SIGKILL
    assert sum(f.connections > 1 for f in followers) >= 1  # the killed replica had clients
    for follower in followers:
        # None missed, none twice, the bytes of the live closed messages.
        assert follower.closed == [
            candle_text(MARKET, c, closed=True) for c in expected[follower.timeframe]
        ], follower.timeframe
