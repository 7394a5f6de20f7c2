"""A database filled before the market dimension existed (schema through 0012) migrates in
place, and every REST response the API gave before is byte-identical after.

The expected bodies (`wire_before_markets.json`) were recorded from the code of 2026-12-03,
before the migration was written (`LINKORA_RECORD_WIRE=1` records them again: only do that
on purpose). The seed is plain SQL against the old tables, so it keeps describing what an old
database holds whatever the current code writes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from starlette.applications import Starlette

from linkora_core.candles import Candle
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.migrations import apply_migrations
from linkora_core.rollup_passes import roll_market
from tests.golden import eth_minutes
from tests.http_checks import asgi_client

GOLDEN = Path(__file__).with_name("wire_before_markets.json")
LAST_OLD_VERSION = 12
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000
FIRST_ETH_MS = 1_577_836_800_000  # 2020-01-01, the golden file's first minute

REQUESTS = [
    "/symbols",
    *(
        f"/candles?symbol={symbol}&timeframe={timeframe}&limit={limit}"
        for symbol in ("ETHUSDT", "btcusdt")
        for timeframe in ("1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M")
        for limit in (3, 60)
    ),
    "/candles?symbol=ETHUSDT&timeframe=1H&limit=50&start_date=2020-01-03T05:00:00Z",
    "/candles?symbol=ETHUSDT&timeframe=45&limit=20&start_date=2020-01-10T00:00:00Z",
    "/candles?symbol=ETHUSDT&timeframe=1D&start_date=2020-01-05",
    "/candles?symbol=XRPUSDT&timeframe=1H",
    "/candles?timeframe=1H",
    "/candles?symbol=ETHUSDT&timeframe=7",
    "/candles?symbol=ETHUSDT&limit=0",
    *(f"/price?symbol=ETHUSDT&timeframe={tf}" for tf in ("1", "5", "1H", "4H", "1D", "1W")),
    "/price?symbol=BTCUSDT&timeframe=1",
    "/orderbook?symbol=ETHUSDT",
    "/orderbook?symbol=ETHUSDT&levels=5",
    "/orderbook?symbol=BTCUSDT",
    "/orderbook?symbol=ETHUSDT&levels=7",
    "/udf/config",
    "/udf/symbols?symbol=ETHUSDT",
    "/udf/search?query=ETH&limit=5",
    "/udf/history?symbol=ETHUSDT&resolution=60&from=1578000000&to=1578100000",
    "/udf/history?symbol=ETHUSDT&resolution=1D&from=1577836800&to=1580515200",
    "/udf/history?symbol=ETHUSDT&resolution=5&from=1500000000&to=1500100000",
]


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _old_candle_row(symbol: str, candle: Candle, closed: bool) -> tuple[object, ...]:
    return (
        symbol, _at(candle.open_time_ms), candle.open, candle.high, candle.low, candle.close,
        candle.volume, candle.quote_volume, candle.trades, candle.taker_buy_volume,
        candle.taker_buy_quote_volume, closed,
    )  # fmt: skip


async def _seed_old_schema(connection: asyncpg.Connection) -> None:
    """What a database of the single-market platform holds: minutes of two symbols (the last
    BTCUSDT one still open), a stored book, collector state and a recorded gap."""
    eth = eth_minutes()[: 12 * 1440]
    btc = [
        Candle(
            open_time_ms=FIRST_ETH_MS + i * 60_000,
            open=Decimal("7195.24") + i,
            high=Decimal("7196.25") + i,
            low=Decimal("7183.14") + i,
            close=Decimal("7186.68") + i,
            volume=Decimal("51.642812") if i % 7 else Decimal(0),
            quote_volume=Decimal("371283.51") if i % 7 else Decimal(0),
            trades=i % 7 * 3,
            taker_buy_volume=Decimal("12.5") if i % 7 else Decimal(0),
            taker_buy_quote_volume=Decimal("89912.7") if i % 7 else Decimal(0),
        )
        for i in range(200)
    ]
    await connection.copy_records_to_table(
        "candles",
        columns=[
            "symbol",
            "open_time",
            "open_price",
            "high_price",
            "low_price",
            "close_price",
            "volume",
            "quote_volume",
            "trades",
            "taker_buy_volume",
            "taker_buy_quote_volume",
            "is_closed",
        ],
        records=[_old_candle_row("ETHUSDT", c, True) for c in eth]
        + [_old_candle_row("BTCUSDT", c, i < len(btc) - 1) for i, c in enumerate(btc)],
    )
    await connection.execute(
        "INSERT INTO orderbook_data (symbol, captured_at, last_update_id, bid_prices,"
        " bid_quantities, ask_prices, ask_quantities) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        "ETHUSDT", _at(FIRST_ETH_MS + 12 * DAY_MS - 1500), 4_201_337,
        [Decimal("130.77") - Decimal("0.01") * i for i in range(20)],
        [Decimal("1.5") + i for i in range(20)],
        [Decimal("130.78") + Decimal("0.01") * i for i in range(20)],
        [Decimal("0.25") * (i + 1) for i in range(20)],
    )  # fmt: skip
    await connection.execute(
        "INSERT INTO collector_state (symbol, phase, last_closed_minute, listed_at,"
        " backfill_done, backfill_total) VALUES ($1, 'realtime', $2, $3, 17280, 17280),"
        " ($4, 'backfill', $5, $3, 199, 400)",
        "ETHUSDT", _at(FIRST_ETH_MS + 12 * DAY_MS - 60_000), _at(FIRST_ETH_MS),
        "BTCUSDT", _at(FIRST_ETH_MS + 198 * 60_000),
    )  # fmt: skip
    await connection.execute(
        "INSERT INTO candle_gaps (symbol, gap_start, gap_end) VALUES ($1, $2, $3)",
        "ETHUSDT", _at(FIRST_ETH_MS + 3 * DAY_MS), _at(FIRST_ETH_MS + 3 * DAY_MS + 600_000),
    )  # fmt: skip


@pytest.fixture
async def old_database(empty_database: str) -> str:
    connection = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(connection, through=LAST_OLD_VERSION)
        await _seed_old_schema(connection)
        await apply_migrations(connection)  # what a service does when it starts on new code
    finally:
        await connection.close()
    return empty_database


@pytest.fixture
async def migrated_client(
    old_database: str, make_app: Callable[..., Starlette]
) -> AsyncIterator[httpx.AsyncClient]:
    pool = await asyncpg.create_pool(old_database, min_size=1, max_size=2)
    try:
        for symbol in ("ETHUSDT", "BTCUSDT"):
            await roll_market(pool, Market(BINANCE_SPOT, symbol))
    finally:
        await pool.close()
    application = make_app(
        db_name=old_database.rsplit("/", 1)[1],
        candle_cache_seconds=0,
        candle_live_cache_seconds=0,
        rollup_frontier_cache_seconds=0,
        rate_limit_per_second=0,
    )
    async with (
        application.router.lifespan_context(application),
        asgi_client(application, "http://api") as http,
    ):
        yield http


async def test_every_response_is_byte_identical_after_the_market_migration(
    migrated_client: httpx.AsyncClient,
) -> None:
    answers = {}
    for path in REQUESTS:
        response = await migrated_client.get(path)
        answers[path] = {"status": response.status_code, "body": response.text}
    if os.environ.get("LINKORA_RECORD_WIRE") == "1":
        GOLDEN.write_bytes(orjson.dumps(answers, option=orjson.OPT_INDENT_2) + b"\n")
    expected = orjson.loads(GOLDEN.read_bytes())
    assert list(answers) == list(expected)
    for path, answer in answers.items():
        assert answer == expected[path], path
