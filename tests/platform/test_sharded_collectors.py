"""Collectors sharing the markets through PostgreSQL leases (issue 19), every one a real
`python -m data_collector` process against `python -m exchange_sim`: three split nine markets
evenly, the markets of one killed with SIGKILL are taken over within 30 s, a fourth added takes
its share, and every market's stored minutes have no gap, no minute stored or published
closed twice, and no request was refused for its rate."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from redis.asyncio import Redis

from data_collector import adapters
from data_collector.okx_rest import OkxBudgets
from data_collector.request_budget import SlidingBudget
from data_collector.settings import SUPPORTED_VENUES, CollectorSettings
from data_collector.weights import WeightBudget
from devstack.ports import free_port
from linkora_core.markets import Exchange
from tests.polling import eventually
from tests.service_processes import ServiceProcesses
from tests.simulator_process import simulator

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT",
           "LTCUSDT", "DOTUSDT")  # fmt: skip
MINUTE = timedelta(minutes=1)
TAKEOVER_LIMIT = 30.0  # seconds (the issue's)
# The simulated clock runs this much faster: a minute closes every few seconds, hand-overs
# and the takeover among them.
CLOCK_SPEED = 10.0


def _day(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d")


@pytest.fixture
def exchange() -> Iterator[str]:
    with simulator(SYMBOLS, _day(2), seed=19) as address:
        yield address


class Collectors(ServiceProcesses):
    """Collector processes by instance name, all on one egress (this machine's address)."""

    def __init__(self, env: dict[str, str], address: str, logs: Path) -> None:
        super().__init__(logs, {
            **env,
            "BINANCE_BASE_URL": f"http://{address}", "BINANCE_STREAM_URL": f"ws://{address}",
            "SYMBOLS": ",".join(SYMBOLS), "START_DATE": _day(1), "AUDIT_INTERVAL": "0",
            "METRICS_HOST": "127.0.0.1", "COLLECTOR_EGRESS": "test-host", "LEASE_SECONDS": "15",
        })  # fmt: skip
        self.ports: dict[str, int] = {}

    def start_instance(self, name: str) -> None:
        self.ports[name] = port = free_port()
        self.start(name, "data_collector", COLLECTOR_INSTANCE=name, METRICS_PORT=str(port))


@pytest.fixture
async def collectors(
    exchange: str, service_env: dict[str, str], clean_db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Collectors]:
    with Collectors(service_env, exchange, tmp_path) as running:
        yield running


async def _holders(pool: asyncpg.Pool) -> dict[str, str]:
    """Each market's lease holder (symbol -> instance), unexpired leases only."""
    rows = await pool.fetch(
        "SELECT symbol, holder FROM market_leases WHERE expires_at > now() ORDER BY symbol"
    )
    return {r["symbol"]: r["holder"] for r in rows}


async def _split(pool: asyncpg.Pool, among: list[str]) -> dict[str, list[str]] | None:
    """The markets per instance once all are held, by `among` alone, three each."""
    holders = await _holders(pool)
    by: dict[str, list[str]] = {name: [] for name in among}
    for symbol, holder in holders.items():
        by.setdefault(holder, []).append(symbol)
    if len(holders) != len(SYMBOLS) or sorted(by) != among:
        return None
    return by if all(len(symbols) == 3 for symbols in by.values()) else None


async def _all_realtime(pool: asyncpg.Pool) -> bool:
    rows = await pool.fetch("SELECT phase FROM collector_state")
    return len(rows) == len(SYMBOLS) and all(r["phase"] == "realtime" for r in rows)


async def _health(session: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    async with session.get(f"http://127.0.0.1:{port}/health") as response:
        body: dict[str, Any] = await response.json()
        return body


async def _sim_clock(address: str, **change: float) -> datetime:
    """The simulator's time, after `change` (`speed`) is applied."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{address}/_sim/clock", json=change) as response,
    ):
        body = await response.json()
    return datetime.fromtimestamp(body["server_time"] / 1000, UTC)


async def _sim_stats(session: aiohttp.ClientSession, address: str) -> dict[str, Any]:
    async with session.get(f"http://{address}/_sim/stats") as response:
        body: dict[str, Any] = await response.json()
        return body


@pytest.mark.slow
async def test_collectors_split_the_markets_take_over_a_killed_ones_and_leave_no_gap(
    collectors: Collectors, exchange: str, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    pool = clean_db
    published: Counter[tuple[str, int]] = Counter()
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe("candles:all")

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                candle = orjson.loads(message["data"])
                if candle.get("closed"):
                    published[(candle["symbol"], candle["timestamp"])] += 1

    listening = asyncio.create_task(pump())
    await _sim_clock(exchange, speed=CLOCK_SPEED)
    try:
        for name in ("c1", "c2", "c3"):
            collectors.start_instance(name)
        split = await eventually(
            lambda: _split(pool, ["c1", "c2", "c3"]), 40, every=0.5, what="a 3/3/3 split"
        )
        assert split is not None
        await eventually(lambda: _all_realtime(pool), 30, every=0.5, what="every market live")
        async with aiohttp.ClientSession() as session:
            health = await _health(session, collectors.ports["c1"])
        assert health["instance"] == "c1" and health["egress"] == "test-host"
        assert sorted(health["leased_markets"]) == split["c1"]
        assert health["live_instances"] == ["c1", "c2", "c3"]
        assert set(health["symbols"]) == set(split["c1"]), "it collects only what it leases"

        victim = split["c2"]
        collectors.kill("c2")
        killed_at = time.monotonic()

        async def taken_over() -> bool:
            holders = await _holders(pool)
            return all(holders.get(s) in ("c1", "c3") for s in victim)

        await eventually(taken_over, TAKEOVER_LIMIT, every=0.2, what="c2's markets taken over")
        takeover = time.monotonic() - killed_at
        await eventually(lambda: _all_realtime(pool), 30, every=0.5, what="every market live")
        live_again = time.monotonic() - killed_at
        print(f"c2's markets leased again after {takeover:.1f} s, live after {live_again:.1f} s")
        assert takeover < TAKEOVER_LIMIT

        collectors.start_instance("c4")
        added_at = time.monotonic()
        await eventually(
            lambda: _split(pool, ["c1", "c3", "c4"]), 30, every=0.5, what="a rebalanced split"
        )
        print(f"split 3/3/3 again {time.monotonic() - added_at:.1f} s after c4 started")
        await eventually(lambda: _all_realtime(pool), 30, every=0.5, what="every market live")
        async with aiohttp.ClientSession() as session:
            figures = [await _health(session, collectors.ports[n]) for n in collectors.running()]
            stats = await _sim_stats(session, exchange)
        assert sum(len(f["leased_markets"]) for f in figures) == len(SYMBOLS)
        rejected = [v["rejections"] for f in figures for v in f["venues"].values()]
        assert rejected and not any(rejected), rejected
        assert stats["statuses"].get("429", 0) == 0 and stats["statuses"].get("418", 0) == 0
        assert collectors.running() == ["c1", "c3", "c4"], [collectors.log(n) for n in ("c1",)]
    finally:
        collectors.close()
        await asyncio.sleep(0.5)  # the last closed minutes published on the way out
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks the hint
        await redis.aclose()

    now = await _sim_clock(exchange)
    # Stopped gracefully: every lease and instance row given back.
    assert await pool.fetchval("SELECT count(*) FROM market_leases WHERE holder <> 'c2'") == 0
    assert (
        await pool.fetchval("SELECT count(*) FROM collector_instances WHERE instance <> 'c2'") == 0
    )
    for symbol in SYMBOLS:
        rows = await pool.fetch(
            """SELECT open_time FROM candles
               WHERE venue = 'binance-spot' AND symbol = $1 AND is_closed ORDER BY open_time""",
            symbol,
        )
        times = [r["open_time"] for r in rows]
        assert len(times) >= 1440, symbol
        assert all(b - a == MINUTE for a, b in itertools.pairwise(times)), f"gap in {symbol}"
        assert times[-1] >= now - 3 * MINUTE, f"{symbol} not collected to now"
    print(f"{len(published)} closed minutes published live, {sum(published.values())} times")
    twice = [key for key, count in published.items() if count > 1]
    assert not twice, f"closed minutes published more than once: {twice}"
    assert len(published) >= len(SYMBOLS), "closed minutes not published live"


async def test_instances_on_one_egress_split_the_shared_exchanges_budgets() -> None:
    """Binance's request weight excepted: the exchange reports the IP's whole count, which
    its budget adopts."""
    settings = CollectorSettings.model_validate(
        {"symbols": "BTCUSDT", "shared_rate_limits": "binance, OKX"}
    )
    assert settings.shared_rate_limits == {Exchange.BINANCE, Exchange.OKX}
    async with aiohttp.ClientSession() as session:
        sources = adapters.rest_sources(settings, session, SUPPORTED_VENUES)
    connects = adapters.connection_budgets(settings.weight_budget_fraction)
    adapters.share_budgets(sources, connects, settings.shared_rate_limits, 0.8 / 4)
    for venue, rest in sources.items():
        budget = rest.budget
        fraction = 0.2 if venue.exchange is Exchange.OKX else 0.8
        assert isinstance(budget, WeightBudget | SlidingBudget | OkxBudgets)
        parts = list(budget.by_path.values()) if isinstance(budget, OkxBudgets) else []
        for paced in (budget, *parts):
            assert paced.fraction == pytest.approx(fraction), venue
        if not parts:
            assert budget.allowance == max(1, int(budget.limit * fraction)), venue
    assert connects[Exchange.OKX].fraction == pytest.approx(0.2)
    assert connects[Exchange.BINANCE].fraction == pytest.approx(0.2)
    assert connects[Exchange.BYBIT].fraction == pytest.approx(0.8)
