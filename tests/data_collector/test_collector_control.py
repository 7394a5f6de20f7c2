"""The collector follows the desired state in the database at runtime (issue 17), against the
simulator, PostgreSQL and Redis: a market added is backfilled at once with its progress on
Redis at least once a second, then collected live; one removed (or of an exchange disabled)
stops, keeps its data and is marked removed; runtime settings apply without a restart; the
desired state survives a restart; a killed LISTEN connection is replaced, and a change made
without a NOTIFY is still read within the 2 s poll."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from collector_helpers import (
    FAST,
    MINUTE_MS,
    Harness,
    HarnessFactory,
    SimFactory,
    days_ago,
    redis_messages,
    spot,
    stored_equals_source,
)

from data_collector import collector as collector_module
from data_collector import health
from data_collector.bybit_rest import BYBIT_LINEAR
from data_collector.venue_stream import VenueStream
from linkora_core import bus, control_store
from linkora_core.markets import BINANCE_SPOT, Exchange, Market
from linkora_core.progress_messages import ProgressReport, decode
from tests.polling import eventually

BTC, ETH = spot("BTCUSDT"), spot("ETHUSDT")
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")
PICKUP = 2.0  # seconds a change may take to reach a running collector
# Every REST answer of the simulator delayed: a backfill of a few days lasts seconds.
SLOW_REST = {"stall_seconds": 0.3, "stall_rate": 1.0}
Reports = list[tuple[float, ProgressReport]]


def day(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)


async def add(pool: asyncpg.Pool, market: Market, start: datetime | None = None) -> float:
    """Add `market` to the desired state; the monotonic time of the commit."""
    async with pool.acquire() as connection, connection.transaction():
        assert await control_store.add_market(connection, market, start, "test")
    return time.monotonic()


async def remove(pool: asyncpg.Pool, market: Market) -> float:
    async with pool.acquire() as connection, connection.transaction():
        assert await control_store.remove_market(connection, market)
    return time.monotonic()


async def phase(pool: asyncpg.Pool, market: Market) -> str | None:
    value: str | None = await pool.fetchval(
        "SELECT phase FROM collector_state WHERE venue = $1 AND symbol = $2",
        market.venue.key, market.symbol,
    )  # fmt: skip
    return value


async def closed(pool: asyncpg.Pool, market: Market) -> list[int]:
    rows = await pool.fetch(
        """SELECT open_time FROM candles WHERE venue = $1 AND symbol = $2 AND is_closed
           ORDER BY open_time""",
        market.venue.key, market.symbol,
    )  # fmt: skip
    return [int(r["open_time"].timestamp()) * 1000 for r in rows]


async def footprint(pool: asyncpg.Pool, market: Market) -> tuple[Any, ...]:
    """What the collector has written of `market`: candles (count, newest change), books."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM candles WHERE venue = $1 AND symbol = $2),
                  (SELECT max(updated_at) FROM candles WHERE venue = $1 AND symbol = $2),
                  (SELECT count(*) FROM orderbook_data WHERE venue = $1 AND symbol = $2)""",
        market.venue.key, market.symbol,
    )  # fmt: skip
    assert row is not None
    return tuple(row)


async def picked_up(check: Callable[[], bool], since: float, what: str) -> float:
    """Seconds from `since` until `check()` holds (polled every 20 ms)."""
    await eventually(check, within=10, every=0.02, what=what)
    elapsed = time.monotonic() - since
    print(f"{what}: picked up in {elapsed:.2f} s")  # shown with -s: the latency figure
    return elapsed


async def a_later_minute(pool: asyncpg.Pool, market: Market, minutes: int = 2) -> None:
    """Until `market` has a closed minute `minutes` after its newest one now (time passing,
    seen on a market still collected)."""
    newest = (await closed(pool, market))[-1]

    async def later() -> bool:
        return (await closed(pool, market))[-1] >= newest + minutes * MINUTE_MS

    await eventually(later, within=30, what=f"a closed minute of {market} {minutes} later")


async def more_books(books: list[Any], count: int) -> None:
    seen = len(books)
    await eventually(lambda: len(books) >= seen + count, within=20, what=f"{count} more books")


def stream_of(harness: Harness) -> VenueStream:
    stream = harness.collector.streams[BINANCE_SPOT][0]
    assert isinstance(stream, VenueStream)
    return stream


def symbols_in_health(harness: Harness) -> dict[str, str]:
    body = health.health_body(harness.collector.status, harness.collector.health())
    return {name: market["phase"] for name, market in body["symbols"].items()}


async def test_a_market_added_while_running_is_backfilled_with_progress_then_collected_live(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), start=days_ago(8), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT", backfill_concurrency=1)
    collector = harness.collector
    before = await harness.streaming()
    assert collector.markets == [BTC] and before.markets == [BTC]
    reports: Reports = []
    start = days_ago(5)  # its own start date, later than START_DATE

    def heard(_: str, data: bytes) -> None:
        reports.append((time.monotonic(), decode(data)))

    def ended() -> list[ProgressReport]:
        return [r for _, r in reports if r.market == ETH and r.status != "running"]

    async with redis_messages(redis_url, [bus.PROGRESS], heard):
        sim.faults.set(**SLOW_REST)
        added = await add(clean_db, ETH, day(start))
        assert await picked_up(lambda: ETH in collector.status.markets, added, "added") < PICKUP
        await eventually(ended, within=90, what="the backfill's last report")
        sim.faults.clear()
    (last,) = ended()
    assert last.status == "done" and last.done == last.total > 0 and last.percent == 100
    running = [(at, r) for at, r in reports if r.market == ETH and r.status == "running"]
    assert len(running) >= 3, "a backfill of seconds is reported several times"
    assert running[0][1].message == f"backfilling from {start} 00:00 UTC"
    times = [added, *(at for at, _ in running), *(at for at, r in reports if r is last)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"progress reports every {max(gaps[1:]):.2f} s at most")
    assert gaps[0] < PICKUP + 1.0  # the first one soon after the change
    assert max(gaps[1:]) <= 1.0  # then at least once a second until it ends
    dones = [r.done for _, r in running]
    assert dones == sorted(dones) and all(r.total == last.total for _, r in running)

    # Backfilled from its own start, exactly the source's minutes; then live.
    minutes = await closed(clean_db, ETH)
    assert minutes[0] == int(day(start).timestamp()) * 1000
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))
    await stored_equals_source(clean_db, sim, "ETHUSDT")
    await eventually(lambda: _is(clean_db, ETH, "realtime"), within=10)
    after = stream_of(harness)
    assert after is not before and set(after.markets) == {BTC, ETH}  # the venue's stream
    await eventually(lambda: after.connected, within=10)
    await a_later_minute(clean_db, ETH)
    await a_later_minute(clean_db, BTC)
    assert symbols_in_health(harness) == {"BTCUSDT": "realtime", "ETHUSDT": "realtime"}
    state = await clean_db.fetchrow(
        "SELECT backfill_done, backfill_total FROM collector_state WHERE symbol = 'ETHUSDT'"
    )
    assert state is not None and state["backfill_done"] == state["backfill_total"] > 0


async def _is(pool: asyncpg.Pool, market: Market, expected: str) -> bool:
    return await phase(pool, market) == expected


async def test_a_venue_added_at_runtime_then_its_exchange_disabled_leaves_the_others_alone(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    # Bybit is not configured: its source exists anyway, on the simulator.
    harness = make_collector(sim, bybit_base_url=sim.rest_url, bybit_stream_url=sim.stream_url)
    collector = harness.collector
    binance = await harness.streaming()
    connections = binance.connections
    added = await add(clean_db, BYBIT_BTC)
    await picked_up(lambda: BYBIT_BTC in collector.status.markets, added, "venue added")
    await eventually(lambda: _is(clean_db, BYBIT_BTC, "realtime"), within=60)
    await eventually(lambda: collector.streaming(BYBIT_LINEAR), within=20)
    await a_later_minute(clean_db, BYBIT_BTC)
    assert "stream:bybit-linear" in collector.tasks.restarts
    # Binance spot was not disturbed: the same stream, never reconnected.
    assert stream_of(harness) is binance and binance.connections == connections

    reports: Reports = []
    async with redis_messages(
        redis_url, [bus.PROGRESS], lambda _, data: reports.append((0.0, decode(data)))
    ):
        async with clean_db.acquire() as connection, connection.transaction():
            await control_store.set_exchange_enabled(connection, Exchange.BYBIT, False)
        disabled = time.monotonic()
        elapsed = await picked_up(
            lambda: BYBIT_BTC not in collector.status.markets, disabled, "exchange disabled"
        )
        assert elapsed < PICKUP
        await eventually(lambda: [r for _, r in reports if r.status == "removed"], within=5)
    (report,) = [r for _, r in reports if r.status == "removed"]
    assert (report.market, report.message) == (BYBIT_BTC, "exchange bybit disabled")
    assert await phase(clean_db, BYBIT_BTC) == "removed"
    assert BYBIT_LINEAR not in collector.streams
    assert not [name for name in collector.tasks.restarts if "bybit" in name]
    assert "bybit-linear" not in collector.health()["venues"]
    assert symbols_in_health(harness) == {"BTCUSDT": "realtime"}
    await a_later_minute(clean_db, BTC, minutes=1)  # buffered rows flushed meanwhile
    written = await footprint(clean_db, BYBIT_BTC)
    assert written[0] > 0  # its stored data stays
    await a_later_minute(clean_db, BTC)
    assert await footprint(clean_db, BYBIT_BTC) == written  # nothing new since
    assert stream_of(harness) is binance and binance.connections == connections


async def test_a_removed_market_stops_keeps_its_data_and_the_state_survives_a_restart(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    first = make_collector(sim, symbols="BTCUSDT,ETHUSDT")
    await first.streaming()
    reports: Reports = []
    async with redis_messages(
        redis_url, [bus.PROGRESS], lambda _, data: reports.append((0.0, decode(data)))
    ):
        removed = await remove(clean_db, ETH)
        elapsed = await picked_up(
            lambda: ETH not in first.collector.status.markets, removed, "removed"
        )
        assert elapsed < PICKUP
        await eventually(lambda: [r for _, r in reports if r.status == "removed"], within=5)
    assert [(r.market, r.message) for _, r in reports] == [
        (ETH, "removed from the collected markets")
    ]
    assert await phase(clean_db, ETH) == "removed"
    assert stream_of(first).markets == [BTC]  # the venue's stream restarted without it
    assert symbols_in_health(first) == {"BTCUSDT": "realtime"}
    async with clean_db.acquire() as connection, connection.transaction():
        await control_store.set_setting(connection, "orderbook_levels", 5)
    await eventually(lambda: stream_of(first).levels == 5, within=5)
    await a_later_minute(clean_db, BTC, minutes=1)
    written = await footprint(clean_db, ETH)
    assert written[0] > 0
    await a_later_minute(clean_db, BTC)
    assert await footprint(clean_db, ETH) == written
    await first.close()

    # Started again with the same environment: ETH stays removed, the setting stays.
    again = make_collector(sim, symbols="BTCUSDT,ETHUSDT")
    await again.streaming()
    assert again.collector.markets == [BTC] and stream_of(again).markets == [BTC]
    assert stream_of(again).levels == 5
    assert await phase(clean_db, ETH) == "removed"
    await a_later_minute(clean_db, BTC)
    assert await footprint(clean_db, ETH) == written
    # Added back, it resumes from its newest stored minute: a short backfill, reported too.
    reports.clear()
    async with redis_messages(
        redis_url, [bus.PROGRESS], lambda _, data: reports.append((0.0, decode(data)))
    ):
        added = await add(clean_db, ETH)
        await picked_up(lambda: ETH in again.collector.status.markets, added, "added back")
        await eventually(lambda: [r for _, r in reports if r.status == "done"], within=30)
    statuses = [r.status for _, r in reports]
    assert statuses[0] == "running" and statuses[-1] == "done", statuses
    assert reports[0][1].done > 0  # resumed, not started over
    await eventually(lambda: _is(clean_db, ETH, "realtime"), within=30)
    minutes = await closed(clean_db, ETH)
    assert all(b - a == MINUTE_MS for a, b in itertools.pairwise(minutes))


async def test_runtime_settings_are_applied_to_the_running_collector(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, orderbook_store_interval=0.1)
    collector = harness.collector
    stream = await harness.streaming()
    books: list[tuple[float, dict[str, Any]]] = []

    def heard(_: str, data: bytes) -> None:
        books.append((time.monotonic(), orjson.loads(data)))

    async def change(name: str, value: float) -> float:
        async with clean_db.acquire() as connection, connection.transaction():
            await control_store.set_setting(connection, name, value)
        return time.monotonic()

    async with redis_messages(redis_url, ["orderbook:BTCUSDT"], heard):
        await eventually(lambda: books and len(books[-1][1]["bids"]) == 20, within=20)
        changed = await change("orderbook_levels", 5)

        def five_levels() -> bool:
            fresh = [b for at, b in books if at > changed]
            return bool(fresh) and len(fresh[-1]["bids"]) == len(fresh[-1]["asks"]) == 5

        await picked_up(five_levels, changed, "book levels")
        stored = await clean_db.fetchval("SELECT count(*) FROM orderbook_data")
        assert stored > 0
        changed = await change("orderbook_store_interval", 3600)
        await picked_up(
            lambda: collector.tunables.orderbook_store_interval == 3600, changed, "book rate"
        )
        await more_books(books, 10)  # those buffered before the change are written meanwhile
        settled = await clean_db.fetchval("SELECT count(*) FROM orderbook_data")
        await more_books(books, 10)
        assert await clean_db.fetchval("SELECT count(*) FROM orderbook_data") == settled
    newest = await clean_db.fetchrow(
        "SELECT bid_prices, ask_prices FROM orderbook_data ORDER BY captured_at DESC LIMIT 1"
    )
    assert newest is not None and len(newest["bid_prices"]) == 5
    # No reconnect for any of it.
    assert stream_of(harness) is stream and stream.connections == 1

    # The gap audit, off in the environment, started at 1 s: a lost minute comes back.
    assert "audit" not in collector.tasks.restarts
    minutes = await closed(clean_db, BTC)
    lost = minutes[len(minutes) // 2]
    await clean_db.execute(
        """DELETE FROM candles WHERE symbol = 'BTCUSDT'
           AND open_time = to_timestamp($1::bigint / 1000)""",
        lost,
    )
    await change("audit_interval", 1)

    async def restored() -> bool:
        return lost in await closed(clean_db, BTC)

    await eventually(restored, within=20, what="the audit restoring the lost minute")
    assert "audit" in collector.tasks.restarts
    changed = await change("audit_interval", 0)
    await picked_up(lambda: "audit" not in collector.tasks.restarts, changed, "audit off")
    assert collector.tasks.healthy


async def test_changes_are_picked_up_after_the_listen_connection_is_killed(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT")
    collector, watch = harness.collector, harness.collector.watch
    await harness.streaming()
    await eventually(lambda: watch.listening, within=10)
    killed = watch.backend_pid
    assert await clean_db.fetchval("SELECT pg_terminate_backend($1)", killed)
    await eventually(
        lambda: watch.listens >= 2 and watch.backend_pid not in (None, killed),
        within=20,
        what="LISTEN again on a new connection",
    )
    heard = watch.notifications
    added = await add(clean_db, ETH)
    elapsed = await picked_up(lambda: ETH in collector.status.markets, added, "after LISTEN lost")
    assert elapsed < PICKUP and watch.notifications > heard
    await eventually(lambda: _is(clean_db, ETH, "realtime"), within=30)

    # Written without a NOTIFY (a lost one): the poll reads it within 2 s anyway.
    await clean_db.execute("UPDATE control_markets SET removed_at = now() WHERE symbol = 'ETHUSDT'")
    changed = time.monotonic()
    elapsed = await picked_up(lambda: ETH not in collector.status.markets, changed, "no NOTIFY")
    assert elapsed < PICKUP + 1.0  # the poll's 2 s, and the read
    assert collector.tasks.healthy


async def test_a_market_removed_while_backfilling_stops_its_backfill(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool, redis_url: str
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), start=days_ago(8), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT", backfill_concurrency=1)
    collector = harness.collector
    await harness.streaming()
    reports: Reports = []
    async with redis_messages(
        redis_url, [bus.PROGRESS], lambda _, data: reports.append((0.0, decode(data)))
    ):
        sim.faults.set(**SLOW_REST)
        await add(clean_db, ETH)
        await eventually(
            lambda: [r for _, r in reports if r.status == "running" and r.done > 0], within=30
        )
        removed = await remove(clean_db, ETH)
        await picked_up(lambda: ETH not in collector.status.markets, removed, "mid-backfill")
        await eventually(lambda: [r for _, r in reports if r.status == "removed"], within=5)
        sim.faults.clear()
    statuses = [r.status for _, r in reports]
    assert "done" not in statuses and statuses[-1] == "removed"
    final = reports[-1][1]
    assert 0 < final.done < final.total  # stopped part way
    assert ETH not in collector.backfills and ETH not in collector.control.adding
    assert await phase(clean_db, ETH) == "removed"
    await a_later_minute(clean_db, BTC, minutes=1)
    written = await footprint(clean_db, ETH)
    assert written[0] > 0
    await a_later_minute(clean_db, BTC)
    assert await footprint(clean_db, ETH) == written
    assert stream_of(harness).markets == [BTC]


async def test_a_market_on_a_venue_the_collector_cannot_collect_is_an_error_alone(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if Bybit had no adapter: no source is built for it.
    monkeypatch.setattr(collector_module, "SUPPORTED_VENUES", (BINANCE_SPOT,))
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    collector = harness.collector
    stream = await harness.streaming()
    assert BYBIT_LINEAR not in collector.sources
    await add(clean_db, BYBIT_BTC)
    await eventually(lambda: _is(clean_db, BYBIT_BTC, "error"), within=10)
    error = collector.status.markets[BYBIT_BTC].error
    assert error is not None and error.startswith(
        "no collector adapter for the venue of bybit:linear:BTCUSDT"
    )
    assert collector.venues == [BINANCE_SPOT]
    assert stream_of(harness) is stream and stream.connections == 1
    await a_later_minute(clean_db, BTC)
    assert symbols_in_health(harness) == {"BTCUSDT": "realtime", "bybit:linear:BTCUSDT": "error"}
