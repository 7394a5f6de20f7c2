"""USDⓈ-M REST endpoints under /fapi/v1, with their own REQUEST_WEIGHT budget.

The request pipeline (weights, 429 then 418 with Retry-After, injected faults, the
X-MBX-USED-WEIGHT-1M header) is the spot one; only the routes, the weights and the limiter
differ. Klines: limit default 500, max 1500, weight 1/2/5/10 by limit. Depth: limit in
{5, 10, 20, 50, 100, 500, 1000} (default 500), weight 2/5/10/20, with E and T.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from aiohttp import web

from exchange_sim import errors, klines
from exchange_sim.candle import decimal_str
from exchange_sim.futures.book import STEP_MS, step_of
from exchange_sim.futures.books import Books
from exchange_sim.futures.info import exchange_info
from exchange_sim.rest import RestApi, json_body
from exchange_sim.state import SimState
from exchange_sim.weights import WeightLimiter

KLINES_DEFAULT = 500
KLINES_MAX = 1500
DEPTH_DEFAULT = 500
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)

# Binance's tables for /fapi/v1/klines and /fapi/v1/depth: (largest limit, weight).
_KLINE_WEIGHTS = ((99, 1), (499, 2), (1000, 5))
_DEPTH_WEIGHTS = ((50, 2), (100, 5), (500, 10))


def kline_weight(limit: int) -> int:
    return next((w for top, w in _KLINE_WEIGHTS if limit <= top), 10)


def depth_weight(limit: int) -> int:
    return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 20)


class FuturesRest(RestApi):
    def __init__(self, state: SimState, limiter: WeightLimiter, books: Books) -> None:
        super().__init__(dataclasses.replace(state, limiter=limiter))
        self.books = books
        self.routes = {
            "/fapi/v1/klines": (self.klines, _by_limit(kline_weight, KLINES_DEFAULT)),
            "/fapi/v1/continuousKlines": (
                self.continuous_klines,
                _by_limit(kline_weight, KLINES_DEFAULT),
            ),
            "/fapi/v1/depth": (self.depth, _by_limit(depth_weight, DEPTH_DEFAULT)),
            "/fapi/v1/exchangeInfo": (self.exchange_info, lambda _: 1),
            "/fapi/v1/time": (self.time, lambda _: 1),
            "/fapi/v1/ping": (self.ping, lambda _: 1),
        }

    async def klines(self, request: web.Request) -> web.StreamResponse:
        return self._klines(request.query)

    async def continuous_klines(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        if not q.get("pair"):
            raise errors.mandatory("pair")
        if not q.get("contractType"):
            raise errors.mandatory("contractType")
        if q["contractType"] != "PERPETUAL":
            raise errors.invalid_value("contractType")
        params = {k: v for k, v in q.items() if k not in ("pair", "contractType")}
        return self._klines(params | {"symbol": q["pair"]})

    def _klines(self, params: Mapping[str, str]) -> web.StreamResponse:
        market = self.state.market
        limit = klines.optional_int(params, "limit")
        if limit is None:
            limit = KLINES_DEFAULT
        elif not 1 <= limit <= KLINES_MAX:
            raise errors.invalid_value("limit")
        rest = {k: v for k, v in params.items() if k != "limit"}
        query = dataclasses.replace(klines.parse_query(rest, market.stores), limit=limit)
        body = market.page(query)
        self.state.stats.klines_served += body.count(b"[") - 1
        return web.Response(body=body, content_type="application/json")

    async def depth(self, request: web.Request) -> web.StreamResponse:
        symbol = _symbol(request.query, self.state.market.stores)
        limit = klines.optional_int(request.query, "limit") or DEPTH_DEFAULT
        if limit not in DEPTH_LIMITS:
            raise errors.invalid_value("limit")
        now = self.state.clock.now_ms()
        step = step_of(now)
        book = self.books.get(symbol)
        snap = book.snapshot(step, limit)
        return json_body(
            {
                "lastUpdateId": book.last_id(step),
                "E": now,
                "T": step * STEP_MS,
                "bids": [[decimal_str(p), decimal_str(q)] for p, q in snap.bids],
                "asks": [[decimal_str(p), decimal_str(q)] for p, q in snap.asks],
            }
        )

    async def exchange_info(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        specs = [(s.series.spec, s.series.first_ms) for s in st.market.stores.values()]
        return json_body(
            exchange_info(specs, server_time=st.clock.now_ms(), weight_limit=st.limiter.limit)
        )


def _by_limit(weight: Callable[[int], int], default: int) -> Callable[[Mapping[str, str]], int]:
    def weight_of(query: Mapping[str, str]) -> int:
        text = query.get("limit", "")
        limit = int(text) if text.isdigit() and len(text) < 10 else default
        return weight(limit)

    return weight_of


def _symbol(query: Mapping[str, str], symbols: Mapping[str, object]) -> str:
    symbol = query.get("symbol", "")
    if not symbol:
        raise errors.mandatory("symbol")
    if symbol not in symbols:
        raise errors.invalid_symbol()
    return symbol
