"""ccxt.pro's whitebit client, unchanged but for its URLs, against the simulator's /whitebit/ws."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxt_pro
from aiohttp import web
from sim_support import MINUTE, NOW_MS, frozen

from exchange_sim.candle import Candle
from exchange_sim.server import build_app
from exchange_sim.state import SimState
from exchange_sim.whitebit import add_routes


@asynccontextmanager
async def client(state: SimState) -> AsyncIterator[Any]:
    """A ccxt.pro whitebit on a fresh app with Binance's and WhiteBIT's routes."""
    app = build_app(state)
    add_routes(app, state)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host = f"127.0.0.1:{runner.addresses[0][1]}"
    roots = {v: {"public": f"http://{host}/api/{v}/public"} for v in ("v1", "v2", "v4")}
    ex = ccxt_pro.whitebit({"urls": {"api": roots}})
    ex.urls["api"]["ws"] = f"ws://{host}/whitebit/ws"
    try:
        yield ex
    finally:
        await ex.close()
        await runner.cleanup()


def as_ccxt(candle: Candle) -> list[Decimal]:
    """ccxt's OHLCV order: time (ms), open, high, low, close, base volume."""
    values = (candle.open, candle.high, candle.low, candle.close, candle.volume)
    return [Decimal(candle.open_ms), *(Decimal(v).scaleb(-8) for v in values)]


async def test_watch_ohlcv_gets_the_open_minute_exactly() -> None:
    state = SimState.create(frozen())
    async with client(state) as ex:
        ex.number = str
        for _ in range(3):
            rows = await ex.watch_ohlcv("BTC/USDT", "1m")
        live = state.market.last_candle("BTCUSDT")
        assert live is not None
        assert [Decimal(str(v)) for v in rows[-1]] == as_ccxt(live)


async def test_watch_ohlcv_keeps_the_closed_minute_in_full() -> None:
    boundary = NOW_MS - NOW_MS % MINUTE + MINUTE
    state = SimState.create(frozen(clock_speed=1.0, clock_origin_ms=boundary - 700))
    async with client(state) as ex:
        ex.number = str
        rows = await ex.watch_ohlcv("BTC/USDT", "1m")
        while rows[-1][0] < boundary:
            rows = await ex.watch_ohlcv("BTC/USDT", "1m")
        cache = ex.ohlcvs["BTC/USDT"]["unknown"]
        closed = next(r for r in cache if r[0] == boundary - MINUTE)
        day = state.market.stores["BTCUSDT"].minutes(boundary // 86_400_000)
        full = next(c for c in day if c.open_ms == boundary - MINUTE)
        assert [Decimal(str(v)) for v in closed] == as_ccxt(full)


async def test_watch_order_book_follows_every_delta() -> None:
    state = SimState.create(frozen())  # stepped by hand: one book version per step
    async with client(state) as ex:
        book = await ex.watch_order_book("BTC/USDT", 20)
        now = NOW_MS
        for step in range(6):
            if step:
                now += 100
                state.clock.set(now)
                book = await ex.watch_order_book("BTC/USDT", 20)
            raw = state.market.depth("BTCUSDT", 20, update_id=now // 100)
            # ccxt keeps the levels pushed below the subscribed 20 (WhiteBIT sends them no
            # deletion); its top 20 is the server's.
            assert book["bids"][:20] == [[float(p), float(q)] for p, q in raw["bids"]]  # type: ignore[attr-defined]
            assert book["asks"][:20] == [[float(p), float(q)] for p, q in raw["asks"]]  # type: ignore[attr-defined]
            assert book["bids"][0][0] < book["asks"][0][0]
            if step:  # ccxt's snapshot path drops the timestamp it just set
                assert book["timestamp"] == now


async def test_candles_and_depth_share_one_connection() -> None:
    state = SimState.create(frozen())
    async with client(state) as ex:
        ex.number = str
        rows = await ex.watch_ohlcv("ETH/USDT", "1m")
        book = await ex.watch_order_book("ETH/USDT", 5)
        rows = await ex.watch_ohlcv("ETH/USDT", "1m")
        assert len(ex.clients) == 1
        live = state.market.last_candle("ETHUSDT")
        assert live is not None and [Decimal(str(v)) for v in rows[-1]] == as_ccxt(live)
        assert len(book["bids"]) == len(book["asks"]) == 5
