"""The simulator's command-line limits of Bybit, OKX and WhiteBIT (what benchmarks set low to
make a collector's budget bind) reach each venue's limiter over HTTP; defaults stay the
documented figures."""

from __future__ import annotations

import aiohttp
import pytest

from exchange_sim import SimServer
from exchange_sim.__main__ import parse_args


async def statuses(http: aiohttp.ClientSession, url: str, times: int) -> list[int]:
    found = []
    for _ in range(times):
        async with http.get(url) as resp:
            await resp.read()
            found.append(resp.status)
    return found


def test_defaults_are_the_documented_limits() -> None:
    _, config = parse_args([])
    assert (config.bybit_ip_limit, config.bybit_ip_window_seconds) == (600, 5.0)
    assert (config.okx_limits, config.okx_window_seconds) == ((), 2.0)
    assert (config.whitebit_kline_limit, config.whitebit_public_limit) == (1000, 2000)
    assert config.whitebit_window_seconds == 10.0


def test_an_unknown_okx_endpoint_or_count_is_refused() -> None:
    for bad in ("klines=3", "history-candles=0", "history-candles"):
        with pytest.raises(SystemExit):
            parse_args(["--okx-limit", bad])


async def test_low_limits_from_the_flags_answer_each_venues_rejection() -> None:
    _, config = parse_args(
        ["--port", "0", "--bybit-ip-limit", "3", "--bybit-ip-window", "60",
         "--okx-limit", "history-candles=2", "--okx-limit", "time=4", "--okx-window", "60",
         "--whitebit-kline-limit", "2", "--whitebit-window", "60"]
    )  # fmt: skip
    async with SimServer(config) as sim, aiohttp.ClientSession() as http:
        base = sim.rest_url
        assert await statuses(http, f"{base}/v5/market/time", 4) == [200] * 3 + [403]
        history = f"{base}/api/v5/market/history-candles?instId=BTC-USDT&bar=1m&limit=5"
        assert await statuses(http, history, 3) == [200, 200, 429]
        assert await statuses(http, f"{base}/api/v5/public/time", 5) == [200] * 4 + [429]
        # Endpoints not named keep the documented figure (candles: 40 per window).
        candles = f"{base}/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=5"
        assert await statuses(http, candles, 3) == [200] * 3
        kline = f"{base}/api/v1/public/kline?market=BTC_USDT&interval=1m&limit=1"
        assert await statuses(http, kline, 3) == [200, 200, 429]
        assert await statuses(http, f"{base}/api/v4/public/time", 3) == [200] * 3
        async with http.get(f"{base}/_sim/okx/stats") as resp:
            okx = await resp.json()
        async with http.get(f"{base}/_sim/whitebit/stats") as resp:
            whitebit = await resp.json()
    assert okx["rejected"] == {"/api/v5/market/history-candles": 1, "/api/v5/public/time": 1}
    assert whitebit["rejected"] == {"kline": 1}
    assert whitebit["limits"]["kline"] == 2 and whitebit["limits"]["window"] == 60.0
    assert sim.stats.bybit_rate_limited == 1
