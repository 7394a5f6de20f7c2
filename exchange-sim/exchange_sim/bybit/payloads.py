"""Bybit v5 wire shapes (pure). Amounts come in as integer 1e-8 units and leave as exact
decimal strings without trailing zeros ("67010.5", "2"), as Bybit prints them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exchange_sim.candle import UNIT, Candle
from exchange_sim.config import SymbolSpec

Level = tuple[int, int]  # (price, size) in 1e-8 units


def plain(units: int) -> str:
    """12_345_000_000 -> "123.45"; 200_000_000 -> "2"."""
    whole, frac = divmod(units, UNIT)
    digits = f"{frac:08d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def envelope(result: object, now_ms: int, code: int = 0, msg: str = "OK") -> dict[str, object]:
    """Every REST reply:
    {"retCode":0,"retMsg":"OK","result":{...},"retExtInfo":{},"time":1718000000123}
    """
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def server_time(now_ms: int) -> dict[str, str]:
    """{"timeSecond":"1718000000","timeNano":"1718000000123000000"}"""
    return {"timeSecond": str(now_ms // 1000), "timeNano": str(now_ms * 1_000_000)}


def kline_row(candle: Candle) -> list[str]:
    """["1718000040000","67010.5","67021.2","67001","67015.3","1.204311","80702.84451"]:
    start, open, high, low, close, volume (base), turnover (quote). No trade count."""
    return [
        str(candle.open_ms),
        plain(candle.open),
        plain(candle.high),
        plain(candle.low),
        plain(candle.close),
        plain(candle.volume),
        plain(candle.quote_volume),
    ]


def kline_page(category: str, symbol: str, candles: Sequence[Candle]) -> dict[str, object]:
    """{"category":"spot","symbol":"BTCUSDT","list":[<rows, newest first>]}"""
    return {
        "category": category,
        "symbol": symbol,
        "list": [kline_row(c) for c in reversed(candles)],
    }


def ws_kline(
    candle: Candle, interval: str, end_ms: int, confirm: bool, now_ms: int
) -> dict[str, object]:
    """One item of a kline push's `data`:
    {"start":1718000000000,"end":1718000059999,"interval":"1","open":"66998.1",
     "close":"67010.5","high":"67012","low":"66990.4","volume":"2.019874",
     "turnover":"135317.90122","confirm":true,"timestamp":1718000059987}
    """
    return {
        "start": candle.open_ms,
        "end": end_ms,
        "interval": interval,
        "open": plain(candle.open),
        "close": plain(candle.close),
        "high": plain(candle.high),
        "low": plain(candle.low),
        "volume": plain(candle.volume),
        "turnover": plain(candle.quote_volume),
        "confirm": confirm,
        "timestamp": min(now_ms, end_ms),
    }


def topic_push(topic: str, now_ms: int, data: object, kind: str = "snapshot") -> dict[str, object]:
    """{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":1718000059987,"data":[...]}"""
    return {"topic": topic, "type": kind, "ts": now_ms, "data": data}


def levels(side: Iterable[Level]) -> list[list[str]]:
    """[["67010.4","1.052"],["67010.3","0"]]"""
    return [[plain(p), plain(q)] for p, q in side]


def book_data(
    symbol: str, bids: Iterable[Level], asks: Iterable[Level], u: int, seq: int
) -> dict[str, object]:
    """{"s":"BTCUSDT","b":[["67010.4","1.052"]],"a":[["67010.5","0.83"]],"u":18521288,
    "seq":71234458110}"""
    return {"s": symbol, "b": levels(bids), "a": levels(asks), "u": u, "seq": seq}


def book_push(
    topic: str, kind: str, now_ms: int, data: dict[str, object], cts: int
) -> dict[str, object]:
    """{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1718000060035,
    "data":{"s":"BTCUSDT","b":[["67010.3","0"]],"a":[],"u":18521289,"seq":71234458160},
    "cts":1718000060021}"""
    return {"topic": topic, "type": kind, "ts": now_ms, "data": data, "cts": cts}


def spot_instrument(spec: SymbolSpec) -> dict[str, object]:
    """{"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","innovation":"0",
    "status":"Trading","marginTrading":"none","lotSizeFilter":{"basePrecision":"0.000001",
    "quotePrecision":"0.00000001","minOrderQty":"0.000048","maxOrderQty":"71.73956243",
    "minOrderAmt":"1","maxOrderAmt":"2000000"},"priceFilter":{"tickSize":"0.01"}}"""
    return {
        "symbol": spec.symbol,
        "baseCoin": spec.base_asset,
        "quoteCoin": spec.quote_asset,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "none",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.00000001",
            "minOrderQty": "0.000001",
            "maxOrderQty": "9000",
            "minOrderAmt": "1",
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": _tick(spec)},
    }


def linear_instrument(spec: SymbolSpec, launch_ms: int) -> dict[str, object]:
    """{"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading",
    "baseCoin":"BTC","quoteCoin":"USDT","settleCoin":"USDT","launchTime":"1585526400000",
    "priceScale":"2","priceFilter":{"minPrice":"0.10","maxPrice":"1999999.80",
    "tickSize":"0.10"},"lotSizeFilter":{"maxOrderQty":"1190.000","minOrderQty":"0.001",
    "qtyStep":"0.001","minNotionalValue":"5"}, ...}"""
    tick = _tick(spec)
    return {
        "symbol": spec.symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": spec.base_asset,
        "quoteCoin": spec.quote_asset,
        "settleCoin": spec.quote_asset,
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(spec.decimals),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": tick, "maxPrice": "1999999.8", "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": "1190",
            "minOrderQty": "0.001",
            "qtyStep": "0.001",
            "postOnlyMaxOrderQty": "1190",
            "maxMktOrderQty": "119",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "copyTrading": "none",
        "isPreListing": False,
    }


def instruments(category: str, items: list[dict[str, object]]) -> dict[str, object]:
    """{"category":"linear","nextPageCursor":"","list":[...]}"""
    return {"category": category, "nextPageCursor": "", "list": items}


def op_reply(
    op: str,
    conn_id: str,
    req_id: object,
    *,
    success: bool = True,
    ret_msg: str = "",
    with_req_id: bool = True,
) -> dict[str, object]:
    """Subscribe ack, spot: {"success":true,"ret_msg":"subscribe","conn_id":"2324d924-...",
    "req_id":"k1","op":"subscribe"}; linear has "ret_msg":"". Pong:
    {"success":true,"ret_msg":"pong","conn_id":"465772b1-...","req_id":"","op":"ping"}."""
    out: dict[str, object] = {"success": success, "ret_msg": ret_msg, "conn_id": conn_id}
    if with_req_id:
        out["req_id"] = req_id
    out["op"] = op
    return out


def _tick(spec: SymbolSpec) -> str:
    return plain(10 ** (8 - spec.decimals))
