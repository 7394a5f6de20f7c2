"""The closed candles the collector announces to other applications (issue 18) are the
candles REST /candles serves: minutes written live, a few per write as the live store flushes
them, announce every bucket they close in every timeframe, and each message equals the
bucket REST answers for it, exactly (placeholders, gaps across weeks and months)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
from api_helpers import as_decimals, db_examples, minute_series, reference_candles, spot
from hypothesis import given
from hypothesis import strategies as st

from data_collector import candle_writes
from linkora_core.candles import Candle, LiveCandle
from linkora_core.timeframes import Timeframe

SYMBOL = "ANNOUSDT"
_PAIRS = {
    "open_price": "open", "high_price": "high", "low_price": "low", "close_price": "close",
    "volume": "volume", "quote_volume": "quote_volume", "trades": "trades",
    "taker_buy_volume": "taker_buy_volume", "taker_buy_quote_volume": "taker_buy_quote_volume",
}  # fmt: skip


def as_rest(body: dict[str, Any]) -> dict[str, object]:
    """A kline message's candle under REST's names, decimals parsed (plain strings only)."""
    out: dict[str, object] = {"timestamp": body["timestamp"]}
    for rest_name, name in _PAIRS.items():
        value = body[name]
        if isinstance(value, str):
            assert "E" not in value and "e" not in value, value
            value = Decimal(value)
        out[rest_name] = value
    return out


async def rest_candles(client: httpx.AsyncClient, timeframe: Timeframe) -> list[dict[str, object]]:
    params = {"symbol": SYMBOL, "timeframe": timeframe.value, "limit": 5000}
    response = await client.get("/candles", params={**params, "start_date": "2000-01-01"})
    assert response.status_code == 200
    return [as_decimals(candle) for candle in response.json()]


@db_examples(6)
@given(series=minute_series(), batch=st.integers(1, 7))
async def test_every_announced_bucket_is_the_rest_candle_of_that_bucket(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool, series: list[Candle], batch: int
) -> None:
    await clean_db.execute("TRUNCATE candles, candle_rollups, candle_changes, outbox")
    market = spot(SYMBOL)
    async with clean_db.acquire() as connection:
        for i in range(0, len(series), batch):
            minutes = [LiveCandle(market, m, True) for m in series[i : i + batch]]
            await candle_writes.upsert_live(connection, minutes, tuple(Timeframe))
    rows = await clean_db.fetch("SELECT routing_key, body FROM outbox ORDER BY id")
    announced: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        announced.setdefault(row["routing_key"].rsplit(".", 1)[1], []).append(
            orjson.loads(row["body"])
        )
    last_end = series[-1].open_time_ms + 60_000
    for timeframe in Timeframe:
        served = await rest_candles(client, timeframe)
        # Every bucket ended by the newest minute is announced once, in order, as served.
        closed = [c for c in served if timeframe.next_start(int(str(c["timestamp"]))) <= last_end]
        got = [as_rest(body) for body in announced.get(timeframe.value, [])]
        assert got == closed, timeframe
        assert closed == [
            c
            for c in reference_candles(series, timeframe.value)
            if timeframe.next_start(int(str(c["timestamp"]))) <= last_end
        ]
