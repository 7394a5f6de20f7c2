"""The TradingView UDF datafeed over the same candles."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import httpx
from api_helpers import minute, spot, store_minutes

from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


async def test_history_serves_exact_bars_by_range_and_by_countback(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    minutes = [
        minute(BASE + i * MINUTE_MS, "0.00000005", "0.1", "0.00000001", "0.05") for i in range(180)
    ]
    await store_minutes(clean_db, "BTCUSDT", minutes)
    await roll_market(clean_db, spot("BTCUSDT"))
    start = BASE // 1000
    response = await client.get(
        f"/udf/history?symbol=BTCUSDT&resolution=60&from={start}&to={start + 7200}"
    )
    assert response.text == (
        f'{{"s":"ok","t":[{start},{start + 3600}],"o":[0.00000005,0.00000005],'
        '"h":[0.1,0.1],"l":[0.00000001,0.00000001],"c":[0.05,0.05],"v":[60,60]}'
    )
    back = (
        await client.get(
            f"/udf/history?symbol=BTCUSDT&resolution=60&to={start + 10_800}&countback=2"
        )
    ).json()
    assert back["t"] == [start + 3600, start + 7200]
    day = f"/udf/history?symbol=BTCUSDT&resolution=1D&from={start + 86_400}"
    later = (await client.get(f"{day}&to={start + 2 * 86_400}")).json()
    assert later == {"s": "no_data", "nextTime": start}
    bad = await client.get("/udf/history?symbol=BTCUSDT&resolution=7")
    assert bad.status_code == 400 and bad.json()["s"] == "error"


async def test_config_symbols_search_and_time(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_minutes(clean_db, "ETHUSDT", [minute(BASE, "1", "1", "1", "1")])
    config = (await client.get("/udf/config")).json()
    assert "1M" in config["supported_resolutions"] and config["supports_search"]
    info = (await client.get("/udf/symbols?symbol=ethusdt")).json()
    assert info["ticker"] == "ETHUSDT" and info["session"] == "24x7"
    assert (await client.get("/udf/symbols?symbol=NOPE")).status_code == 404
    assert [s["symbol"] for s in (await client.get("/udf/search?query=eth")).json()] == ["ETHUSDT"]
    assert int((await client.get("/udf/time")).text) > 1_700_000_000


async def test_config_without_order_markets_is_byte_for_byte_the_earlier_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/udf/config")
    assert response.content == (
        b'{"supported_resolutions":["1","3","5","15","30","45","60","120","180","240","1D",'
        b'"1W","1M"],"supports_group_request":false,"supports_marks":false,'
        b'"supports_search":true,"supports_timescale_marks":false,"supports_time":true,'
        b'"exchanges":[{"value":"","name":"All","desc":""}],'
        b'"symbols_types":[{"name":"crypto","value":"crypto"}]}'
    )
