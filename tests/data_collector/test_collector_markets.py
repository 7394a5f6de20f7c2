"""Markets in the collector (issue 16): every row it writes carries its market's venue, the
same symbol on two venues is stored side by side, MARKETS joins SYMBOLS (any venue; an unknown
one is refused at startup), and health and channels name each market."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from collector_helpers import FAST, MINUTE_MS, HarnessFactory, SimFactory, spot
from redis.asyncio import Redis

from data_collector import book_store, candle_writes, health, state_store
from data_collector.binance_payloads import parse_frame
from data_collector.progress import Progress
from data_collector.publisher import Publisher
from data_collector.settings import CollectorSettings
from data_collector.status import CollectorStatus
from data_collector.venue_stream import BookDiff
from linkora_core.books import Book
from linkora_core.candles import Candle, LiveCandle
from linkora_core.epoch import to_datetime
from linkora_core.markets import VENUES, Exchange, Kind, Market, Venue
from linkora_core.settings import load
from linkora_core.timeframes import Timeframe
from tests.polling import eventually

BASE = 1_709_251_200_000  # 2024-03-01T00:00Z
FAR_FUTURE = BASE + 10**12  # "now" for staged rows: every minute closed
BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
BINANCE_BTC = spot("BTCUSDT")
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")
MARKET_TABLES = (
    "candles", "candle_rollups", "candle_changes", "orderbook_data", "collector_state",
    "candle_gaps",
)  # fmt: skip


def kline(open_ms: int, close: str) -> list[Any]:
    """A raw Binance kline row (strings, as the REST API sends them)."""
    close_ms = open_ms + MINUTE_MS - 1
    return [open_ms, close, close, close, close, "1", close_ms, close, 3, "0.5", "5"]


def klines(count: int, close: str, first: int = 0) -> list[list[Any]]:
    return [kline(BASE + i * MINUTE_MS, close) for i in range(first, first + count)]


def live(market: Market, open_ms: int, close: str) -> LiveCandle:
    price, one = Decimal(close), Decimal(1)
    candle = Candle(open_ms, price, price, price, price, one, price, 1, one, one)
    return LiveCandle(market, candle, closed=True)


def book(market: Market, received_ms: int, price: str) -> Book:
    return Book(market, received_ms, 7, ((Decimal(price), Decimal("1")),), ())


async def venues(pool: asyncpg.Pool, table: str) -> list[str]:
    rows = await pool.fetch(f"SELECT DISTINCT venue FROM {table} ORDER BY 1")  # a fixed name
    return [r[0] for r in rows]


async def closes(pool: asyncpg.Pool, market: Market) -> set[Decimal]:
    rows = await pool.fetch(
        "SELECT DISTINCT close_price FROM candles WHERE venue = $1 AND symbol = $2",
        market.venue.key, market.symbol,
    )  # fmt: skip
    return {r[0] for r in rows}


async def test_every_row_the_collector_writes_carries_the_binance_spot_venue(
    make_sim: SimFactory, make_collector: HarnessFactory, clean_db: asyncpg.Pool
) -> None:
    probe = await make_sim(symbols=("BTCUSDT",), **FAST)
    first = probe.source.stores["BTCUSDT"].series.first_ms
    sim = await make_sim(
        symbols=("BTCUSDT",), gaps=((first + 600 * MINUTE_MS, first + 659 * MINUTE_MS),), **FAST
    )
    harness = make_collector(sim, orderbook_store_interval=0.1)
    await harness.streaming()

    async def live_rows_stored() -> bool:
        books = await clean_db.fetchval("SELECT count(*) FROM orderbook_data")
        changes = await clean_db.fetchval("SELECT count(*) FROM candle_changes")
        return bool(books and changes)

    await eventually(live_rows_stored, within=30)
    for table in MARKET_TABLES:
        assert await venues(clean_db, table) == ["binance-spot"], table
    state = await clean_db.fetchrow("SELECT * FROM collector_state")
    assert state is not None
    assert (state["venue"], state["symbol"], state["phase"]) == (
        "binance-spot", "BTCUSDT", "realtime",
    )  # fmt: skip


async def test_one_symbol_on_two_venues_is_stored_side_by_side(clean_db: asyncpg.Pool) -> None:
    await clean_db.execute("TRUNCATE candle_changes")
    both = candle_writes.staged_rows(BINANCE_BTC, klines(300, "10"), FAR_FUTURE)
    both += candle_writes.staged_rows(BYBIT_BTC, klines(300, "20"), FAR_FUTURE)
    async with clean_db.acquire() as connection:
        # Same symbol, same minutes: 600 rows, none an update of the other venue's.
        assert await candle_writes.copy_upsert(connection, both) == 600
        # A correction on one venue leaves the other's minutes and rollups alone.
        fixed = candle_writes.staged_rows(BYBIT_BTC, klines(10, "21", first=100), FAR_FUTURE)
        assert await candle_writes.copy_upsert(connection, fixed) == 10
        # Bulk writes that only log, and live writes, log the venue they wrote.
        late = candle_writes.staged_rows(BYBIT_BTC, klines(5, "22", first=300), FAR_FUTURE)
        assert await candle_writes.copy_upsert(connection, late, rollups=False) == 5
    await candle_writes.upsert_live(clean_db, [live(BINANCE_BTC, BASE + 300 * MINUTE_MS, "11")])

    assert await closes(clean_db, BINANCE_BTC) == {Decimal(10), Decimal(11)}
    assert await closes(clean_db, BYBIT_BTC) == {Decimal(20), Decimal(21), Decimal(22)}
    assert await candle_writes.last_closed_ms(clean_db, BINANCE_BTC) == BASE + 300 * MINUTE_MS
    assert await candle_writes.last_closed_ms(clean_db, BYBIT_BTC) == BASE + 304 * MINUTE_MS
    changes = await clean_db.fetch(
        "SELECT venue, symbol FROM candle_changes ORDER BY venue, first_open_time"
    )
    assert [tuple(r) for r in changes] == [
        ("binance-spot", "BTCUSDT"),
        ("bybit-linear", "BTCUSDT"),
    ]

    # Rollups: each venue's buckets from its own minutes (the 5m bucket holding the fix too).
    rollups = await clean_db.fetch(
        """SELECT venue, close_price FROM candle_rollups
           WHERE timeframe = $2 AND open_time = to_timestamp($1::bigint / 1000)
           ORDER BY venue""",
        BASE + 105 * MINUTE_MS,
        Timeframe.MINUTE_5.value,
    )
    assert [tuple(r) for r in rollups] == [("binance-spot", 10), ("bybit-linear", 21)]
    counts = await clean_db.fetch(
        "SELECT venue, count(*) FROM candle_rollups WHERE timeframe = $1 "
        "GROUP BY venue ORDER BY venue",
        Timeframe.MINUTE_5.value,
    )
    assert [r[1] for r in counts] == [60, 60]  # 300 rolled minutes: 60 5m buckets each

    # Holes, the oldest minute and exchange gaps are each venue's own.
    for first, end in ((0, 10), (50, 60)):
        await clean_db.execute(
            """DELETE FROM candles WHERE venue = 'binance-spot' AND open_time >= $1
               AND open_time < $2""",
            to_datetime(BASE + first * MINUTE_MS), to_datetime(BASE + end * MINUTE_MS),
        )  # fmt: skip
    assert await candle_writes.first_open_ms(clean_db, BINANCE_BTC, BASE) == BASE + 10 * MINUTE_MS
    assert await candle_writes.first_open_ms(clean_db, BYBIT_BTC, BASE) == BASE
    hole = (BASE + 50 * MINUTE_MS, BASE + 60 * MINUTE_MS)
    await state_store.record_gaps(clean_db, BYBIT_BTC, [hole])
    assert await candle_writes.stored_holes(clean_db, BINANCE_BTC) == [hole]
    assert await candle_writes.stored_holes(clean_db, BYBIT_BTC) == []
    assert await state_store.is_known_gap(clean_db, BYBIT_BTC, *hole)
    assert not await state_store.is_known_gap(clean_db, BINANCE_BTC, *hole)
    await state_store.record_gaps(clean_db, BINANCE_BTC, [hole])
    assert await clean_db.fetchval("SELECT count(*) FROM candle_gaps") == 2

    # Books received at the same instant: one row per venue.
    await book_store.insert_books(
        clean_db, [book(BINANCE_BTC, BASE, "1"), book(BYBIT_BTC, BASE, "2")]
    )
    stored = await clean_db.fetch("SELECT venue, bid_prices FROM orderbook_data ORDER BY venue")
    assert [(r[0], r[1]) for r in stored] == [("binance-spot", [1]), ("bybit-linear", [2])]


async def test_collector_state_is_kept_per_market(clean_db: asyncpg.Pool) -> None:
    await state_store.ensure(clean_db, [BINANCE_BTC, BYBIT_BTC])
    await state_store.ensure(clean_db, [BYBIT_BTC])
    await state_store.set_listed_at(clean_db, BYBIT_BTC, BASE)
    await state_store.set_phase(clean_db, BYBIT_BTC, "error", "bad symbol")
    await state_store.advance_closed(clean_db, BYBIT_BTC, BASE + MINUTE_MS)
    progress = Progress(BYBIT_BTC)
    progress.start(total=100, done=40, now=0.0)
    await state_store.save_progress(clean_db, progress)

    assert await state_store.listed_at_ms(clean_db, BYBIT_BTC) == BASE
    assert await state_store.listed_at_ms(clean_db, BINANCE_BTC) is None
    rows = await clean_db.fetch(
        """SELECT venue, symbol, phase, last_error, backfill_done, last_closed_minute
           FROM collector_state ORDER BY venue"""
    )
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("binance-spot", "BTCUSDT", "starting", None, 0),
        ("bybit-linear", "BTCUSDT", "error", "bad symbol", 40),
    ]
    assert rows[0]["last_closed_minute"] is None and rows[1]["last_closed_minute"] is not None


def settings(**values: str) -> CollectorSettings:
    return CollectorSettings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def test_markets_join_symbols_as_binance_spot_each_market_once() -> None:
    chosen = settings(
        symbols="BTCUSDT,ETHUSDT", markets="ethusdt, binance:SOLUSDT,binance:spot:BTCUSDT"
    )
    assert chosen.collected_markets == [spot("BTCUSDT"), spot("ETHUSDT"), spot("SOLUSDT")]
    assert settings(symbols="", markets="SOLUSDT").collected_markets == [spot("SOLUSDT")]
    assert settings().markets == []
    assert settings().collected_markets == [spot("BTCUSDT"), spot("ETHUSDT")]


@pytest.mark.parametrize(
    ("markets", "message"),
    [
        ("kraken:spot:BTCUSDT", "unknown exchange 'kraken'"),
        ("binance:margin:BTCUSDT", "unknown kind 'margin'"),
        ("a:b:c:BTCUSDT", "exchange:kind:SYMBOL"),
        ("BTC/USDT", "invalid symbol"),
    ],
)
def test_a_market_the_collector_cannot_collect_is_refused(markets: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"markets(.|\n)*{message}"):
        settings(markets=markets)


def test_no_market_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one market is required"):
        settings(symbols="", markets="")


def test_every_venue_can_be_collected() -> None:
    names = "binance:usdm:BTCUSDT,bybit:spot:BTCUSDT,bybit:linear:BTCUSDT,okx:BTC-USDT,"
    names += "okx:swap:BTC-USDT-SWAP,whitebit:spot:BTC_USDT"
    chosen = settings(symbols="BTCUSDT", markets=names)
    assert {m.venue for m in chosen.collected_markets} == set(VENUES)


def test_an_unknown_exchange_stops_the_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARKETS", "kraken:spot:BTCUSDT")
    with pytest.raises(SystemExit) as stopped:
        load(CollectorSettings)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "configuration error: MARKETS: unknown exchange 'kraken'; "
        "one of ['binance', 'bybit', 'okx', 'whitebit']\n"
    )


def test_health_names_binance_spot_by_its_symbol_and_other_venues_in_full() -> None:
    status = CollectorStatus()
    status.of(BYBIT_BTC).phase = "realtime"
    status.of(BINANCE_BTC).phase = "backfill"
    body = health.health_body(status, {})
    assert {name: s["phase"] for name, s in body["symbols"].items()} == {
        "BTCUSDT": "backfill",
        "bybit:linear:BTCUSDT": "realtime",
    }


def test_stream_frames_belong_to_the_stream_venue_binance_spot_by_default() -> None:
    frame = orjson.dumps(
        {"stream": "btcusdt@depth@100ms",
         "data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "b": [["1", "2"]], "a": []}}
    )  # fmt: skip
    (parsed,) = parse_frame(frame)
    assert isinstance(parsed, BookDiff) and parsed.market == BINANCE_BTC
    usdm = Venue(Exchange.BINANCE, Kind.USDM)
    (other,) = parse_frame(frame, usdm)
    assert isinstance(other, BookDiff) and other.market == Market(usdm, "BTCUSDT")


async def test_each_market_is_published_on_its_own_venue_channels(
    redis: Redis, redis_url: str
) -> None:
    client = Redis.from_url(redis_url)
    pubsub = client.pubsub()
    channels = ("candles:BTCUSDT", "candles:all", "candles:bybit-linear:BTCUSDT",
                "candles:bybit-linear:all")  # fmt: skip
    await pubsub.subscribe(*channels)
    try:
        publisher = Publisher(redis)
        publisher.candle(live(BINANCE_BTC, BASE, "10"))
        publisher.candle(live(BYBIT_BTC, BASE, "20"))
        await publisher.flush(2.0)
        received: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(5):
            while len(received) < 4:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    received.append((message["channel"].decode(), orjson.loads(message["data"])))
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks the hint
        await client.aclose()
    by_channel = {channel: body for channel, body in received}
    assert set(by_channel) == set(channels)
    assert "exchange" not in by_channel["candles:BTCUSDT"]
    assert by_channel["candles:all"]["close"] == "10"
    bybit = by_channel["candles:bybit-linear:BTCUSDT"]
    assert (bybit["exchange"], bybit["kind"], bybit["close"]) == ("bybit", "linear", "20")
    assert by_channel["candles:bybit-linear:all"] == bybit
