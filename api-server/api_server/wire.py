"""Candles as they travel to clients: the REST object and the WebSocket message. A market
other than Binance spot is named by its `exchange` and `kind` before its symbol (as
`linkora_core.market_messages` does); Binance spot's messages keep their exact bytes. A trade
count the exchange does not publish is null."""

from __future__ import annotations

from typing import Any

from linkora_core.candles import Candle
from linkora_core.decimals import plain_or_null, to_plain
from linkora_core.epoch import to_datetime
from linkora_core.markets import BINANCE_SPOT, Market


def market_fields(market: Market) -> dict[str, str]:
    """`exchange` and `kind` of a market other than Binance spot; nothing for Binance spot."""
    if market.venue == BINANCE_SPOT:
        return {}
    return {"exchange": market.venue.exchange.value, "kind": market.venue.kind.value}


def rest_candle(candle: Candle) -> dict[str, Any]:
    return {
        "timestamp": candle.open_time_ms,
        "open_time": to_datetime(candle.open_time_ms).isoformat(),
        "close_time": to_datetime(candle.close_time_ms).isoformat(),
        "open_price": to_plain(candle.open),
        "high_price": to_plain(candle.high),
        "low_price": to_plain(candle.low),
        "close_price": to_plain(candle.close),
        "volume": to_plain(candle.volume),
        "quote_volume": to_plain(candle.quote_volume),
        "trades": candle.trades,
        "taker_buy_volume": plain_or_null(candle.taker_buy_volume),
        "taker_buy_quote_volume": plain_or_null(candle.taker_buy_quote_volume),
    }


def ws_candle(market: Market, candle: Candle, *, closed: bool) -> dict[str, Any]:
    return {
        **market_fields(market),
        "symbol": market.symbol,
        "timeframe": candle.timeframe.value,
        "timestamp": candle.open_time_ms,
        "close_time": candle.close_time_ms,
        "open": to_plain(candle.open),
        "high": to_plain(candle.high),
        "low": to_plain(candle.low),
        "close": to_plain(candle.close),
        "volume": to_plain(candle.volume),
        "quote_volume": to_plain(candle.quote_volume),
        "trades": candle.trades,
        "taker_buy_volume": plain_or_null(candle.taker_buy_volume),
        "taker_buy_quote_volume": plain_or_null(candle.taker_buy_quote_volume),
        "closed": closed,
    }
