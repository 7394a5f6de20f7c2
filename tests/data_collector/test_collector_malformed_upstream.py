"""Malformed answers and stream frames are counted, logged and skipped, never fatal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from collector_helpers import MINUTE_MS, spot

from data_collector import backfill
from data_collector.binance_protocol import BinanceProtocol
from data_collector.exchange import ExchangeError
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from data_collector.status import CollectorStatus
from data_collector.venue_stream import VenueStream
from data_collector.weights import WeightBudget
from devstack.ports import free_port
from linkora_core.markets import Market
from tests.polling import eventually

START = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS


def kline_row(open_ms: int, price: str = "1.5") -> list[Any]:
    return [open_ms, price, price, price, price, "2", open_ms + 59_999, "3", 4, "1", "1.5", "0"]


def kline_event(open_ms: int, **changes: Any) -> dict[str, Any]:
    k = {"t": open_ms, "T": open_ms + 59_999, "s": "BTCUSDT", "i": "1m", "o": "1.5",
         "c": "1.5", "h": "1.5", "l": "1.5", "v": "2", "n": 4, "x": True, "q": "3",
         "V": "1", "Q": "1.5"}  # fmt: skip
    k.update(changes)
    return {"stream": "btcusdt@kline_1m", "data": {"e": "kline", "s": "BTCUSDT", "k": k}}


@contextlib.asynccontextmanager
async def upstream(routes: dict[str, Callable[[web.Request], Any]]) -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def rest_client(base: str) -> AsyncIterator[BinanceRest]:
    async with aiohttp.ClientSession() as session:
        yield BinanceRest(session, base, WeightBudget(), max_attempts=3)


async def test_server_time_without_server_time_is_a_counted_binance_error() -> None:
    async def time_(_: web.Request) -> web.Response:
        return web.json_response({"time": 1})

    async with upstream({"/api/v3/time": time_}) as base, rest_client(base) as rest:
        with pytest.raises(ExchangeError, match="serverTime"):
            await rest.server_time()
        assert rest.malformed == 1


async def test_a_body_that_is_not_json_is_counted_and_asked_again() -> None:
    answers = [b"<html>gateway</html>", b"{not json", orjson.dumps({"rateLimits": []})]

    async def info(_: web.Request) -> web.Response:
        return web.Response(body=answers.pop(0), content_type="application/json")

    async with upstream({"/api/v3/exchangeInfo": info}) as base, rest_client(base) as rest:
        assert await rest.exchange_info() == {"rateLimits": []}
        assert rest.malformed == 2


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "nan", "sNaN"])
async def test_non_finite_decimal_text_is_refused_on_the_backfill_path(bad: str) -> None:
    rows = [kline_row(START + i * MINUTE_MS) for i in range(5)]
    rows[2] = kline_row(START + 2 * MINUTE_MS, price=bad)

    async def klines(request: web.Request) -> web.Response:
        start = int(request.query["startTime"])
        return web.json_response([r for r in rows if r[0] >= start][: int(request.query["limit"])])

    async with upstream({"/api/v3/klines": klines}) as base, rest_client(base) as rest:
        pages = [
            page
            async for page in backfill.fetch_span(
                rest, spot("BTCUSDT"), START, server_ms=START + 5 * MINUTE_MS, previous_open_ms=None
            )
        ]
        malformed = getattr(rest, "malformed", None)
    stored = [row[0] for page in pages for row in page.rows]
    assert stored == [START + i * MINUTE_MS for i in (0, 1, 3, 4)]
    assert malformed == 1
    # The refused minute is not an exchange gap: the exchange did answer for it.
    assert [hole for page in pages for hole in page.holes] == []


async def test_malformed_stream_frames_are_counted_and_skipped_on_the_same_connection(
    clean_db: Any, redis: Any
) -> None:
    frames: list[str | bytes] = [
        "{not json",
        orjson.dumps({"stream": "btcusdt@kline_1m", "data": {"e": "kline"}}).decode(),  # no k
        orjson.dumps(kline_event(START, o="NaN")).decode(),
        orjson.dumps({"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate"}}).decode(),
        orjson.dumps(
            {
                "stream": "btcusdt@depth@100ms",
                "data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 2, "u": 3, "b": [["1"]], "a": []},
            }
        ).decode(),
        orjson.dumps(
            {
                "stream": "btcusdt@depth@100ms",
                "data": {
                    "e": "depthUpdate",
                    "s": "BTCUSDT",
                    "U": 2,
                    "u": 3,
                    "b": [["NaN", "1"]],
                    "a": [],
                },
            }
        ).decode(),
        orjson.dumps(kline_event(START + MINUTE_MS)).decode(),
    ]

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in frames:
            await ws.send_str(frame if isinstance(frame, str) else frame.decode())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ws.receive(), 30)
        return ws

    async def depth(_: web.Request) -> web.Response:
        return web.json_response({"lastUpdateId": 1, "bids": [["1", "1"]], "asks": [["2", "1"]]})

    async def no_catch_up(_: Market) -> int:
        return 0

    store = LiveStore(clean_db)
    status = CollectorStatus()
    stop = asyncio.Event()
    routes = {"/stream": stream, "/api/v3/depth": depth}
    async with upstream(routes) as base, aiohttp.ClientSession() as session:
        rest = BinanceRest(session, base, WeightBudget())
        protocol = BinanceProtocol(base.replace("http", "ws"), rest)
        collector = VenueStream(
            session, protocol, [spot("BTCUSDT")], store, Publisher(redis), status, no_catch_up
        )
        task = asyncio.create_task(collector.run(stop))
        try:

            async def good_candle_seen() -> bool:
                return status.of(spot("BTCUSDT")).last_closed_ms == START + MINUTE_MS or task.done()

            await eventually(good_candle_seen, within=10)
            assert not task.done()
            assert collector.malformed == 6
            assert collector.connections == 1  # none of them cost the connection
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
