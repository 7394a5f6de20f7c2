"""USDⓈ-M WebSocket payloads (pure).

Diff event (partial books have the same shape, with the top N levels):
    {"e":"depthUpdate","E":1704067200321,"T":1704067200300,"s":"BTCUSDT",
     "U":681216001,"u":681216012,"pu":681215987,
     "b":[["41999.99000000","0.04700000"]],"a":[["42000.05000000","0"]]}
Continuous kline:
    {"e":"continuous_kline","E":...,"ps":"BTCUSDT","ct":"PERPETUAL","k":{... no "s" ...}}
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange_sim.candle import Candle
from exchange_sim.events import kline_event, levels
from exchange_sim.futures.book import Level

__all__ = ["continuous_kline_event", "depth_event", "levels"]


def depth_event(
    symbol: str,
    *,
    now_ms: int,
    engine_ms: int,
    first: int,
    last: int,
    previous: int,
    bids: Sequence[Level],
    asks: Sequence[Level],
) -> dict[str, object]:
    return {
        "e": "depthUpdate",
        "E": now_ms,
        "T": engine_ms,
        "s": symbol,
        "U": first,
        "u": last,
        "pu": previous,
        "b": levels(bids),
        "a": levels(asks),
    }


def continuous_kline_event(
    pair: str, interval: str, candle: Candle, closed: bool, now_ms: int
) -> dict[str, object]:
    event = kline_event(pair, interval, candle, closed, now_ms)
    k = event["k"]
    assert isinstance(k, dict)
    del k["s"]
    return {"e": "continuous_kline", "E": now_ms, "ps": pair, "ct": "PERPETUAL", "k": k}
