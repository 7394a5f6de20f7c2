"""Gap audit, the health endpoint and clear errors for blocked clients."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from collector_helpers import MINUTE_MS, HarnessFactory, SimFactory, lose_candles, spot

from data_collector import audit, health
from data_collector.exchange import ExchangeBlocked
from data_collector.rest import BinanceRest
from data_collector.weights import WeightBudget
from devstack.ports import free_port


async def test_audit_refetches_holes_and_records_what_the_exchange_lacks(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    probe = await make_sim(symbols=("BTCUSDT",))
    first = probe.source.stores["BTCUSDT"].series.first_ms
    outage = (first + 600 * MINUTE_MS, first + 659 * MINUTE_MS)  # inclusive, 60 minutes
    sim = await make_sim(symbols=("BTCUSDT",), gaps=(outage,))
    harness = make_collector(sim)
    await harness.backfill()
    # Lose 30 stored minutes, and forget the recorded outage.
    await lose_candles(clean_db, first + 2030 * MINUTE_MS, start_ms=first + 2000 * MINUTE_MS)
    await clean_db.execute("DELETE FROM candle_gaps")
    restored, recorded = await audit.audit_market(harness.rest, clean_db, spot("BTCUSDT"))
    assert (restored, recorded) == (30, 60)
    asked = sim.stats.requests["/api/v3/klines"]
    assert await audit.audit_market(harness.rest, clean_db, spot("BTCUSDT")) == (0, 0)
    assert sim.stats.requests["/api/v3/klines"] == asked  # known gaps are not asked again


async def test_health_reports_each_symbols_phase_progress_and_lag(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    harness = make_collector(sim)
    await harness.backfill()
    port = free_port()
    runner = await health.start(harness.collector.status, harness.collector.health, port)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/health") as response,
        ):
            assert response.status == 200
            body = await response.json()
    finally:
        await runner.cleanup()
    assert body["status"] == "healthy"
    assert body["database"] == "healthy" and body["rest"]["rejections"] == 0
    btc = body["symbols"]["BTCUSDT"]
    assert btc["phase"] == "backfill"
    assert btc["backfill"]["done"] == btc["backfill"]["total"] > 0
    assert btc["lag_seconds"] is not None and btc["lag_seconds"] < 120


@pytest.mark.parametrize(("status", "reason"), [(403, "WAF"), (451, "restricted location")])
async def test_403_and_451_are_reported_clearly_not_retried(status: int, reason: str) -> None:
    calls = 0

    async def refuse(_: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=status, text="blocked")

    app = web.Application()
    app.router.add_get("/api/v3/time", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            rest = BinanceRest(session, f"http://127.0.0.1:{port}", WeightBudget())
            with pytest.raises(ExchangeBlocked, match=reason):
                await rest.server_time()
    finally:
        await runner.cleanup()
    assert calls == 1
