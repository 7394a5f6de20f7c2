"""ccxt.pro's binance (spot), unchanged but for its URLs and market types, against the spot
simulator: SUBSCRIBE on the plain /ws (ccxt appends a stream index, `/ws/0`), klines equal to
the series, and books kept from `@depth@100ms` plus one REST snapshot under the spot U/u rule.

Only spot markets are loaded: ccxt tells spot from futures frames by `/stream` in the URL
(`stream.binance.com`), which a loopback URL lacks, so with one market per id the frames'
symbols still resolve to the spot markets.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro
import pytest
from sim_support import MINUTE, NOW_MS, frozen

from exchange_sim import SimConfig, SimServer
from exchange_sim.candle import decimal_str
from exchange_sim.stepped_book import Diff, step_of_id

BTC = "BTC/USDT"


@asynccontextmanager
async def pro_client(config: SimConfig) -> AsyncIterator[tuple[SimServer, Any]]:
    async with SimServer(config) as sim:
        host = sim.rest_url.removeprefix("http://")
        exchange = ccxt_pro.binance(
            {
                "urls": {
                    "api": {"public": f"http://{host}/api/v3", "ws": {"spot": f"ws://{host}/ws"}}
                },
                "options": {"fetchMarkets": {"types": ["spot"]}},
            }
        )
        try:
            yield sim, exchange
        finally:
            await exchange.close()


def exact(value: float) -> Decimal:
    """A float ccxt parsed from one of our decimal strings, back as that decimal."""
    return Decimal(repr(value))


def levels(side: list[tuple[int, int]]) -> list[list[Decimal]]:
    return [[Decimal(decimal_str(p)), Decimal(decimal_str(q))] for p, q in side]


def book_of(sim: SimServer, nonce: int) -> Diff:
    return sim.state.books.get("BTCUSDT").snapshot(step_of_id(nonce), 1000)


async def test_watch_ohlcv_closes_minutes_like_rest() -> None:
    start = NOW_MS - NOW_MS % MINUTE + MINUTE - 12_000
    config = frozen(clock_origin_ms=start, clock_speed=60.0, kline_push_interval=0.05)
    async with pro_client(config) as (sim, ex):
        deadline = time.monotonic() + 2.6
        seen: dict[int, list[Any]] = {}
        while time.monotonic() < deadline:
            # ccxt returns the candles updated since the last call; the newest value wins.
            seen.update((c[0], c) for c in await ex.watch_ohlcv(BTC, "1m"))
        now = sim.state.clock.now_ms()
        closed = [c for t, c in sorted(seen.items()) if t + MINUTE <= now - 1_000]
        assert len(closed) >= 2
        rows = sim.source.klines("BTCUSDT", closed[0][0], closed[-1][0])
        assert [[c[0], *map(exact, c[1:6])] for c in closed] == [
            [r[0], *(Decimal(str(v)) for v in r[1:6])] for r in rows
        ]
        assert not any(path.startswith("/fapi/") for path in sim.stats.requests)


async def test_watch_order_book_stays_in_sync_over_many_diffs() -> None:
    async with pro_client(frozen(clock_speed=1.0)) as (sim, ex):
        nonces = []
        for _ in range(12):
            book = await ex.watch_order_book(BTC)
            nonces.append(book["nonce"])
            truth = book_of(sim, book["nonce"])
            assert [[exact(p), exact(q)] for p, q in book["bids"]] == levels(truth.bids)
            assert [[exact(p), exact(q)] for p, q in book["asks"]] == levels(truth.asks)
        assert len(set(nonces)) >= 8  # the book moved through many diff events
        assert sim.stats.requests["/api/v3/depth"] == 1  # one snapshot, then diffs


async def test_watch_order_book_notices_a_skipped_diff_and_resyncs() -> None:
    async with pro_client(frozen(clock_speed=1.0)) as (sim, ex):
        for _ in range(3):
            await ex.watch_order_book(BTC)
        sim.faults.set(skip_diff_next=1)
        with pytest.raises(ccxt.ChecksumError):  # ccxt's spot rule: U == previous u + 1
            for _ in range(10):
                await ex.watch_order_book(BTC)
        book = await ex.watch_order_book(BTC)  # ccxt subscribes again and re-syncs
        truth = book_of(sim, book["nonce"])
        assert [[exact(p), exact(q)] for p, q in book["bids"]] == levels(truth.bids)
        assert sim.stats.requests["/api/v3/depth"] == 2
