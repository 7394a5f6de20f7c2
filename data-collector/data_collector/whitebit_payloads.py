"""WhiteBIT payloads -> the collector's kline rows and stream events (pure).

WhiteBIT writes a candle as `[time (s), open, close, high, low, volume, money]` (close before
high and low) over REST and the same plus the market over the WebSocket, with no trade count,
no taker volumes and no closed flag (docs/exchanges/whitebit.md, sections 2, 3.1, 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from data_collector.book_sync import Diff, WireLevel
from data_collector.venue_stream import BookDiff, BookSnapshot
from linkora_core.candles import Candle, LiveCandle
from linkora_core.decimals import parse_decimal
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Exchange, Kind, Market, Venue

WHITEBIT_SPOT: Final = Venue(Exchange.WHITEBIT, Kind.SPOT)


def _seconds(value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a time in whole seconds, got {value!r}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected decimal text, got {value!r}")
    parse_decimal(value)  # refuses what is not a finite decimal
    return value


def kline_row(row: Sequence[object]) -> list[Any]:
    """One REST kline in Binance's 12-field layout (exact text, None where WhiteBIT publishes
    nothing)::

        [1718000040, "67012.15", "67020.01", "67025.40", "67008.00", "1.204391",
         "80712.56100123"]
        -> [1718000040000, "67012.15", "67025.40", "67008.00", "67020.01", "1.204391",
            1718000099999, "80712.56100123", None, None, None, "0"]
    """
    if not isinstance(row, list) or len(row) != 7:
        raise ValueError(f"a WhiteBIT kline has 7 fields: {row!r:.200}")
    open_ms = _seconds(row[0]) * 1000
    if open_ms % MINUTE_MS:
        raise ValueError(f"kline at {row[0]} s is not on a minute")
    o, c, h, low, volume, money = (_text(value) for value in row[1:])
    return [open_ms, o, h, low, c, volume, open_ms + MINUTE_MS - 1, money, None, None, None, "0"]


def kline_rows(body: object) -> list[list[Any]]:
    """`GET /api/v1/public/kline` -> rows in Binance's layout, oldest first::

    {"success": true, "message": null, "result": [
      [1718000040, "67012.15", "67020.01", "67025.40", "67008.00", "1.204391", "80712.56100123"],
      [1718000100, "67020.01", "67016.72", "67031.99", "67011.30", "0.883102", "59181.04411210"]]}
    """
    if not isinstance(body, dict) or body.get("success") is not True:
        raise ValueError(f"kline answer is not a success envelope: {body!r:.200}")
    result = body.get("result")
    if not isinstance(result, list):
        raise ValueError("kline answer without a result list")
    # No source states the order of the rows: sort them rather than trust it.
    return sorted((kline_row(row) for row in result), key=lambda row: int(row[0]))


def server_time_ms(body: object) -> int:
    """`GET /api/v4/public/time` -> milliseconds: `{"time": 1631451591}`."""
    value = body.get("time") if isinstance(body, dict) else None
    return _seconds(value) * 1000


def market_names(body: object) -> list[str]:
    """The spot market names of `GET /api/v4/public/markets`::

    [{"name": "BTC_USDT", "stock": "BTC", "money": "USDT", "stockPrec": "6", "moneyPrec": "2",
      "feePrec": "4", "makerFee": "0.1", "takerFee": "0.1", "minAmount": "0.00001",
      "minTotal": "5", "maxTotal": "10000000000", "tradesEnabled": true,
      "isCollateral": true, "type": "spot"}]
    """
    if not isinstance(body, list):
        raise ValueError("markets answer is not a list")
    names = []
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"market without a name: {item!r:.200}")
        if item.get("type", "spot") == "spot":
            names.append(item["name"])
    return names


def live_candle(market: Market, row: Sequence[object], closed: bool) -> LiveCandle:
    """One `candles_update` row (REST order plus the market), as a 1m candle of `market`::

    [1718000100, "67020.01", "67016.72", "67031.99", "67011.30", "0.883102",
     "59181.04411210", "BTC_USDT"]
    """
    if len(row) != 8:
        raise ValueError(f"a WhiteBIT candle update has 8 fields: {row!r:.200}")
    open_ms = _seconds(row[0]) * 1000
    if open_ms % MINUTE_MS:
        raise ValueError(f"candle at {row[0]} s is not on a minute")
    o, c, h, low, volume, money = (parse_decimal(_text(value)) for value in row[1:7])
    candle = Candle(open_ms, o, h, low, c, volume, money, None, None, None)
    return LiveCandle(market, candle, closed)


@dataclass(eq=False)
class CandleCloser:
    """Turns WhiteBIT's flagless candle updates into open and closed candles: a minute is
    closed, with the last state seen of it, when the first update of a later minute arrives.
    Its state belongs to one connection (what was seen before a reconnect is not trusted)."""

    _open: dict[Market, LiveCandle] = field(default_factory=dict)

    def reset(self) -> None:
        self._open.clear()

    def update(self, live: LiveCandle) -> list[LiveCandle]:
        previous = self._open.get(live.market)
        at = live.candle.open_time_ms
        if previous is not None and at < previous.candle.open_time_ms:
            # A late update of a minute already closed: its newest state, still closed.
            return [LiveCandle(live.market, live.candle, True)]
        self._open[live.market] = live
        if previous is None or previous.candle.open_time_ms == at:
            return [live]
        return [LiveCandle(previous.market, previous.candle, True), live]


def _levels(side: object) -> list[WireLevel]:
    if not isinstance(side, list):
        raise ValueError("book side is not a list")
    out: list[WireLevel] = []
    for level in side:
        if not isinstance(level, list) or len(level) != 2:
            raise ValueError(f"book level is not [price, amount]: {level!r}")
        out.append((_text(level[0]), _text(level[1])))
    return out


def _update_id(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"update ids are integers, got {value!r}")
    return value


def depth_event(params: Sequence[object], market: Market) -> BookSnapshot | BookDiff:
    """The `params` of a `depth_update` push: a snapshot when params[0] is true, else a
    delta chained by `past_update_id`::

    [true, {"timestamp": 1718000123.516447, "update_id": 9120044,
            "event_time": 1718000123.517101, "asks": [["67020.02", "0.412"]],
            "bids": [["67019.99", "0.7312"]]}, "BTC_USDT"]
    [false, {"timestamp": 1718000123.616902, "update_id": 9120051, "past_update_id": 9120044,
             "event_time": 1718000123.617550, "asks": [["67020.02", "0"], ["67021", "0.2"]],
             "bids": [["67019.99", "0.9"]]}, "BTC_USDT"]
    """
    if len(params) != 3 or not isinstance(params[0], bool) or not isinstance(params[1], dict):
        raise ValueError("depth_update params are [full, book, market]")
    body = params[1]
    update_id = _update_id(body["update_id"])
    # A side with no changes may be left out of a delta.
    asks, bids = _levels(body.get("asks", [])), _levels(body.get("bids", []))
    if params[0]:
        return BookSnapshot(market, update_id, bids, asks)
    past = body.get("past_update_id")
    # A delta without the previous id cannot be chained: the book resyncs on it.
    previous = None if past is None else _update_id(past)
    return BookDiff(market, Diff(update_id, update_id, bids, asks, previous_id=previous))


def frame_events(
    data: str | bytes, markets: dict[str, Market], closer: CandleCloser
) -> list[LiveCandle | BookSnapshot | BookDiff]:
    """The events of one `/ws` text frame for the connection's `markets` (by WhiteBIT name);
    replies (subscribe acks, pongs) give none, an error reply raises ValueError::

    {"id": null, "method": "candles_update", "params": [[1718000100, "67020.01", "67016.72",
      "67031.99", "67011.30", "0.883102", "59181.04411210", "BTC_USDT"]]}
    {"id": 0, "result": "pong", "error": null}
    """
    message = orjson.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a frame is a JSON object")
    if message.get("error") is not None:
        raise ValueError(f"error reply to request {message.get('id')}: {message['error']!r}")
    method = message.get("method")
    if method is None:
        return []  # a reply: {"id": 1, "result": {"status": "success"}, "error": null}
    params = message.get("params")
    if not isinstance(params, list):
        raise ValueError(f"{method} without a params list")
    events: list[LiveCandle | BookSnapshot | BookDiff] = []
    if method == "candles_update":
        for row in params:
            if not isinstance(row, list) or len(row) != 8:
                raise ValueError(f"a WhiteBIT candle update has 8 fields: {row!r:.200}")
            market = markets.get(row[7]) if isinstance(row[7], str) else None
            if market is not None:
                events += closer.update(live_candle(market, row, closed=False))
    elif method == "depth_update":
        name = params[2] if len(params) == 3 else None
        market = markets.get(name) if isinstance(name, str) else None
        if market is not None:
            events.append(depth_event(params, market))
    return events
