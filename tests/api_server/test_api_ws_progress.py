"""The WebSocket `progress` stream against a real uvicorn: reports published on Redis
(`bus.PROGRESS`, as a collector does while it backfills) reach the subscribers of their market,
of its venue and of every market; a new subscriber is first sent the latest report of each
running market; a malformed report is skipped."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from api_helpers import ServerFactory, ready, receive
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from linkora_core import bus, progress_messages
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue
from linkora_core.progress_messages import ProgressReport, Status
from tests.polling import eventually

BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
BTC = Market(BYBIT_LINEAR, "BTCUSDT")
ETH = Market(BYBIT_LINEAR, "ETHUSDT")
SPOT_SOL = Market(BINANCE_SPOT, "SOLUSDT")


def report(market: Market, done: int, status: Status = "running") -> ProgressReport:
    eta = None if status != "running" else (525_600 - done) // 16_000
    return ProgressReport(market, status, "backfilling from 2025-01-01", done, 525_600, 16_000, eta)


def expected(r: ProgressReport) -> dict[str, Any]:
    return {"type": "progress", "data": progress_messages.payload(r)}


async def test_a_report_on_the_bus_reaches_a_progress_subscriber_in_the_reload_progress_shape(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    async with connect(f"{url}/ws?type=progress") as ws:
        await ready(app, ws)
        sent = report(BTC, 223_380)
        await redis.publish(bus.PROGRESS, progress_messages.encode(sent))
        got = await receive(ws)
    assert got == expected(sent)
    assert got["data"] == {
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
        "market": "bybit:linear:BTCUSDT",
        "status": "running",
        "message": "backfilling from 2025-01-01",
        "percent": "42.5",
        "done": 223_380,
        "total": 525_600,
        "rate": 16_000,
        "eta_seconds": 18,
    }


async def test_a_subscription_filtered_to_a_market_or_a_venue_gets_only_its_reports(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    async with (
        connect(f"{url}/ws?type=candles&symbol=BTCUSDT") as one,
        connect(f"{url}/ws?type=progress&exchange=bybit&kind=linear") as venue,
        connect(f"{url}/ws?type=progress") as every,
    ):
        # `one` follows a market's progress by message, beside the candles it connected for.
        subscribe = {"type": "subscribe", "stream": "progress", "exchange": "bybit"}
        await one.send(orjson.dumps({**subscribe, "kind": "linear", "symbol": "ethusdt"}))
        for ws in (one, venue, every):
            await ready(app, ws)
        reports = [report(BTC, 10), report(ETH, 20), report(SPOT_SOL, 30)]
        for r in reports:
            await redis.publish(bus.PROGRESS, progress_messages.encode(r))
        assert [await receive(every) for _ in reports] == [expected(r) for r in reports]
        assert [await receive(venue) for _ in reports[:2]] == [expected(r) for r in reports[:2]]
        assert await receive(one) == expected(reports[1])
        # Nothing else arrives: the last report above (Binance spot's) was delivered to
        # `every` after both of these had theirs.
        for ws in (one, venue):
            with pytest.raises(TimeoutError):
                await receive(ws, within=0.3)


async def test_a_new_subscriber_first_gets_the_latest_report_of_each_running_market(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    async with connect(f"{url}/ws?type=candles&symbol=BTCUSDT") as early:
        await ready(app, early)  # the feed listens: what follows is not published into the void
        reports = [report(BTC, 100), report(BTC, 150), report(ETH, 5), report(SPOT_SOL, 9)]
        for r in [*reports, report(SPOT_SOL, 525_600, "done")]:
            await redis.publish(bus.PROGRESS, progress_messages.encode(r))
        feed = app.state.live_feed
        await eventually(lambda: feed.received >= 5, 5, what="the five reports handled")
        assert feed.progress.running == 2
    async with connect(f"{url}/ws") as ws:
        await ws.send('{"type":"subscribe","stream":"progress"}')
        greeted = [await receive(ws), await receive(ws)]
        assert sorted((m["data"]["symbol"], m["data"]["done"]) for m in greeted) == [
            ("BTCUSDT", 150),
            ("ETHUSDT", 5),
        ]
        # Then the live reports, the malformed one skipped without ending the feed.
        await redis.publish(bus.PROGRESS, b'{"market":"nonsense"}')
        done = report(BTC, 525_600, "done")
        await redis.publish(bus.PROGRESS, progress_messages.encode(done))
        assert await receive(ws) == expected(done)
    assert app.state.tasks.restarts["live-feed"] == 0


async def test_a_burst_of_reports_is_thinned_but_the_last_word_arrives(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    async with connect(f"{url}/ws?type=progress&exchange=bybit&kind=linear&symbol=BTCUSDT") as ws:
        await ready(app, ws)
        for done in range(0, 50_000, 1000):
            await redis.publish(bus.PROGRESS, progress_messages.encode(report(BTC, done)))
        final = report(BTC, 525_600, "done")
        await redis.publish(bus.PROGRESS, progress_messages.encode(final))
        got: list[dict[str, Any]] = []
        while not got or got[-1]["data"]["status"] != "done":
            got.append(await receive(ws))
    assert got[0]["data"]["done"] == 0 and got[-1] == expected(final)
    assert len(got) < 50  # throttled (the whole burst takes well under the 0.25 s x 49)
    counts = [m["data"]["done"] for m in got]
    assert counts == sorted(counts)


async def test_progress_subscribe_answers_pings_between_reports(
    live_server: ServerFactory, redis: Redis
) -> None:
    # The subscription, once made by message, survives further requests on the connection.
    app, url = await live_server()
    async with connect(f"{url}/ws?type=progress") as ws:
        await ready(app, ws)
        await ws.send('{"type":"subscribe","stream":"progress"}')  # already: no second copy
        await redis.publish(bus.PROGRESS, progress_messages.encode(report(ETH, 1)))
        assert (await receive(ws))["data"]["done"] == 1
        await ws.send('{"type":"ping"}')
        assert await receive(ws) == {"type": "pong"}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
