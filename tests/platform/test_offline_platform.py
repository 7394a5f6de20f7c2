"""`make demo`'s platform: collecting from the project's own Binance-compatible server."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import orjson
import pytest


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return orjson.loads(response.read())


@pytest.mark.slow
def test_offline_platform_serves_collected_candles_and_order_health(
    running_platform: dict[str, Any],
) -> None:
    api = running_platform["endpoints"]["api-server"]
    orders = running_platform["endpoints"]["order-api"]
    deadline = time.monotonic() + 90
    candles: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(candles) < 10:
        candles = _get(f"{api}/candles?symbol=BTCUSDT&timeframe=1H&limit=10")
        time.sleep(1)
    assert len(candles) == 10
    assert candles[0]["timestamp"] > candles[-1]["timestamp"]  # newest first
    assert all(isinstance(candle["close_price"], str) for candle in candles)
    assert _get(f"{api}/symbols")["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert _get(f"{orders}/health")["overall_status"] == "healthy"
