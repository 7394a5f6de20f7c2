"""OKX v5 public REST: /api/v5/public/time and instruments, /api/v5/market/candles,
history-candles and books.

Replies use OKX's envelope; parameter errors come with their HTTP status (400 or 200), and a
client over an endpoint's per-IP limit gets HTTP 429 with code 50011.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from exchange_sim.intervals import DAY_MS, close_ms
from exchange_sim.okx import payloads, queries
from exchange_sim.okx.book import levels_of
from exchange_sim.okx.errors import OkxError
from exchange_sim.okx.instruments import listed
from exchange_sim.okx.limits import EndpointLimiter
from exchange_sim.okx.settings import OkxSettings
from exchange_sim.state import SimState

Handler = Callable[[web.Request], Awaitable[list[object]]]


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


class OkxRest:
    def __init__(self, state: SimState, settings: OkxSettings, limiter: EndpointLimiter) -> None:
        self.state = state
        self.settings = settings
        self.limiter = limiter
        self.routes: dict[str, Handler] = {
            "/api/v5/public/time": self.time,
            "/api/v5/public/instruments": self.instruments,
            "/api/v5/market/candles": self.candles,
            "/api/v5/market/history-candles": self.history_candles,
            "/api/v5/market/books": self.books,
        }

    def add_routes(self, app: web.Application) -> None:
        for path in self.routes:
            app.router.add_get(path, self.dispatch)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        path = request.path
        st.stats.requests[path] += 1
        key = request.query.get("instType", "") if path.endswith("/instruments") else ""
        response: web.Response
        if not self.limiter.admit(request.remote or "?", path, key):
            response = _json(payloads.RATE_LIMITED, 429)
        else:
            try:
                response = _json(payloads.envelope(await self.routes[path](request)))
            except OkxError as exc:
                response = _json(payloads.error(exc.code, exc.msg), exc.status)
        st.stats.statuses[response.status] += 1
        return response

    async def time(self, request: web.Request) -> list[object]:
        return payloads.server_time(self.state.clock.now_ms())

    async def instruments(self, request: web.Request) -> list[object]:
        inst_type = queries.inst_type(request.query)
        wanted = request.query.get("instId")
        stores = self.state.market.stores
        out: list[object] = []
        for inst in listed(stores, inst_type):
            if wanted and inst.inst_id != wanted:
                continue
            first_ms = stores[inst.symbol].series.first_ms
            out.append(payloads.instrument(inst, first_ms // DAY_MS * DAY_MS))
        return out

    async def candles(self, request: web.Request) -> list[object]:
        return self._candles(request, self.settings.candles_reach)

    async def history_candles(self, request: web.Request) -> list[object]:
        return self._candles(request, None)

    def _candles(self, request: web.Request, reach: int | None) -> list[object]:
        st = self.state
        query = queries.candle_query(request.query, st.market.stores)
        store = st.market.stores[query.inst.symbol]
        now = st.clock.now_ms()
        win = queries.candle_window(query, now, store.series.first_ms, store.series.last_ms, reach)
        candles = [] if win is None else store.candles(query.interval, win)
        st.stats.klines_served += len(candles)
        return [
            payloads.candle_row(query.inst, c, close_ms(query.interval, c.open_ms) < now)
            for c in reversed(candles)
        ]

    async def books(self, request: web.Request) -> list[object]:
        market = self.state.market
        inst = queries.instrument(request.query, market.stores)
        size = queries.book_size(request.query)
        raw = market.depth(inst.symbol, size)
        asks = payloads.levels(inst, levels_of(raw["asks"]))
        bids = payloads.levels(inst, levels_of(raw["bids"]))
        return [payloads.rest_book(asks, bids, self.state.clock.now_ms())]
