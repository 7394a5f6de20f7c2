"""The collector stays in step with the desired state when a step fails part way (issue 17
review): a venue restart cut short by a cancellation is still carried out; one exchange
refusing this client or unreachable at start is an error of its markets alone; a restart or
a runtime setting that failed is carried out on the next pass; an added market failing
unexpectedly is recorded as an error and retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiohttp import web
from collector_helpers import FAST, HarnessFactory, SimFactory, spot

from data_collector.binance_futures_payloads import BINANCE_USDM
from data_collector.venue_stream import VenueStream
from devstack.ports import free_port
from linkora_core import control_store
from linkora_core.markets import BINANCE_SPOT, Market, Venue
from tests.polling import eventually

BTC, ETH = spot("BTCUSDT"), spot("ETHUSDT")
FUTURES_BTC = Market(BINANCE_USDM, "BTCUSDT")


async def _phase(pool: asyncpg.Pool, market: Market) -> str | None:
    value: str | None = await pool.fetchval(
        "SELECT phase FROM collector_state WHERE venue = $1 AND symbol = $2",
        market.venue.key, market.symbol,
    )  # fmt: skip
    return value


def _markets_streamed(streams: list[object]) -> list[Market]:
    (stream,) = streams
    assert isinstance(stream, VenueStream)
    return list(stream.markets)


@pytest.fixture
async def refusing_url() -> AsyncIterator[str]:
    """An exchange answering every request with HTTP 403 (a WAF refusing this client)."""

    async def refuse(_: web.Request) -> web.Response:
        return web.Response(status=403, text="blocked")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_venue_restart_whose_caller_is_cancelled_is_still_carried_out(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT,ETHUSDT")
    collector = harness.collector
    await harness.streaming()
    live = collector.live
    assert live.covered[BINANCE_SPOT] == {BTC, ETH}
    await collector.tasks.end("control")  # no later pass puts it right: the restart must
    # As when a market's own task restarts its venue and is cancelled by its removal.
    live.realtime = lambda: [BTC]
    following = asyncio.create_task(live.follow(collector.stop))
    await asyncio.sleep(0)  # the restart has begun: its first task is being ended
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    await eventually(lambda: live.covered.get(BINANCE_SPOT) == frozenset({BTC}), within=10)
    assert _markets_streamed(list(collector.streams[BINANCE_SPOT])) == [BTC]
    assert "stream" in collector.tasks.restarts and collector.tasks.healthy
    # The next change on the venue restarts it again (no task left "already started").
    live.realtime = collector.in_realtime
    assert await live.follow(collector.stop) == [BINANCE_SPOT]
    assert live.covered[BINANCE_SPOT] == {BTC, ETH}
    assert _markets_streamed(list(collector.streams[BINANCE_SPOT])) == [BTC, ETH]


@pytest.mark.parametrize("exchange", ["refusing this client", "unreachable"])
async def test_a_desired_market_of_an_exchange_that_cannot_be_prepared_is_held_back_alone(
    exchange: str,
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    refusing_url: str,
) -> None:
    # Added at runtime earlier (the desired state), then the collector restarts.
    async with clean_db.acquire() as connection, connection.transaction():
        assert await control_store.add_market(connection, FUTURES_BTC, None, "test")
    refusing = exchange == "refusing this client"
    futures_url = refusing_url if refusing else f"http://127.0.0.1:{free_port()}"
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim, binance_futures_base_url=futures_url)
    collector = harness.collector
    stream = await harness.streaming()  # started: no exit, no endless wait for the other
    assert stream.markets == [BTC] and collector.in_realtime() == [BTC]
    assert await _phase(clean_db, BTC) == "realtime"
    futures = collector.status.markets[FUTURES_BTC]
    if refusing:
        await eventually(lambda: futures.phase == "error", within=10)
        assert futures.error is not None and "403" in futures.error
        assert await _phase(clean_db, FUTURES_BTC) == "error"
    else:
        # Retried on its own with backoff; the rest is collected meanwhile.
        assert futures.phase == "backfill" and FUTURES_BTC in collector.backfills
    assert BINANCE_USDM not in collector.streams


async def test_a_venue_restart_that_failed_is_carried_out_on_the_next_pass(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT,ETHUSDT")
    collector = harness.collector
    await harness.streaming()
    follow, failures = collector.live.follow, 0

    async def fails_once(stop: asyncio.Event) -> list[Venue]:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("restart failed")
        return await follow(stop)

    monkeypatch.setattr(collector.live, "follow", fails_once)
    async with clean_db.acquire() as connection, connection.transaction():
        assert await control_store.remove_market(connection, ETH)
    await eventually(lambda: failures == 1, within=10, what="the failed restart")

    async def removed() -> bool:
        return await _phase(clean_db, ETH) == "removed"

    await eventually(removed, within=15, what="the restart carried out on a later pass")
    assert collector.live.covered[BINANCE_SPOT] == {BTC}
    assert _markets_streamed(list(collector.streams[BINANCE_SPOT])) == [BTC]
    await eventually(lambda: collector.tasks.healthy, within=10)


async def test_a_runtime_setting_that_failed_to_apply_is_applied_on_the_next_pass(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(sim)
    collector = harness.collector
    await harness.streaming()
    assert "audit" not in collector.tasks.restarts
    restart_audits, failures = collector.live.restart_audits, 0

    async def fails_once(stop: asyncio.Event) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("audit restart failed")
        await restart_audits(stop)

    monkeypatch.setattr(collector.live, "restart_audits", fails_once)
    async with clean_db.acquire() as connection, connection.transaction():
        await control_store.set_setting(connection, "audit_interval", 1)
    await eventually(lambda: failures == 1, within=10, what="the failed attempt")
    await eventually(lambda: "audit" in collector.tasks.restarts, within=15, what="applied later")
    assert collector.tunables.audit_interval == 1
    await eventually(lambda: collector.tasks.healthy, within=10)


async def test_an_added_market_failing_unexpectedly_is_recorded_as_error_and_retried(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = await make_sim(symbols=("BTCUSDT", "ETHUSDT"), **FAST)
    harness = make_collector(sim, symbols="BTCUSDT")
    collector = harness.collector
    await harness.streaming()
    backfill_all, failures = collector.backfill_all, 0

    async def fails_once(markets: Sequence[Market] | None = None) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("a bug")
        await backfill_all(markets)

    monkeypatch.setattr(collector, "backfill_all", fails_once)
    async with clean_db.acquire() as connection, connection.transaction():
        assert await control_store.add_market(connection, ETH, None, "test")

    async def recorded() -> bool:
        return await _phase(clean_db, ETH) == "error"

    await eventually(recorded, within=10, every=0.02, what="the error in collector_state")
    assert collector.status.markets[ETH].error == "RuntimeError: a bug"

    async def live() -> bool:
        return await _phase(clean_db, ETH) == "realtime"

    await eventually(live, within=30, what="the market retried and collected live")
    await eventually(lambda: collector.live.covered.get(BINANCE_SPOT) == frozenset({BTC, ETH}))
