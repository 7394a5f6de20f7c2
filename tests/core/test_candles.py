"""Kline parsing and the Binance aggregation rule on hand-made candles."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkora_core.candles import (
    Candle,
    aggregate,
    build_bucket,
    has_trades,
    has_volume,
    parse_kline,
)
from linkora_core.timeframes import MINUTE_MS, Timeframe

REAL_ROW: list[object] = [
    1577923200000, "130.72000000", "130.72000000", "130.50000000", "130.50000000",
    "329.42116000", 1577923259999, "43036.38742080", 103, "37.30648000", "4870.78650830", "0",
]  # fmt: skip


def ms(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def minute(
    at: str,
    o: str,
    h: str,
    low: str,
    c: str,
    volume: str = "1",
    trades: int = 1,
    timeframe: Timeframe = Timeframe.MINUTE_1,
) -> Candle:
    v = Decimal(volume)
    return Candle(ms(at), Decimal(o), Decimal(h), Decimal(low), Decimal(c), v, v * 100, trades,
                  v / 2, v * 50, timeframe)  # fmt: skip


def placeholder(at: str, price: str) -> Candle:
    return minute(at, price, price, price, price, volume="0", trades=0)


def test_parse_kline_reads_a_real_binance_row() -> None:
    candle = parse_kline(REAL_ROW)
    assert candle == Candle(
        open_time_ms=1577923200000,
        open=Decimal("130.72"),
        high=Decimal("130.72"),
        low=Decimal("130.5"),
        close=Decimal("130.5"),
        volume=Decimal("329.42116"),
        quote_volume=Decimal("43036.3874208"),
        trades=103,
        taker_buy_volume=Decimal("37.30648"),
        taker_buy_quote_volume=Decimal("4870.7865083"),
        timeframe=Timeframe.MINUTE_1,
    )
    assert candle.close_time_ms == 1577923259999


def test_parse_kline_reads_larger_intervals_when_told_which() -> None:
    row = [ms("2021-02-11 04:00"), *REAL_ROW[1:6], ms("2021-02-11 08:00") - 1, *REAL_ROW[7:]]
    assert parse_kline(row, Timeframe.HOUR_4).close_time_ms == ms("2021-02-11 08:00") - 1
    with pytest.raises(ValueError, match="not one 1 bucket"):
        parse_kline(row)


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, "1577923200000", "integer"),
        (8, 103.0, "integer"),
        (8, True, "integer"),
        (1, 130.72, "decimal string"),
        (2, "NaN", "finite"),
        (5, "", "decimal"),
        (6, 1577923260000, "not one 1 bucket"),
        (0, 1577923200001, "not one 1 bucket"),
    ],
)
def test_parse_kline_rejects_malformed_fields(index: int, value: object, message: str) -> None:
    row = list(REAL_ROW)
    row[index] = value
    with pytest.raises(ValueError, match=message):
        parse_kline(row)


def test_parse_kline_rejects_rows_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="12 fields"):
        parse_kline(REAL_ROW[:11])


def test_close_time_is_the_last_millisecond_of_the_calendar_month() -> None:
    feb = minute("2024-02-01 00:00", "1", "1", "1", "1", timeframe=Timeframe.MONTH_1)
    assert feb.close_time_ms == ms("2024-03-01 00:00") - 1


def test_a_bucket_takes_first_open_extremes_last_close_and_sums() -> None:
    subs = [
        minute("2024-01-01 00:00", "10", "12", "9", "11", volume="1.5", trades=3),
        minute("2024-01-01 00:01", "11", "15", "10", "14", volume="2", trades=4),
        minute("2024-01-01 00:02", "14", "14", "8", "13", volume="0.25", trades=1),
    ]
    (bucket,) = aggregate(subs, Timeframe.MINUTE_3)
    assert bucket == Candle(
        ms("2024-01-01 00:00"), Decimal(10), Decimal(15), Decimal(8), Decimal(13),
        Decimal("3.75"), Decimal("375"), 8, Decimal("1.875"), Decimal("187.5"), Timeframe.MINUTE_3,
    )  # fmt: skip
    assert bucket.close_time_ms == ms("2024-01-01 00:03") - 1


def test_a_leading_placeholder_gives_neither_the_open_nor_the_extremes() -> None:
    # The previous close was 100; the market reopens with a gap up at 103.
    subs = [
        placeholder("2024-01-01 00:00", "100"),
        minute("2024-01-01 00:01", "103", "106", "102", "105", volume="4", trades=9),
        minute("2024-01-01 00:02", "105", "105", "104", "104.5", volume="1", trades=2),
        placeholder("2024-01-01 00:03", "104.5"),
        placeholder("2024-01-01 00:04", "104.5"),
    ]
    (bucket,) = aggregate(subs, Timeframe.MINUTE_5)
    assert (bucket.open, bucket.high, bucket.low, bucket.close) == (
        Decimal("103"), Decimal("106"), Decimal("102"), Decimal("104.5")
    )  # fmt: skip
    assert (bucket.volume, bucket.trades) == (Decimal(5), 11)


def test_a_bucket_where_nothing_traded_keeps_the_placeholder_price() -> None:
    subs = [placeholder("2024-01-01 00:15", "0.4756"), placeholder("2024-01-01 00:16", "0.4756")]
    (bucket,) = aggregate(subs, Timeframe.MINUTE_15)
    assert bucket.open == bucket.high == bucket.low == bucket.close == Decimal("0.4756")
    assert (bucket.volume, bucket.trades, bucket.open_time_ms) == (
        Decimal(0),
        0,
        ms("2024-01-01 00:15"),
    )


def test_real_gaps_produce_no_candles() -> None:
    subs = [
        minute("2024-01-01 00:00", "1", "2", "1", "2"),
        minute("2024-01-01 00:04", "2", "3", "2", "3"),
        minute("2024-01-01 00:22", "3", "4", "3", "4"),
    ]
    buckets = aggregate(subs, Timeframe.MINUTE_5)
    assert [b.open_time_ms for b in buckets] == [ms("2024-01-01 00:00"), ms("2024-01-01 00:20")]
    assert [b.open for b in buckets] == [Decimal(1), Decimal(3)]


def test_a_bucket_is_labelled_with_its_aligned_start_even_when_it_starts_late() -> None:
    subs = [minute("2025-01-01 10:07", "1", "1", "1", "1")]  # a Wednesday
    assert aggregate(subs, Timeframe.MINUTE_5)[0].open_time_ms == ms("2025-01-01 10:05")
    assert aggregate(subs, Timeframe.MINUTE_45)[0].open_time_ms == ms("2025-01-01 09:45")
    assert aggregate(subs, Timeframe.WEEK_1)[0].open_time_ms == ms("2024-12-30 00:00")
    assert aggregate(subs, Timeframe.MONTH_1)[0].open_time_ms == ms("2025-01-01 00:00")


def test_the_volume_predicate_treats_any_volume_as_traded() -> None:
    subs = [
        placeholder("2024-01-01 00:00", "50"),
        minute("2024-01-01 00:01", "51", "52", "49", "52", volume="3", trades=0),
    ]
    (by_volume,) = aggregate(subs, Timeframe.MINUTE_5, traded=has_volume)
    (by_trades,) = aggregate(subs, Timeframe.MINUTE_5, traded=has_trades)
    assert (by_volume.open, by_volume.low, by_volume.close) == tuple(map(Decimal, (51, 49, 52)))
    assert (by_trades.open, by_trades.low, by_trades.close) == tuple(map(Decimal, (50, 50, 50)))


def test_aggregate_sorts_its_input_and_refuses_duplicate_minutes() -> None:
    a = minute("2024-01-01 00:00", "1", "1", "1", "1")
    b = minute("2024-01-01 00:01", "2", "2", "2", "2")
    assert aggregate([b, a], Timeframe.MINUTE_3) == aggregate([a, b], Timeframe.MINUTE_3)
    with pytest.raises(ValueError, match="two sub-candles"):
        aggregate([a, b, a], Timeframe.MINUTE_3)


def test_sub_candles_wider_than_a_bucket_boundary_are_refused() -> None:
    hour = minute("2024-01-01 00:00", "1", "1", "1", "1", timeframe=Timeframe.HOUR_1)
    with pytest.raises(ValueError, match="spans two buckets"):
        aggregate([hour], Timeframe.MINUTE_45)
    week = minute("2024-01-29 00:00", "1", "1", "1", "1", timeframe=Timeframe.WEEK_1)
    with pytest.raises(ValueError, match="spans two buckets"):
        aggregate([week], Timeframe.MONTH_1)


def test_aggregate_of_nothing_is_nothing() -> None:
    assert aggregate([], Timeframe.DAY_1) == []
    with pytest.raises(ValueError, match="at least one"):
        build_bucket(0, Timeframe.DAY_1, [])


def traded_candle(at: int, o: Decimal, h: Decimal, low: Decimal, c: Decimal, volume: Decimal,
                  trades: int) -> Candle:  # fmt: skip
    return Candle(at, o, h, low, c, volume, volume * c, trades, volume / 4, volume * c / 4)


@st.composite
def minute_series(draw: st.DrawFn) -> list[Candle]:
    start = ms("2024-02-26 00:00")  # a Monday, three days before a leap day
    offsets = sorted(draw(st.sets(st.integers(0, 7 * 24 * 60), min_size=1, max_size=120)))
    out = []
    for offset in offsets:
        at = start + offset * MINUTE_MS
        price = Decimal(draw(st.integers(1, 999))) / 10
        if draw(st.booleans()):
            out.append(traded_candle(at, price, price, price, price, Decimal(0), 0))
            continue
        high = price + Decimal(draw(st.integers(0, 50))) / 10
        low = price - Decimal(draw(st.integers(0, 9))) / 100
        volume = Decimal(draw(st.integers(1, 10**9))) / 10**8
        out.append(traded_candle(at, price, high, low, high, volume, draw(st.integers(1, 500))))
    return out


@given(minute_series(), st.sampled_from([Timeframe.HOUR_1, Timeframe.HOUR_4, Timeframe.DAY_1]))
def test_aggregating_aggregates_equals_aggregating_the_minutes(
    minutes: list[Candle], middle: Timeframe
) -> None:
    for final in (Timeframe.DAY_1, Timeframe.WEEK_1, Timeframe.MONTH_1):
        if final is middle:
            continue
        assert aggregate(aggregate(minutes, middle), final) == aggregate(minutes, final)
