"""Bybit v5 public REST: /v5/market/time, kline, orderbook, instruments-info.

Every reply is Bybit's envelope with HTTP 200, parameter errors included; a client over the
per-IP limit gets HTTP 403 "access too frequent" instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from exchange_sim.bybit import payloads, queries
from exchange_sim.bybit.book import levels_of
from exchange_sim.bybit.errors import BybitError
from exchange_sim.bybit.limits import IpLimiter
from exchange_sim.intervals import DAY_MS
from exchange_sim.state import SimState

Handler = Callable[[web.Request], Awaitable[object]]

REJECTED_STATUS = 403
REJECTED_BODY = "access too frequent"


class BybitRest:
    def __init__(self, state: SimState, limiter: IpLimiter) -> None:
        self.state = state
        self.limiter = limiter
        self.routes: dict[str, Handler] = {
            "/v5/market/time": self.time,
            "/v5/market/kline": self.kline,
            "/v5/market/orderbook": self.orderbook,
            "/v5/market/instruments-info": self.instruments,
        }

    def add_routes(self, app: web.Application) -> None:
        for path in self.routes:
            app.router.add_get(path, self.dispatch)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        st.stats.requests[request.path] += 1
        response: web.Response
        if not self.limiter.admit(request.remote or "?"):
            response = web.Response(
                status=REJECTED_STATUS, text=REJECTED_BODY, content_type="text/plain"
            )
        else:
            try:
                result = await self.routes[request.path](request)
                body = payloads.envelope(result, st.clock.now_ms())
            except BybitError as exc:
                body = payloads.envelope({}, st.clock.now_ms(), exc.code, exc.msg)
            response = web.Response(body=orjson.dumps(body), content_type="application/json")
        st.stats.statuses[response.status] += 1
        return response

    async def time(self, request: web.Request) -> object:
        return payloads.server_time(self.state.clock.now_ms())

    async def kline(self, request: web.Request) -> object:
        market = self.state.market
        cat, symbol, query = queries.kline_query(request.query, market.stores)
        candles = market.candles(query)
        self.state.stats.klines_served += len(candles)
        return payloads.kline_page(cat, symbol, candles)

    async def orderbook(self, request: web.Request) -> object:
        market = self.state.market
        cat = queries.category(request.query)
        symbol = queries.symbol(request.query, cat, market.stores)
        limit = queries.book_limit(request.query, cat)
        now = self.state.clock.now_ms()
        u = now // 100
        raw = market.depth(symbol, limit, update_id=u)
        return {
            "s": symbol,
            "b": payloads.levels(levels_of(raw["bids"])),
            "a": payloads.levels(levels_of(raw["asks"])),
            "ts": now,
            "u": u,
            "seq": u * 10,
            "cts": now - 1,
        }

    async def instruments(self, request: web.Request) -> object:
        cat = queries.category(request.query)
        wanted = request.query.get("symbol")
        status = request.query.get("status", "Trading")
        stores = self.state.market.stores
        items: list[dict[str, object]] = []
        if cat in queries.SERVED and status == "Trading":
            for sym, store in stores.items():
                if wanted and sym != wanted:
                    continue
                spec = store.series.spec
                if cat == "spot":
                    items.append(payloads.spot_instrument(spec))
                else:
                    first_day = store.series.first_ms // DAY_MS * DAY_MS
                    items.append(payloads.linear_instrument(spec, first_day))
        return payloads.instruments(cat, items)
