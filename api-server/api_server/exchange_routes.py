"""Exchange information: `GET /exchanges` (every venue with its status), `/exchanges/status`
(the collector's figures per venue), `/exchanges/{exchange}/markets`, `/exchanges/{exchange}/
timeframes`, `GET /tickers` (24 h from the stored candles) and the UDF `/udf/quotes` built
from the same tickers, prices as decimal strings."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api_server import candle_store, exchange_store, params, tickers
from api_server.exchange_store import VenueRecord
from linkora_core import markets
from linkora_core.decimals import to_plain
from linkora_core.http import JSON, BadRequest, error
from linkora_core.markets import BINANCE_SPOT, VENUES, Exchange, Market, Venue

MAX_QUOTES = 100  # symbols one /udf/quotes request may name
_EXCHANGES = {e.value for e in Exchange}


async def exchanges(request: Request) -> Response:
    """Every venue, grouped by exchange in the platform's order, with its status and how many
    markets are collected on it."""
    records = await exchange_store.venues(request.app.state.pool, VENUES)
    grouped = groupby(records, key=lambda r: r.venue.exchange)
    return JSON(
        {
            "exchanges": [
                {
                    "exchange": exchange.value,
                    "kinds": [
                        {"kind": r.venue.kind.value, "status": r.status, "markets": r.markets}
                        for r in group
                    ],
                }
                for exchange, group in grouped
            ]
        }
    )


async def status(request: Request) -> Response:
    records = await exchange_store.venues(request.app.state.pool, VENUES)
    return JSON({"venues": [_status(r) for r in records]})


def _status(record: VenueRecord) -> dict[str, Any]:
    figures = record.figures or {}
    updated = figures.get("updated_at")
    return {
        "exchange": record.venue.exchange.value,
        "kind": record.venue.kind.value,
        "status": record.status,
        "connected": bool(figures.get("connected", False)),
        "rest_requests": figures.get("rest_requests"),
        "budget_used": figures.get("budget_used"),
        "budget_limit": figures.get("budget_limit"),
        "rejections": figures.get("rejections"),
        "lag_seconds": record.lag_seconds,
        "last_error": figures.get("last_error"),
        "book_resyncs": figures.get("book_resyncs"),
        "malformed": figures.get("malformed"),
        "updated_at": None if updated is None else int(updated.timestamp() * 1000),
    }


def _venue_of_path(request: Request) -> Venue | None:
    """The venue of the path's exchange and the `kind` parameter (its spot market without);
    None for an exchange the platform does not know, BadRequest for a kind it does not have."""
    name = str(request.path_params["exchange"]).strip().lower()
    if name not in _EXCHANGES:
        return None
    kind = request.query_params.get("kind")
    if kind is not None and len(kind) > params.MAX_TEXT:
        raise BadRequest("unknown kind")
    try:
        return markets.venue(name, kind)
    except ValueError as problem:
        raise BadRequest(str(problem)) from None


async def exchange_markets(request: Request) -> Response:
    venue = _venue_of_path(request)
    if venue is None:
        return error("Unknown exchange", 404)
    return JSON(
        {
            "exchange": venue.exchange.value,
            "kind": venue.kind.value,
            "markets": await exchange_store.markets(request.app.state.pool, venue),
        }
    )


async def timeframes(request: Request) -> Response:
    """Every timeframe the candle endpoints serve: all are built from the 1m candles, so an
    exchange has them all."""
    if _venue_of_path(request) is None:
        return error("Unknown exchange", 404)
    return JSON({"timeframes": params.SUPPORTED_TIMEFRAMES})


async def ticker_list(request: Request) -> Response:
    """The venue's tickers (Binance spot without `exchange`), or the one of `symbol`; a
    symbol without minutes has none."""
    query = request.query_params
    venue = params.venue(query)
    pool = request.app.state.pool
    raw = query.get("symbol")
    if raw is not None and raw.strip():
        wanted = [Market(venue, params.valid_symbol(raw, venue))]
    else:
        wanted = [Market(venue, s) for s in await candle_store.symbols(pool, venue)]
    found = await tickers.tickers(pool, wanted)
    return JSON({"tickers": [t.fields() for t in found]})


def _quoted(name: str) -> Market | None:
    """The market of a UDF ticker (`BTCUSDT` for Binance spot, `BYBIT-LINEAR:BTCUSDT`)."""
    prefix, colon, symbol = name.rpartition(":")
    where = params.VENUE_KEYS.get(prefix.strip().lower()) if colon else BINANCE_SPOT
    if where is None:
        return None
    try:
        return Market(where, params.valid_symbol(symbol, where))
    except BadRequest:
        return None


async def quotes(request: Request) -> Response:
    """TradingView UDF quotes of the named tickers, in their order; a ticker unknown or
    without minutes is an error entry."""
    raw = request.query_params.get("symbols", "")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise BadRequest("symbols parameter is required")
    if len(names) > MAX_QUOTES:
        raise BadRequest(f"at most {MAX_QUOTES} symbols")
    named = {name: _quoted(name) for name in names}
    wanted = sorted({m for m in named.values() if m is not None})
    found = {t.market: t for t in await tickers.tickers(request.app.state.pool, wanted)}
    entries = []
    for name in names:
        market = named[name]
        ticker = None if market is None else found.get(market)
        if ticker is None:
            entries.append({"s": "error", "n": name, "v": {}})
            continue
        day = ticker.day
        entries.append(
            {
                "s": "ok",
                "n": name,
                "v": {
                    "ch": to_plain(ticker.change),
                    "chp": to_plain(ticker.change_percent),
                    "short_name": ticker.market.symbol,
                    "exchange": "Linkora",
                    "description": ticker.market.symbol,
                    "lp": to_plain(day.close),
                    "open_price": to_plain(day.open),
                    "high_price": to_plain(day.high),
                    "low_price": to_plain(day.low),
                    "prev_close_price": to_plain(day.open),
                    "volume": to_plain(day.volume),
                },
            }
        )
    return JSON({"s": "ok", "d": entries})
