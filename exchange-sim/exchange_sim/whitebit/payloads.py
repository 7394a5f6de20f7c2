"""WhiteBIT wire shapes (pure). Amounts come in as integer 1e-8 units and leave as exact
decimal strings without trailing zeros ("67012.15", "1"), as WhiteBIT prints them; times are
Unix seconds (integers for candles, the server time and REST books; floats on WS books).
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange_sim.candle import UNIT, Candle
from exchange_sim.config import SymbolSpec

Level = tuple[int, int]  # (price, amount) in 1e-8 units


def plain(units: int) -> str:
    """6_701_215_000_000 -> "67012.15"; 100_000_000 -> "1"."""
    whole, frac = divmod(units, UNIT)
    digits = f"{frac:08d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def kline_row(candle: Candle) -> list[int | str]:
    """[1718000040,"67012.15","67020.01","67025.4","67008","1.204391","80712.56100123"]:
    time (s), open, close, high, low, volume (stock), volume (money). Close before high."""
    return [
        candle.open_ms // 1000,
        plain(candle.open),
        plain(candle.close),
        plain(candle.high),
        plain(candle.low),
        plain(candle.volume),
        plain(candle.quote_volume),
    ]


def ws_kline_row(candle: Candle, market: str) -> list[int | str]:
    """The REST row plus the market:
    [1718000100,"67020.01","67016.72","67031.99","67011.3","0.883102","59181.0441121","BTC_USDT"]
    """
    return [*kline_row(candle), market]


def v1_ok(result: object) -> dict[str, object]:
    """{"success":true,"message":null,"result":[...]}"""
    return {"success": True, "message": None, "result": result}


def v1_invalid(field: str, text: str, result: object) -> dict[str, object]:
    """A parameter error as ccxt has recorded them:
    {"success":false,"message":{"market":["Market is not available"]},"result":[]}"""
    return {"success": False, "message": {field: [text]}, "result": result}


def plain_error(text: str) -> dict[str, object]:
    """The documented public error body: {"success":false,"message":"ERROR MESSAGE","params":[]}"""
    return {"success": False, "message": text, "params": []}


def market_info(spec: SymbolSpec, name: str) -> dict[str, object]:
    """One item of GET /api/v4/public/markets:
    {"name":"BTC_USDT","stock":"BTC","money":"USDT","stockPrec":"6","moneyPrec":"2",
     "feePrec":"4","makerFee":"0.1","takerFee":"0.1","minAmount":"0.00001","minTotal":"5",
     "maxTotal":"10000000000","tradesEnabled":true,"isCollateral":true,"type":"spot"}
    Fees are percents, as recent ccxt reads them (it divides by 100)."""
    return {
        "name": name,
        "stock": spec.base_asset,
        "money": spec.quote_asset,
        "stockPrec": "8",  # the simulator's volumes carry 8 decimals
        "moneyPrec": str(spec.decimals),
        "feePrec": "4",
        "makerFee": "0.1",
        "takerFee": "0.1",
        "minAmount": "0.00001",
        "minTotal": "5",
        "maxTotal": "10000000000",
        "tradesEnabled": True,
        "isCollateral": False,
        "type": "spot",
    }


def asset_info(ticker: str) -> dict[str, object]:
    """One value of GET /api/v4/public/assets (keyed by ticker):
    {"name":"Bitcoin","unified_cryptoasset_id":1,"can_withdraw":true,"can_deposit":true,
     "min_withdraw":"0.0003","max_withdraw":"0","maker_fee":"0.1","taker_fee":"0.1",
     "min_deposit":"0.0001","max_deposit":"0","networks":{"deposits":["BTC"],
     "withdraws":["BTC"],"default":"BTC"},"confirmations":{"BTC":2},"limits":{...},
     "currency_precision":8,"is_memo":false}"""
    return {
        "name": ticker,
        "unified_cryptoasset_id": 0,
        "can_withdraw": True,
        "can_deposit": True,
        "min_withdraw": "0.0001",
        "max_withdraw": "0",
        "maker_fee": "0.1",
        "taker_fee": "0.1",
        "min_deposit": "0.0001",
        "max_deposit": "0",
        "networks": {"deposits": [ticker], "withdraws": [ticker], "default": ticker},
        "confirmations": {ticker: 2},
        "limits": {
            "deposit": {ticker: {"min": "0.0001"}},
            "withdraw": {ticker: {"min": "0.0001"}},
        },
        "currency_precision": 8,
        "is_memo": False,
    }


def levels(side: Iterable[Level]) -> list[list[str]]:
    """[["67020.02","0.412"],["67021","0"]]"""
    return [[plain(p), plain(q)] for p, q in side]


def rest_book(
    market: str, now_s: int, asks: Iterable[Level], bids: Iterable[Level]
) -> dict[str, object]:
    """GET /api/v4/public/orderbook/{market}:
    {"ticker_id":"BTC_USDT","timestamp":1718000123,"asks":[["67020.02","0.412"]],
     "bids":[["67019.99","0.7312"]]}"""
    return {"ticker_id": market, "timestamp": now_s, "asks": levels(asks), "bids": levels(bids)}


def depth_snapshot(
    now_ms: int, update_id: int, asks: Iterable[Level], bids: Iterable[Level]
) -> dict[str, object]:
    """params[1] of a full depth_update:
    {"timestamp":1718000123.516,"update_id":9120044,"asks":[["67020.02","0.412"]],
     "bids":[["67019.99","0.7312"]],"event_time":1718000123.517}"""
    return {
        "timestamp": now_ms / 1000,
        "update_id": update_id,
        "asks": levels(asks),
        "bids": levels(bids),
        "event_time": (now_ms + 1) / 1000,
    }


def depth_delta(
    now_ms: int, update_id: int, past: int, asks: Iterable[Level], bids: Iterable[Level]
) -> dict[str, object]:
    """params[1] of a partial depth_update ("0" deletes a price):
    {"timestamp":1718000123.616,"update_id":9120051,"past_update_id":9120044,
     "asks":[["67020.02","0"],["67021","0.2"]],"bids":[["67019.99","0.9"]],
     "event_time":1718000123.617}"""
    return {
        "timestamp": now_ms / 1000,
        "update_id": update_id,
        "past_update_id": past,
        "asks": levels(asks),
        "bids": levels(bids),
        "event_time": (now_ms + 1) / 1000,
    }


def push(method: str, params: list[object]) -> dict[str, object]:
    """{"id":null,"method":"candles_update","params":[[...]]}"""
    return {"id": None, "method": method, "params": params}


def reply(ident: object, result: object) -> dict[str, object]:
    """{"id":1,"result":{"status":"success"},"error":null}; ping: "result":"pong"."""
    return {"id": ident, "result": result, "error": None}


def ws_error(ident: object, code: int, text: str) -> dict[str, object]:
    """{"id":1,"result":null,"error":{"code":1,"message":"invalid argument"}}"""
    return {"id": ident, "result": None, "error": {"code": code, "message": text}}


SUBSCRIBED: dict[str, str] = {"status": "success"}
