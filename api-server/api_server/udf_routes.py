"""TradingView UDF datafeed: `/udf/config`, `/udf/symbols`, `/udf/search`, `/udf/history`,
`/udf/time`, `/udf/marks` and `/udf/timescale_marks` (the DEX's own orders on the market its
token pair maps to), so the charting library and compatible clients plug in directly.

UDF wants bar values as JSON numbers: they are written as the exact plain decimal literals
(never through a float). Every route takes the `exchange` and `kind` of the REST endpoints
(Binance spot without them), or a ticker naming the venue (`BYBIT-LINEAR:BTCUSDT`, as the
tickers of other venues' symbols are given); order marks exist on Binance spot markets only."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api_server import candle_store, order_marks, params
from api_server.candle_reader import Reader
from api_server.order_markets import Pair
from api_server.settings import ApiSettings
from linkora_core.decimals import to_plain
from linkora_core.http import JSON, BadRequest, error, error_body
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.timeframes import Timeframe

TF = Timeframe
RESOLUTIONS: Final[Mapping[str, Timeframe]] = MappingProxyType(
    {
        "1": TF.MINUTE_1,
        "3": TF.MINUTE_3,
        "5": TF.MINUTE_5,
        "15": TF.MINUTE_15,
        "30": TF.MINUTE_30,
        "45": TF.MINUTE_45,
        "60": TF.HOUR_1,
        "120": TF.HOUR_2,
        "180": TF.HOUR_3,
        "240": TF.HOUR_4,
        "1D": TF.DAY_1,
        "D": TF.DAY_1,
        "1W": TF.WEEK_1,
        "W": TF.WEEK_1,
        "1M": TF.MONTH_1,
        "M": TF.MONTH_1,
    }
)
SUPPORTED = ["1", "3", "5", "15", "30", "45", "60", "120", "180", "240", "1D", "1W", "1M"]
MAX_BARS = 5000


async def config(request: Request) -> Response:
    settings: ApiSettings = request.app.state.settings
    marks = bool(settings.order_markets)
    return JSON(
        {
            "supported_resolutions": SUPPORTED,
            "supports_group_request": False,
            "supports_marks": marks,
            "supports_search": True,
            "supports_timescale_marks": marks,
            "supports_time": True,
            "exchanges": [{"value": "", "name": "All", "desc": ""}],
            "symbols_types": [{"name": "crypto", "value": "crypto"}],
        }
    )


def _market(query: Mapping[str, str]) -> Market:
    """The market of `exchange`, `kind` and `symbol`, or of a ticker `VENUE-KEY:SYMBOL`."""
    raw = query.get("symbol")
    if raw is None or ":" not in raw or "exchange" in query or "kind" in query:
        return params.market(query)
    prefix, _, symbol = raw.partition(":")
    where = params.VENUE_KEYS.get(prefix.strip().lower())
    if where is None:
        raise BadRequest("Invalid symbol")
    return Market(where, params.symbol({"symbol": symbol}, venue=where))


def _ticker(market: Market) -> str:
    if market.venue == BINANCE_SPOT:
        return market.symbol
    return f"{market.venue.key.upper()}:{market.symbol}"


def _info(market: Market) -> dict[str, object]:
    symbol = market.symbol
    return {
        "name": symbol,
        "ticker": _ticker(market),
        "full_name": symbol,
        "description": symbol,
        "type": "crypto",
        "exchange": "Linkora",
        "listed_exchange": "Linkora",
        "session": "24x7",
        "timezone": "Etc/UTC",
        "minmov": 1,
        "pricescale": 100_000_000,
        "has_intraday": True,
        "has_daily": True,
        "has_weekly_and_monthly": True,
        "supported_resolutions": SUPPORTED,
        "volume_precision": 8,
        "data_status": "streaming",
    }


async def symbols(request: Request) -> Response:
    market = _market(request.query_params)
    if market.symbol not in await candle_store.symbols(request.app.state.pool, market.venue):
        return error("unknown_symbol", 404)
    return JSON(_info(market))


async def search(request: Request) -> Response:
    venue = params.venue(request.query_params)
    query = request.query_params.get("query", "").strip().upper()
    limit = params.limit(request.query_params, default=30)
    found = [s for s in await candle_store.symbols(request.app.state.pool, venue) if query in s]
    return JSON(
        [
            {
                "symbol": s,
                "full_name": s,
                "description": s,
                "exchange": "Linkora",
                "ticker": _ticker(Market(venue, s)),
                "type": "crypto",
            }
            for s in found[:limit]
        ]
    )


async def server_time(request: Request) -> Response:
    return PlainTextResponse(str(int(time.time())))


def _seconds(query: Mapping[str, str], name: str) -> int | None:
    value = params.integer(query, name)
    return None if value is None else max(0, min(params.LATEST_MS // 1000, value))


async def history(request: Request) -> Response:
    query = request.query_params
    market = _market(query)
    timeframe = _resolution(query)
    start, end = _seconds(query, "from"), _seconds(query, "to")
    countback = _seconds(query, "countback")
    end_ms = None if end is None else end * 1000
    async with request.app.state.pool.acquire() as db:
        reader = await Reader.open(db, market, timeframe, frontiers=request.app.state.frontiers)
        if countback:
            bars = await reader.newest(timeframe, end_ms, min(countback, MAX_BARS))
            bars.reverse()
        else:
            bars = await reader.oldest(timeframe, (start or 0) * 1000, end_ms, MAX_BARS)
        if not bars:
            before = await reader.newest(timeframe, (start or 0) * 1000, 1)
            body: dict[str, object] = {"s": "no_data"}
            if before:
                body["nextTime"] = before[0].open_time_ms // 1000
            return JSON(body)
    columns = {
        "t": (str(b.open_time_ms // 1000) for b in bars),
        "o": _numbers(b.open for b in bars),
        "h": _numbers(b.high for b in bars),
        "l": _numbers(b.low for b in bars),
        "c": _numbers(b.close for b in bars),
        "v": _numbers(b.volume for b in bars),
    }
    body_text = ",".join(f'"{key}":[{",".join(values)}]' for key, values in columns.items())
    return Response(f'{{"s":"ok",{body_text}}}', media_type="application/json")


def _resolution(query: Mapping[str, str]) -> Timeframe:
    timeframe = RESOLUTIONS.get(query.get("resolution", ""))
    if timeframe is None:
        raise BadRequest(f"Invalid resolution. Supported: {SUPPORTED}")
    return timeframe


def _required_seconds(query: Mapping[str, str], name: str) -> int:
    value = _seconds(query, name)
    if value is None:
        raise BadRequest(f"{name} parameter is required")
    return value


async def _closed_orders(
    request: Request,
) -> tuple[list[order_marks.ClosedOrder], tuple[Pair, ...], Timeframe]:
    """The orders the marks of one request show: those that closed in a bar from `from`'s to
    `to`'s (both seconds), on the pairs mapped to the symbol (none, as for every venue but
    Binance spot: an empty answer)."""
    query = request.query_params
    market = _market(query)
    timeframe = _resolution(query)
    start, end = _required_seconds(query, "from"), _required_seconds(query, "to")
    if start > end:
        raise BadRequest("from must not be after to")
    settings: ApiSettings = request.app.state.settings
    pairs = (
        settings.order_market_pairs.get(market.symbol, ()) if market.venue == BINANCE_SPOT else ()
    )
    if not pairs:
        return [], pairs, timeframe
    start_ms = timeframe.bucket_start(start * 1000)
    end_ms = timeframe.next_start(end * 1000)
    found = await order_marks.closed_orders(request.app.state.pool, pairs, start_ms, end_ms)
    return found, pairs, timeframe


async def marks(request: Request) -> Response:
    found, pairs, timeframe = await _closed_orders(request)
    return JSON(order_marks.marks(found, pairs, timeframe))


async def timescale_marks(request: Request) -> Response:
    found, pairs, timeframe = await _closed_orders(request)
    return JSON(order_marks.timescale_marks(found, pairs, timeframe))


def bad_request_body(request: Request, message: str) -> Mapping[str, object]:
    """`/udf/history` words a 400 as UDF clients read it; the other routes as the platform does."""
    # The router records the matched route's endpoint in the scope.
    if request.scope.get("endpoint") is history:
        return {"s": "error", "errmsg": message}
    return error_body(request, message)


def _numbers(values: Iterable[Decimal]) -> Iterable[str]:
    return (to_plain(v) for v in values)
