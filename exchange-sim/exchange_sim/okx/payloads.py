"""OKX v5 wire shapes (pure). Amounts come in as integer 1e-8 units of the simulator and
leave as exact decimal strings without trailing zeros ("42000.1", "3"); swap sizes leave as
contracts. `seqId`, `prevSeqId` and `checksum` are the only JSON numbers OKX sends here.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from exchange_sim.candle import UNIT, Candle
from exchange_sim.okx.instruments import Instrument

Level = tuple[int, int]  # (price, size) in 1e-8 units, size in base currency

RATE_LIMITED = {"msg": "Too Many Requests", "code": "50011"}  # the body OKX sends with 429


def plain(units: int) -> str:
    """4_200_010_000_000 -> "42000.1"; 300_000_000 -> "3"."""
    whole, frac = divmod(units, UNIT)
    digits = f"{frac:08d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def amount(inst: Instrument, units: int) -> str:
    """A base-currency amount as OKX sizes it: base for spot, contracts for a swap
    (1.5 BTC at ctVal 0.01 -> "150")."""
    if not inst.swap:
        return plain(units)
    exact = Decimal(units).scaleb(-8) / Decimal(inst.ct_val)
    text = f"{exact:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def envelope(data: list[object]) -> dict[str, object]:
    """{"code":"0","msg":"","data":[...]}"""
    return {"code": "0", "msg": "", "data": data}


def error(code: str, msg: str) -> dict[str, object]:
    """{"code":"51000","msg":"Parameter bar error","data":[]}"""
    return {"code": code, "msg": msg, "data": []}


def server_time(now_ms: int) -> list[object]:
    """[{"ts":"1709980474567"}]"""
    return [{"ts": str(now_ms)}]


def candle_row(inst: Instrument, candle: Candle, confirm: bool) -> list[str]:
    """["1709980440000","67010.5","67021.2","67001","67015.3","120.4311","1.204311",
    "80702.84451","1"] for BTC-USDT-SWAP: ts, o, h, l, c, vol (contracts; base on spot),
    volCcy (base; quote on spot), volCcyQuote (quote), confirm. No trade count."""
    base_ccy = plain(candle.volume)
    quote = plain(candle.quote_volume)
    return [
        str(candle.open_ms),
        plain(candle.open),
        plain(candle.high),
        plain(candle.low),
        plain(candle.close),
        amount(inst, candle.volume),
        base_ccy if inst.swap else quote,
        quote,
        "1" if confirm else "0",
    ]


def instrument(inst: Instrument, list_ms: int) -> dict[str, str]:
    """Spot: {"instType":"SPOT","instId":"BTC-USDT","uly":"","instFamily":"","baseCcy":"BTC",
    "quoteCcy":"USDT","settleCcy":"","ctVal":"","ctMult":"","ctValCcy":"","ctType":"",
    "tickSz":"0.01","lotSz":"0.00000001","minSz":"0.00001","state":"live",...}; swap:
    {"instType":"SWAP","instId":"BTC-USDT-SWAP","uly":"BTC-USDT","instFamily":"BTC-USDT",
    "baseCcy":"","quoteCcy":"","settleCcy":"USDT","ctVal":"0.01","ctMult":"1",
    "ctValCcy":"BTC","ctType":"linear","lotSz":"0.01","minSz":"0.01",...}"""
    spec = inst.spec
    pair = f"{spec.base_asset}-{spec.quote_asset}"
    swap = inst.swap
    return {
        "instType": inst.inst_type,
        "instId": inst.inst_id,
        "uly": pair if swap else "",
        "instFamily": pair if swap else "",
        "baseCcy": "" if swap else spec.base_asset,
        "quoteCcy": "" if swap else spec.quote_asset,
        "settleCcy": spec.quote_asset if swap else "",
        "ctVal": inst.ct_val,
        "ctMult": "1" if swap else "",
        "ctValCcy": spec.base_asset if swap else "",
        "ctType": "linear" if swap else "",
        "optType": "",
        "stk": "",
        "alias": "",
        "category": "1",
        "lever": "100" if swap else "10",
        "listTime": str(list_ms),
        "expTime": "",
        "tickSz": plain(10 ** (8 - spec.decimals)),
        "lotSz": "0.01" if swap else "0.00000001",
        "minSz": "0.01" if swap else "0.00001",
        "maxLmtSz": "100000000" if swap else "9999999999",
        "maxMktSz": "12000" if swap else "1000000",
        "state": "live",
        "ruleType": "normal",
    }


def order_count(price: int, size: int) -> int:
    """Orders resting at a level: made up, but stable for the same level and size."""
    return 1 + (price // 997 + size // 10_007) % 29


def levels(inst: Instrument, side: Iterable[Level]) -> list[list[str]]:
    """[["42000.1","0.8123","0","7"],["41999.8","0","0","0"]]: price, size, the deprecated
    liquidated-orders field (always "0"), order count; size "0" deletes the level."""
    out = []
    for price, size in side:
        count = str(order_count(price, size)) if size else "0"
        out.append([plain(price), amount(inst, size), "0", count])
    return out


def rest_book(asks: list[list[str]], bids: list[list[str]], now_ms: int) -> dict[str, object]:
    """{"asks":[["42000.1","0.8123","0","7"]],"bids":[["42000","1.2044","0","11"]],
    "ts":"1709980474567"}"""
    return {"asks": asks, "bids": bids, "ts": str(now_ms)}


def arg(channel: str, inst_id: str) -> dict[str, str]:
    return {"channel": channel, "instId": inst_id}


def book_push(
    inst_id: str,
    action: str,
    book: dict[str, object],
    checksum: int,
    prev_seq: int,
    seq: int,
) -> dict[str, object]:
    """{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{
    "asks":[["42000.3","0","0","0"]],"bids":[["42000","1.3","0","4"]],"ts":"1709980474667",
    "checksum":0,"prevSeqId":123456,"seqId":123471}]}; a snapshot has "prevSeqId":-1."""
    data = dict(book, checksum=checksum, prevSeqId=prev_seq, seqId=seq)
    return {"arg": arg("books", inst_id), "action": action, "data": [data]}


def candle_push(channel: str, inst_id: str, row: list[str]) -> dict[str, object]:
    """{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1709980440000","67010.5",
    "67021.2","67001","67015.3","1.204311","80702.84451","80702.84451","0"]]}"""
    return {"arg": arg(channel, inst_id), "data": [row]}


def event(
    name: str, channel_arg: dict[str, str], conn_id: str, req_id: str | None
) -> dict[str, object]:
    """{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},
    "connId":"a4d3ae55"} (no "id" when the request had none)."""
    out: dict[str, object] = {} if req_id is None else {"id": req_id}
    out.update(event=name, arg=channel_arg, connId=conn_id)
    return out


def error_event(code: str, msg: str, conn_id: str, req_id: str | None) -> dict[str, object]:
    """{"id":"1512","event":"error","code":"60018","msg":"Wrong URL or channel:books,
    instId:NOPE-USDT doesn't exist...","connId":"a4d3ae55"}"""
    out: dict[str, object] = {} if req_id is None else {"id": req_id}
    out.update(event="error", code=code, msg=msg, connId=conn_id)
    return out
