"""Every invalid /candles, /orderbook and /price parameter is a 400 with the known string."""

from __future__ import annotations

import httpx
import pytest

TIMEFRAMES = "['1', '3', '5', '15', '30', '45', '1H', '2H', '3H', '4H', '1D', '1W', '1M']"


_CANDLES_CASES = [
    ("", "symbol parameter is required"),
    ("symbol=", "symbol parameter is required"),
    ("symbol=BTCUSDT&timeframe=2", f"Invalid timeframe. Supported: {TIMEFRAMES}"),
    ("symbol=BTCUSDT&timeframe=1h", f"Invalid timeframe. Supported: {TIMEFRAMES}"),
    ("symbol=BTCUSDT&limit=0", "limit must be between 1 and 5000"),
    ("symbol=BTCUSDT&limit=5001", "limit must be between 1 and 5000"),
    ("symbol=BTCUSDT&limit=-3", "limit must be between 1 and 5000"),
    ("symbol=BTCUSDT&limit=abc", "limit must be an integer"),
    ("symbol=BTCUSDT&limit=1.5", "limit must be an integer"),
    ("symbol=BTCUSDT&limit=99999999999999999999", "limit must be an integer"),
    ("symbol=BTCUSDT&start_date=yesterday", "Invalid start_date format"),
    ("symbol=BTCUSDT&start_date=2024-13-01", "Invalid start_date format"),
    ("symbol=BTCUSDT&end_date=2024-01-01T25:00", "Invalid end_date format"),
    ("symbol=BTC';DROP TABLE candles;--", "Invalid symbol"),
]
_ORDERBOOK_CASES = [
    ("", "symbol parameter is required"),
    ("symbol=BTCUSDT&levels=abc", "levels must be an integer"),
    ("symbol=BTCUSDT&levels=7", "Invalid levels. Supported: [5, 10, 20]"),
]


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        *(("/candles", query, message) for query, message in _CANDLES_CASES),
        *(("/orderbook", query, message) for query, message in _ORDERBOOK_CASES),
    ],
)
async def test_candles_and_orderbook_reject_bad_parameters_with_the_known_error(
    client: httpx.AsyncClient, path: str, query: str, message: str
) -> None:
    response = await client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert response.headers["content-type"] == "application/json"


async def test_price_rejects_a_bad_timeframe(client: httpx.AsyncClient) -> None:
    response = await client.get("/price?symbol=BTCUSDT&timeframe=7")
    assert response.status_code == 400
    assert response.json() == {"error": f"Invalid timeframe. Supported: {TIMEFRAMES}"}


async def test_unknown_symbol_is_an_empty_list_and_unknown_path_a_404(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/candles?symbol=nosuch")).json() == []
    assert (await client.get("/nothing-here")).status_code == 404


async def test_start_date_accepts_z_offsets_dates_and_an_unencoded_plus(
    client: httpx.AsyncClient,
) -> None:
    for value in (
        "2024-01-01T00:00:00Z",
        "2024-01-01",
        "2024-01-01T00:00:00 00:00",
        "2024-01-01T00:00:00%2B02:00",
    ):
        response = await client.get(f"/candles?symbol=BTCUSDT&start_date={value}")
        assert response.status_code == 200, value
