"""Binance spot REST endpoints, with request weights, bans and injected faults.

Every /api/ response carries X-MBX-USED-WEIGHT-1M (and X-MBX-USED-WEIGHT). A client over
the limit gets 429 + Retry-After; one that keeps sending inside that window gets 418.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from exchange_sim import depth, errors, klines
from exchange_sim.candle import decimal_str
from exchange_sim.errors import BinanceError
from exchange_sim.events import levels
from exchange_sim.faults import NONE
from exchange_sim.state import SimState
from exchange_sim.stepped_book import step_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TOO_MUCH = (
    "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
_BANNED = (
    "Way too much request weight used; IP banned until {until}. "
    "Please use WebSocket Streams for live updates to avoid bans."
)
_SERVER_ERRORS = {
    500: (-1000, "An unknown error occurred while processing the request."),
    502: (-1001, "Internal error; unable to process your request. Please try again."),
    503: (-1008, "Server is currently overloaded with other requests. Please try again later."),
}


def json_body(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


class RestApi:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self.routes: dict[str, tuple[Handler, Callable[[Mapping[str, str]], int]]] = {
            "/api/v3/klines": (self.klines, lambda _: klines.WEIGHT),
            "/api/v3/depth": (self.depth, _depth_weight),
            "/api/v3/exchangeInfo": (self.exchange_info, lambda _: 20),
            "/api/v3/time": (self.time, lambda _: 1),
            "/api/v3/ping": (self.ping, lambda _: 1),
        }

    def add_routes(self, app: web.Application) -> None:
        for path in self.routes:
            app.router.add_get(path, self.dispatch)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        handler, weight_of = self.routes[request.path]
        st.stats.requests[request.path] += 1
        client = request.remote or "?"
        verdict = st.limiter.charge(client, weight_of(request.query))
        fault = st.faults.next_rest() if verdict.status == 200 else NONE
        if verdict.status == 200 and fault.force_429:
            verdict = st.limiter.penalize(client, st.faults.settings.retry_after_seconds)
        if fault.stall:
            await asyncio.sleep(fault.stall)
        response: web.StreamResponse
        if verdict.status == 429:
            response = json_body(
                {"code": -1003, "msg": _TOO_MUCH.format(limit=st.limiter.limit)}, 429
            )
        elif verdict.status == 418:
            until = st.clock.now_ms() + (verdict.retry_after or 0) * 1000
            response = json_body({"code": -1003, "msg": _BANNED.format(until=until)}, 418)
        elif fault.status is not None:
            code, msg = _SERVER_ERRORS.get(fault.status, (-1000, "Unknown error."))
            response = json_body({"code": code, "msg": msg}, fault.status)
        else:
            try:
                response = await handler(request)
            except BinanceError as exc:
                response = json_body({"code": exc.code, "msg": exc.msg}, exc.status)
        if verdict.retry_after is not None:
            response.headers["Retry-After"] = str(verdict.retry_after)
        response.headers["X-MBX-USED-WEIGHT"] = str(verdict.used)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(verdict.used)
        st.stats.statuses[response.status] += 1
        return response

    async def klines(self, request: web.Request) -> web.StreamResponse:
        query = klines.parse_query(request.query, self.state.market.stores)
        body = self.state.market.page(query)
        self.state.stats.klines_served += body.count(b"[") - 1
        return web.Response(body=body, content_type="application/json")

    async def depth(self, request: web.Request) -> web.StreamResponse:
        symbol = _symbol(request.query, self.state.market.stores)
        limit = klines.optional_int(request.query, "limit") or 100
        if not 1 <= limit <= depth.MAX_LIMIT:
            raise errors.invalid_value("limit")
        step = step_of(self.state.clock.now_ms())
        book = self.state.books.get(symbol)
        snap = book.snapshot(step, limit)
        return json_body(
            {"lastUpdateId": book.last_id(step), "bids": levels(snap.bids),
             "asks": levels(snap.asks)}
        )  # fmt: skip

    async def exchange_info(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        wanted = list(st.market.stores)
        if "symbol" in request.query:
            wanted = [_symbol(request.query, st.market.stores)]
        elif "symbols" in request.query:
            try:
                wanted = [str(s) for s in orjson.loads(request.query["symbols"])]
            except orjson.JSONDecodeError:
                raise errors.invalid_value("symbols") from None
            if any(s not in st.market.stores for s in wanted):
                raise errors.invalid_symbol()
        return json_body(
            {
                "timezone": "UTC",
                "serverTime": st.clock.now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": st.limiter.limit,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": 100,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "DAY",
                        "intervalNum": 1,
                        "limit": 200000,
                    },
                    {
                        "rateLimitType": "RAW_REQUESTS",
                        "interval": "MINUTE",
                        "intervalNum": 5,
                        "limit": 61000,
                    },
                ],
                "exchangeFilters": [],
                "symbols": [_symbol_info(st, s) for s in wanted],
            }
        )

    async def time(self, request: web.Request) -> web.StreamResponse:
        return json_body({"serverTime": self.state.clock.now_ms()})

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return json_body({})


def _symbol(query: Mapping[str, str], symbols: Mapping[str, object]) -> str:
    symbol = query.get("symbol", "")
    if not symbol:
        raise errors.mandatory("symbol")
    if symbol not in symbols:
        raise errors.invalid_symbol()
    return symbol


def _depth_weight(query: Mapping[str, str]) -> int:
    text = query.get("limit", "100")
    return depth.weight(int(text)) if text.isdigit() and len(text) < 10 else 5


def _symbol_info(state: SimState, symbol: str) -> dict[str, object]:
    spec = state.market.stores[symbol].series.spec
    tick = decimal_str(10 ** (8 - spec.decimals))
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "1000000.00000000",
                "tickSize": tick,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
        ],
        "permissions": ["SPOT"],
    }
