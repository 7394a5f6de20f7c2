"""WebSocket stream names and the payloads pushed on them (pure).

Kline event sample (Binance shape):
    {"e":"kline","E":1704067201000,"s":"BTCUSDT","k":{"t":1704067200000,"T":1704067259999,
     "s":"BTCUSDT","i":"1m","f":28401120000,"L":28401120126,"o":"42000.00000000",
     "c":"41959.63000000","h":"42000.44000000","l":"41941.86000000","v":"6.44841269",
     "n":127,"x":false,"q":"270647.29627389","V":"1.68767050","Q":"70833.47207168","B":"0"}}
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from exchange_sim.candle import Candle, decimal_str
from exchange_sim.intervals import MINUTE_MS, close_ms, is_interval
from exchange_sim.stepped_book import Level

DEPTH_LEVELS = (5, 10, 20)
TRADE_IDS_PER_MINUTE = 10_000


class StreamError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Stream:
    name: str  # as the client wrote it, echoed in combined messages
    symbol: str  # upper case
    kind: str  # "kline", "depth" (a partial book) or "diff" (diff depth)
    interval: str = "1m"
    levels: int = 0
    speed_ms: int = 1000


def parse_stream(name: str, symbols: Collection[str]) -> Stream:
    """ "btcusdt@kline_1m", "ethusdt@depth20@100ms", "ethusdt@depth5", "btcusdt@depth@100ms"
    -> Stream (depth streams push every 1000 ms unless `@100ms`)."""
    parts = name.split("@")
    if len(parts) not in (2, 3) or not parts[0]:
        raise StreamError(f"Invalid stream name {name!r}")
    symbol = parts[0].upper()
    if parts[0] != parts[0].lower() or symbol not in symbols:
        raise StreamError(f"Invalid symbol in stream {name!r}")
    kind = parts[1]
    if kind.startswith("kline_") and len(parts) == 2:
        interval = kind.removeprefix("kline_")
        if not is_interval(interval):
            raise StreamError(f"Invalid interval in stream {name!r}")
        return Stream(name, symbol, "kline", interval=interval)
    if kind.startswith("depth"):
        speed = parts[2] if len(parts) == 3 else "1000ms"
        if speed not in ("100ms", "1000ms"):
            raise StreamError(f"Invalid update speed in stream {name!r}")
        if kind == "depth":
            return Stream(name, symbol, "diff", speed_ms=int(speed[:-2]))
        if kind[5:].isdigit() and int(kind[5:]) in DEPTH_LEVELS:
            return Stream(name, symbol, "depth", levels=int(kind[5:]), speed_ms=int(speed[:-2]))
    raise StreamError(f"Unsupported stream {name!r}")


def kline_event(
    symbol: str, interval: str, candle: Candle, closed: bool, now_ms: int
) -> dict[str, object]:
    first = candle.open_ms // MINUTE_MS * TRADE_IDS_PER_MINUTE if candle.trades else -1
    last = first + candle.trades - 1 if candle.trades else -1
    return {
        "e": "kline",
        "E": now_ms,
        "s": symbol,
        "k": {
            "t": candle.open_ms,
            "T": close_ms(interval, candle.open_ms),
            "s": symbol,
            "i": interval,
            "f": first,
            "L": last,
            "o": decimal_str(candle.open),
            "c": decimal_str(candle.close),
            "h": decimal_str(candle.high),
            "l": decimal_str(candle.low),
            "v": decimal_str(candle.volume),
            "n": candle.trades,
            "x": closed,
            "q": decimal_str(candle.quote_volume),
            "V": decimal_str(candle.taker_base),
            "Q": decimal_str(candle.taker_quote),
            "B": "0",
        },
    }


def levels(side: Sequence[Level]) -> list[list[str]]:
    return [[decimal_str(p), decimal_str(q) if q else "0"] for p, q in side]


def depth_event(
    symbol: str, *, now_ms: int, first: int, last: int, bids: Sequence[Level], asks: Sequence[Level]
) -> dict[str, object]:
    """A spot `<symbol>@depth[@100ms]` event: the levels updated between ids U and u::

    {"e":"depthUpdate","E":1704067200321,"s":"BTCUSDT","U":681216001,"u":681216012,
     "b":[["41999.99000000","0.04700000"]],"a":[["42000.05000000","0"]]}
    """
    return {"e": "depthUpdate", "E": now_ms, "s": symbol, "U": first, "u": last,
            "b": levels(bids), "a": levels(asks)}  # fmt: skip


def combined(stream: str, data: object) -> dict[str, object]:
    return {"stream": stream, "data": data}


def server_shutdown(now_ms: int) -> dict[str, object]:
    return {"e": "serverShutdown", "E": now_ms}
