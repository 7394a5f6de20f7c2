"""`GET /symbols`, `GET /orderbook` and `GET /price`."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from starlette.requests import Request
from starlette.responses import Response

from api_server import candle_store, orderbook_store, params, wire
from api_server.candle_reader import Reader
from linkora_core.decimals import to_plain
from linkora_core.http import JSON, error

_CENT = Decimal("0.01")


async def symbols(request: Request) -> Response:
    """The symbols of one venue (`exchange`, `kind`; Binance spot without them)."""
    venue = params.venue(request.query_params)
    return JSON({"symbols": await candle_store.symbols(request.app.state.pool, venue)})


async def orderbook(request: Request) -> Response:
    market = params.market(request.query_params)
    levels = params.levels(request.query_params)
    book = await orderbook_store.latest_book(request.app.state.pool, market, levels)
    if book is None:
        return error("No orderbook data available for this symbol", 404)
    return JSON(book)


async def price(request: Request) -> Response:
    """The latest (possibly open) bucket of the timeframe against the bucket before it."""
    market = params.market(request.query_params)
    timeframe = params.timeframe(request.query_params)
    async with request.app.state.pool.acquire() as db:
        reader = await Reader.open(db, market, timeframe, frontiers=request.app.state.frontiers)
        latest = await reader.newest(timeframe, None, 2)
    if not latest:
        return error("No price data available for this symbol", 404)
    current = latest[0]
    # With a single bucket of history, compare with where that bucket opened.
    previous = latest[1].close if len(latest) > 1 else current.open
    change = current.close - previous
    percent = (change * 100 / previous).quantize(_CENT, ROUND_HALF_EVEN) if previous else Decimal(0)
    return JSON(
        {
            **wire.market_fields(market),
            "symbol": market.symbol,
            "timeframe": timeframe.value,
            "current_price": to_plain(current.close),
            "previous_price": to_plain(previous),
            "change_absolute": to_plain(change),
            "change_percent": to_plain(percent),
            "trend": "up" if change > 0 else "down" if change < 0 else "neutral",
            "timestamp": current.open_time_ms,
            "volume": to_plain(current.volume),
        }
    )
