"""The collector's market messages in the outbox (issue 18), against the real PostgreSQL: a
closed minute announced once with exact decimals, a larger bucket announced when the minute
that closes it is written, by the Binance rule; backfill chunks announced per chunk and never
as klines; the price throttled; books with their store; nothing for a write rolled back."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
import pytest
from collector_helpers import MINUTE_MS, spot

from data_collector import announcements, candle_writes
from data_collector.announcements import Announce, PriceSampler
from data_collector.live_store import LiveStore
from data_collector.settings import CollectorSettings
from linkora_core.books import Book
from linkora_core.candles import Candle, LiveCandle, aggregate
from linkora_core.market_announcements import candle_body
from linkora_core.timeframes import Timeframe
from tests.polling import eventually

if TYPE_CHECKING:  # the fixture's type; importing conftest at run time clashes across folders
    from conftest import CandleRefusals

BASE = 1_709_251_200_000  # 2024-03-01T00:00Z, a bucket start of every intraday timeframe
FAR_FUTURE = BASE + 10**12
TF = Timeframe


def minute(open_ms: int, close: str, *, trades: int | None = 2, volume: str = "1") -> Candle:
    price = Decimal(close)
    return Candle(
        open_time_ms=open_ms,
        open=price - Decimal("0.00000001"),
        high=price + Decimal("1000000.123456789"),
        low=price - Decimal("0.5"),
        close=price,
        volume=Decimal(volume),
        quote_volume=price * Decimal(volume),
        trades=trades,
        taker_buy_volume=None if trades is None else Decimal("0.25"),
        taker_buy_quote_volume=None if trades is None else price / 4,
    )


def live(open_ms: int, close: str = "100.5", *, closed: bool = True, **kw: Any) -> LiveCandle:
    return LiveCandle(spot("BTCUSDT"), minute(open_ms, close, **kw), closed)


async def messages(pool: asyncpg.Pool, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await pool.fetch(
        "SELECT message_id, routing_key, body FROM outbox WHERE routing_key LIKE $1 ORDER BY id",
        prefix + "%",
    )
    return [(r["message_id"], r["routing_key"], orjson.loads(r["body"])) for r in rows]


async def test_a_closed_minute_is_announced_once_with_exact_decimals(
    clean_db: asyncpg.Pool,
) -> None:
    store = LiveStore(clean_db, announce=Announce(price_interval_ms=0, books=False))
    store.candle(live(BASE, "67000.00000001", closed=False))
    await store.flush()
    assert await messages(clean_db, "crypto.kline") == []
    closing = live(BASE, "67000.00000002")
    for _ in range(2):  # the stream's close, then the same minute again from polling
        store.candle(closing)
        await store.flush()
    [(message_id, key, body)] = await messages(clean_db, "crypto.kline")
    assert key == "crypto.kline.updated.binance.spot.BTCUSDT.1"
    assert message_id == f"kline:binance:spot:BTCUSDT:1:{BASE}"
    assert body == candle_body(closing.market, closing.candle)
    assert body["close"] == "67000.00000002"
    assert body["open"] == "67000.00000001"
    assert body["high"] == str(Decimal("67000.00000002") + Decimal("1000000.123456789"))
    assert body["timestamp_iso"] == "2024-03-01T00:00:00.000Z"
    assert body["close_time"] == BASE + MINUTE_MS - 1
    assert body["closed"] is True


async def test_a_bucket_closing_is_announced_as_the_binance_rule_aggregates_it(
    clean_db: asyncpg.Pool,
) -> None:
    store = LiveStore(clean_db, announce=Announce((TF.MINUTE_5, TF.MINUTE_15), 0, False))
    # A zero-trade placeholder first: open, high and low come from the minutes that traded.
    minutes = [live(BASE, "50", trades=0, volume="0")]
    minutes += [live(BASE + i * MINUTE_MS, f"{100 + i}.25") for i in range(1, 5)]
    for m in minutes[:4]:
        store.candle(m)
    await store.flush()
    assert await messages(clean_db, "crypto.kline") == []
    store.candle(minutes[4])  # the bucket's last minute closes it
    await store.flush()
    [(message_id, key, body)] = await messages(clean_db, "crypto.kline")
    [expected] = aggregate([m.candle for m in minutes], TF.MINUTE_5)
    assert key == "crypto.kline.updated.binance.spot.BTCUSDT.5"
    assert message_id == f"kline:binance:spot:BTCUSDT:5:{BASE}"
    assert body == candle_body(spot("BTCUSDT"), expected)
    assert body["open"] == "101.24999999" and body["trades"] == 8 and body["low"] == "100.75"


async def test_a_bucket_whose_last_minutes_are_missing_is_closed_by_the_next_minute(
    clean_db: asyncpg.Pool,
) -> None:
    store = LiveStore(clean_db, announce=Announce((TF.MINUTE_5,), 0, False))
    for i in range(3):
        store.candle(live(BASE + i * MINUTE_MS, "7", trades=None))
    await store.flush()
    # Minutes 3 and 4 never came (an exchange gap); minute 11 closes buckets 0 and 5..9,
    # and bucket 5 has no minute: it does not exist.
    store.candle(live(BASE + 11 * MINUTE_MS, "8", trades=None))
    await store.flush()
    found = await messages(clean_db, "crypto.kline")
    assert [body["timestamp"] for _, _, body in found] == [BASE]
    assert found[0][2]["trades"] is None and found[0][2]["taker_buy_volume"] is None
    assert found[0][2]["volume"] == "3"


async def test_a_minute_written_late_does_not_announce_a_bucket_again(
    clean_db: asyncpg.Pool,
) -> None:
    store = LiveStore(clean_db, announce=Announce((TF.MINUTE_1, TF.MINUTE_5), 0, False))
    for i in (0, 1, 2, 4, 5):
        store.candle(live(BASE + i * MINUTE_MS))
    await store.flush()
    store.candle(live(BASE + 3 * MINUTE_MS))  # behind the stream: REST has it, no new 5m
    await store.flush()
    found = await messages(clean_db, "crypto.kline")
    fives = [body for _, key, body in found if key.endswith(".5")]
    assert len(fives) == 1 and fives[0]["volume"] == "4"
    assert len(found) == 7  # six minutes and one 5m bucket


async def test_a_refused_minute_is_not_announced_and_a_retried_one_once(
    clean_db: asyncpg.Pool, refusals: CandleRefusals
) -> None:
    store = LiveStore(clean_db, announce=Announce(price_interval_ms=0, books=False))
    await refusals.refuse(BASE + MINUTE_MS, "22003")  # refused for good: the batch is halved
    for i in range(3):
        store.candle(live(BASE + i * MINUTE_MS))
    await store.flush()
    found = await messages(clean_db, "crypto.kline")
    assert [body["timestamp"] for _, _, body in found] == [BASE, BASE + 2 * MINUTE_MS]


async def test_minutes_written_after_transient_errors_are_announced_once(
    clean_db: asyncpg.Pool, refusals: CandleRefusals
) -> None:
    store = LiveStore(clean_db, announce=Announce((TF.MINUTE_1, TF.MINUTE_3), 0, False))
    await refusals.refuse(BASE + MINUTE_MS, "53100", times=2)  # disk full, twice
    for i in range(3):
        store.candle(live(BASE + i * MINUTE_MS))
    task = asyncio.create_task(store.run(period=0.05))
    try:

        async def announced() -> bool:
            return len(await messages(clean_db, "crypto.kline")) >= 4

        await eventually(announced, within=20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    found = await messages(clean_db, "crypto.kline")
    assert sorted(message_id for message_id, _, _ in found) == sorted(
        [f"kline:binance:spot:BTCUSDT:1:{BASE + i * MINUTE_MS}" for i in range(3)]
        + [f"kline:binance:spot:BTCUSDT:3:{BASE}"]
    )
    assert await refusals.tries() >= 2


async def test_a_rolled_back_write_leaves_no_message(clean_db: asyncpg.Pool) -> None:
    async with clean_db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await candle_writes.upsert_live(
            connection, [live(BASE + i * MINUTE_MS) for i in range(5)], tuple(Timeframe)
        )
        assert (
            await connection.fetchval("SELECT count(*) FROM outbox") == 7
        )  # five 1m, one 3m, one 5m
        await transaction.rollback()
    assert await messages(clean_db, "") == []


async def test_the_price_is_announced_at_most_once_per_interval(clean_db: asyncpg.Pool) -> None:
    store = LiveStore(clean_db, announce=Announce((), 3_600_000, books=False))
    for i in range(3):
        store.candle(live(BASE, f"{i + 1}", closed=False))
        await store.flush()
    [(message_id, key, body)] = await messages(clean_db, "crypto.price")
    assert key == "crypto.price.updated.binance.spot.BTCUSDT"
    assert message_id == f"price:binance:spot:BTCUSDT:{body['timestamp']}"
    assert body["price"] == "1" and body["minute"] == BASE and body["closed"] is False


def test_the_price_sampler_takes_the_newest_minute_and_waits_its_interval() -> None:
    sampler = PriceSampler(1000)
    batch = [live(BASE + MINUTE_MS, "2", closed=False), live(BASE, "1")]
    due = sampler.due(batch, 5000)
    assert [orjson.loads(m.body)["price"] for m in due.values()] == ["2"]
    assert list(sampler.due(batch, 5500)) == list(due)  # not sent (a failed write): due again
    sampler.sent(due, 5000)
    assert sampler.due(batch, 5999) == {}
    assert len(sampler.due(batch, 6000)) == 1
    assert PriceSampler(0).due(batch, 5000) == {}


async def test_stored_books_are_announced_with_their_store(clean_db: asyncpg.Pool) -> None:
    store = LiveStore(clean_db, store_interval=1.0, announce=Announce((), 0, books=True))
    for at in (BASE, BASE + 400, BASE + 1000):  # the middle one is not stored
        book = Book(spot("BTCUSDT"), at, at, ((Decimal("1.10"), Decimal("2")),), ())
        store.book(book)
    await store.flush()
    found = await messages(clean_db, "crypto.orderbook")
    assert [body["timestamp"] for _, _, body in found] == [BASE, BASE + 1000]
    assert found[0][2]["bids"] == [{"price": "1.1", "quantity": "2"}]
    assert await clean_db.fetchval("SELECT count(*) FROM orderbook_data") == 2


async def test_a_bulk_chunk_is_announced_once_per_market_and_never_as_klines(
    clean_db: asyncpg.Pool,
) -> None:
    def kline(open_ms: int, close: str = "10") -> list[Any]:
        return [open_ms, "10", "12", "9", close, "1", open_ms + MINUTE_MS - 1, "10", 3, "0.5", "5"]

    rows = candle_writes.staged_rows(
        spot("AAAUSDT"), [kline(BASE + i * MINUTE_MS) for i in range(300)], FAR_FUTURE
    )
    rows += candle_writes.staged_rows(
        spot("BBBUSDT"), [kline(BASE + i * MINUTE_MS) for i in range(7, 9)], FAR_FUTURE
    )
    async with clean_db.acquire() as connection:
        for _ in range(2):  # a retried chunk is stored once; an unchanged one announces nothing
            assert await candle_writes.copy_upsert(connection, rows, historical=True) in (302, 0)
    found = await messages(clean_db, "")
    assert [(key, body["first_open_time"], body["last_open_time"], body["count"])
            for _, key, body in found] == [
        ("crypto.historical.updated.binance.spot.AAAUSDT", BASE, BASE + 299 * MINUTE_MS, 300),
        ("crypto.historical.updated.binance.spot.BBBUSDT", BASE + 7 * MINUTE_MS,
         BASE + 8 * MINUTE_MS, 2),
    ]  # fmt: skip
    assert found[0][0] == f"historical:binance:spot:AAAUSDT:{BASE}:{BASE + 299 * MINUTE_MS}"


def test_closing_ranges_cover_the_buckets_ended_since_the_newest_closed_minute() -> None:
    five, hour = TF.MINUTE_5, TF.HOUR_1
    assert announcements.closing_ranges([five], BASE + 3 * MINUTE_MS, [BASE + 4 * MINUTE_MS]) == [
        (five, BASE, BASE + 5 * MINUTE_MS)
    ]
    assert announcements.closing_ranges([five], BASE + 4 * MINUTE_MS, [BASE + 5 * MINUTE_MS]) == []
    assert announcements.closing_ranges([five, hour], None, [BASE + 59 * MINUTE_MS]) == [
        (five, BASE + 55 * MINUTE_MS, BASE + 60 * MINUTE_MS),
        (hour, BASE, BASE + 60 * MINUTE_MS),
    ]
    # A minute older than the newest closed one closes nothing.
    assert announcements.closing_ranges([five], BASE + 9 * MINUTE_MS, [BASE + 4 * MINUTE_MS]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", (TF.MINUTE_1,)), ("1, 5,1H,5", (TF.MINUTE_1, TF.MINUTE_5, TF.HOUR_1)), ("", ()),
     ("all", tuple(Timeframe))],
)  # fmt: skip
def test_the_kline_timeframes_setting_reads_labels_or_all(
    text: str, expected: tuple[Timeframe, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_KLINE_TIMEFRAMES", text)
    settings = CollectorSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.announce.kline_timeframes == expected


def test_an_unknown_kline_timeframe_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_KLINE_TIMEFRAMES", "1,2m")
    with pytest.raises(ValueError, match="unknown timeframe '2m'"):
        CollectorSettings(_env_file=None)  # type: ignore[call-arg]
