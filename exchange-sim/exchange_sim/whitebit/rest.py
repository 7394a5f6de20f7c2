"""WhiteBIT public REST: v4 time, ping, platform status, markets, assets and order book, and
the v1 kline. Limits per endpoint and IP; over one, HTTP 429. The simulator's REST faults
(`sim.faults`: 5xx, stalls, forced 429s) apply here too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from exchange_sim.faults import NONE
from exchange_sim.state import SimState
from exchange_sim.whitebit import payloads, queries
from exchange_sim.whitebit.book import levels_of
from exchange_sim.whitebit.errors import WhitebitError
from exchange_sim.whitebit.limits import KLINE, ORDERBOOK, PUBLIC, EndpointLimiter
from exchange_sim.whitebit.names import markets

Handler = Callable[[web.Request], Awaitable[object]]

# WhiteBIT documents the status only; the body is the documented public error shape.
TOO_MANY = "Too many requests."
_SERVER_ERROR = "Internal server error."


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


class WhitebitRest:
    def __init__(self, state: SimState, limiter: EndpointLimiter) -> None:
        self.state = state
        self.limiter = limiter
        self.markets = markets(state.market.symbols)
        self.routes: dict[str, tuple[str, Handler]] = {
            "/api/v4/public/time": (PUBLIC, self.time),
            "/api/v4/public/ping": (PUBLIC, self.ping),
            "/api/v4/public/platform/status": (PUBLIC, self.platform_status),
            "/api/v4/public/markets": (PUBLIC, self.markets_info),
            "/api/v4/public/assets": (PUBLIC, self.assets),
            "/api/v4/public/orderbook/{market}": (ORDERBOOK, self.orderbook),
            "/api/v1/public/kline": (KLINE, self.kline),
        }

    def add_routes(self, app: web.Application) -> None:
        for path, (group, handler) in self.routes.items():
            app.router.add_get(path, self._dispatcher(path, group, handler))

    def _dispatcher(
        self, path: str, group: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def dispatch(request: web.Request) -> web.StreamResponse:
            st = self.state
            st.stats.requests[path] += 1
            admitted = self.limiter.admit(request.remote or "?", group)
            fault = st.faults.next_rest() if admitted else NONE
            if fault.stall:
                await asyncio.sleep(fault.stall)
            if not admitted or fault.force_429:
                if admitted:
                    self.limiter.rejected[group] += 1
                response = _json(payloads.plain_error(TOO_MANY), 429)
            elif fault.status is not None:
                response = _json(payloads.plain_error(_SERVER_ERROR), fault.status)
            else:
                try:
                    response = _json(await handler(request))
                except WhitebitError as exc:
                    response = _json(exc.body, exc.status)
            st.stats.statuses[response.status] += 1
            return response

        return dispatch

    async def time(self, request: web.Request) -> object:
        return {"time": self.state.clock.now_ms() // 1000}

    async def ping(self, request: web.Request) -> object:
        return ["pong"]

    async def platform_status(self, request: web.Request) -> object:
        return {"status": "1"}

    async def markets_info(self, request: web.Request) -> object:
        stores = self.state.market.stores
        return [payloads.market_info(stores[s].series.spec, m) for m, s in self.markets.items()]

    async def assets(self, request: web.Request) -> object:
        stores = self.state.market.stores
        tickers: dict[str, None] = {}
        for symbol in self.markets.values():
            spec = stores[symbol].series.spec
            tickers[spec.base_asset] = tickers[spec.quote_asset] = None
        return {t: payloads.asset_info(t) for t in tickers}

    async def orderbook(self, request: web.Request) -> object:
        name = request.match_info["market"]
        symbol = queries.by_name(name, self.markets)
        limit = queries.book_limit(request.query)
        queries.book_level(request.query)
        now = self.state.clock.now_ms()
        raw = self.state.market.depth(symbol, limit, update_id=now // 100)
        return payloads.rest_book(name, now // 1000, levels_of(raw["asks"]), levels_of(raw["bids"]))

    async def kline(self, request: web.Request) -> object:
        st = self.state
        req = queries.kline(request.query, self.markets, st.clock.now_ms())
        candles = st.market.candles(req.query)
        if req.floor_ms is not None:
            candles = [c for c in candles if c.open_ms >= req.floor_ms]
        st.stats.klines_served += len(candles)
        return payloads.v1_ok([payloads.kline_row(c) for c in candles])
