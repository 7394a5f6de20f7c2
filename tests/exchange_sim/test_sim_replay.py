"""Replaying the shared real ETHUSDT file: the server returns exactly the file's rows."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sim_support import MINUTE, frozen

from exchange_sim import SimServer


def file_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return [row for row in csv.reader(f) if row[0].isdigit()]


def same(served: list[Any], row: list[str]) -> bool:
    ints = (0, 6, 8)
    return all(
        served[i] == int(row[i]) if i in ints else Decimal(served[i]) == Decimal(row[i])
        for i in range(12)
    )


async def page_all(http: aiohttp.ClientSession, sim: SimServer) -> list[list[Any]]:
    out: list[list[Any]] = []
    cursor = 0
    while True:
        params = {"symbol": "ETHUSDT", "interval": "1m", "startTime": str(cursor), "limit": "1000"}
        async with http.get(f"{sim.rest_url}/api/v3/klines", params=params) as resp:
            page = orjson.loads(await resp.read())
        if not page:
            return out
        out.extend(page)
        cursor = page[-1][0] + MINUTE


async def test_replay_serves_exactly_the_rows_of_the_file(
    http: aiohttp.ClientSession, eth_csv: Path
) -> None:
    expected = file_rows(eth_csv)
    async with SimServer(frozen(symbols=(), replay=(eth_csv,))) as sim:
        served = await page_all(http, sim)
        newest_url = f"{sim.rest_url}/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=3"
        async with http.get(newest_url) as resp:
            newest = await resp.json()
    assert len(served) == len(expected) == 8632
    assert all(same(s, r) for s, r in zip(served, expected, strict=True))
    assert all(s[1].count(".") == 1 and len(s[1].split(".")[1]) == 8 for s in served)
    assert [r[0] for r in newest] == [int(r[0]) for r in expected[-3:]]


async def test_replay_keeps_the_files_missing_minutes_missing(
    http: aiohttp.ClientSession, eth_csv: Path
) -> None:
    async with SimServer(frozen(symbols=(), replay=(eth_csv,))) as sim:
        rows = sim.source.klines("ETHUSDT", 1577975940000, 1577976060000)  # 01-02 14:39..14:41
    assert [r[0] for r in rows] == [1577975940000, 1577976060000]


async def test_replay_aggregates_to_binances_own_4h_prices(
    http: aiohttp.ClientSession, eth_csv: Path
) -> None:
    with (eth_csv.parent / "ETHUSDT_4h.csv").open() as f:
        binance_4h = [row for row in csv.reader(f)][1:]
    async with SimServer(frozen(symbols=(), replay=(eth_csv,))) as sim:
        params = {"symbol": "ETHUSDT", "interval": "4h", "startTime": "0", "limit": "1000"}
        async with http.get(f"{sim.rest_url}/api/v3/klines", params=params) as resp:
            ours = await resp.json()
    assert len(ours) == len(binance_4h) == 36
    for mine, theirs in zip(ours, binance_4h, strict=True):
        assert [Decimal(x) for x in mine[1:5]] == [Decimal(x) for x in theirs[1:5]]


async def test_replay_can_be_moved_to_end_at_the_latest_closed_minute(eth_csv: Path) -> None:
    async with SimServer(frozen(symbols=(), replay=(eth_csv,), replay_align_now=True)) as sim:
        now = sim.clock.now_ms()
        last = sim.source.last_candle("ETHUSDT")
    assert last is not None and last.open_ms == now - now % MINUTE - MINUTE
