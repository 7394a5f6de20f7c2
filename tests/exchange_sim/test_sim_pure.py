"""Pure pieces: intervals, candle formatting and aggregation, paging windows, the walk."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from sim_support import MINUTE, START_MS

from exchange_sim import errors
from exchange_sim.candle import Candle, aggregate, decimal_str, partial, units_of
from exchange_sim.intervals import bucket_start, close_ms, next_bucket
from exchange_sim.klines import KlineQuery, parse_query, window
from exchange_sim.walk import Walk, WalkParams


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1000


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    thursday = ms(2024, 1, 4, 15)
    assert bucket_start("1w", thursday) == ms(2024, 1, 1)
    assert next_bucket("1w", ms(2024, 1, 1)) == ms(2024, 1, 8)
    assert bucket_start("1M", ms(2024, 2, 29, 23, 59)) == ms(2024, 2, 1)
    assert close_ms("1M", ms(2024, 2, 1)) == ms(2024, 3, 1) - 1
    assert next_bucket("1M", ms(2024, 12, 1)) == ms(2025, 1, 1)
    assert bucket_start("4h", ms(2024, 1, 1, 5, 59)) == ms(2024, 1, 1, 4)
    assert close_ms("1m", START_MS) == START_MS + 59_999


def test_decimals_are_exact_eight_place_strings() -> None:
    assert decimal_str(4_200_010_000_000) == "42000.10000000"
    assert decimal_str(1) == "0.00000001"
    assert units_of("130.5") == 13_050_000_000
    assert units_of("0.00000001") == 1
    with pytest.raises(ValueError):
        units_of("1e-3")


def c(t: int, o: int, h: int, lo: int, cl: int, v: int = 1, n: int = 1) -> Candle:
    return Candle(t, o, h, lo, cl, v, v * o, n, v, v * o)


def test_aggregation_skips_zero_trade_placeholders_for_prices() -> None:
    placeholder = c(0, 100, 100, 100, 100, v=0, n=0)  # previous close, far from the next trade
    traded = [c(MINUTE, 90, 95, 88, 93), c(2 * MINUTE, 93, 96, 91, 92)]
    bucket = aggregate(0, [placeholder, *traded])
    assert (bucket.open, bucket.high, bucket.low, bucket.close) == (90, 96, 88, 92)
    assert bucket.trades == 2 and bucket.volume == 2


def test_a_bucket_with_no_trades_keeps_the_placeholder_price() -> None:
    bucket = aggregate(0, [c(0, 100, 100, 100, 100, v=0, n=0)] * 3)
    assert (bucket.open, bucket.high, bucket.low, bucket.close, bucket.trades) == (
        100, 100, 100, 100, 0,
    )  # fmt: skip


def test_an_open_candle_grows_monotonically_into_the_final_one() -> None:
    final = c(0, 1000, 1300, 900, 1200, v=600, n=60)
    seen = [partial(final, k * 1000, MINUTE, tick=10) for k in range(0, 61)]
    assert seen[-1] == final
    for before, after in pairwise(seen):
        assert after.high >= before.high and after.low <= before.low
        assert after.volume >= before.volume
    assert all(x.close % 10 == 0 and x.high % 10 == 0 and x.low % 10 == 0 for x in seen)


def q(start: int | None = None, end: int | None = None, limit: int = 500) -> KlineQuery:
    return KlineQuery("BTCUSDT", "1m", start, end, limit)


def test_paging_window_follows_binance_ordering_rules() -> None:
    now, first = START_MS + 10 * MINUTE, START_MS
    assert window(q(), now, first, None) == window(q(end=now), now, first, None)
    only_start = window(q(start=first + MINUTE), now, first, None)
    assert only_start is not None and not only_start.newest and only_start.lo == first + MINUTE
    only_end = window(q(end=first + 5 * MINUTE), now, first, None)
    assert only_end is not None and only_end.newest and only_end.hi == first + 5 * MINUTE
    assert window(q(end=first - 1), now, first, None) is None  # before the data
    assert window(q(start=now + MINUTE), now, first, None) is None  # the future
    assert window(q(start=first), now, first, last_ms=first - MINUTE) is None  # past the data


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"interval": "1m"}, -1102),
        ({"symbol": "DOGEBTC", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "7m"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "1001"}, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "-5"}, -1100),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "9", "endTime": "8"}, -1023),
    ],
)
def test_bad_kline_parameters_get_binance_error_codes(params: dict[str, str], code: int) -> None:
    with pytest.raises(errors.BinanceError) as info:
        parse_query(params, {"BTCUSDT"})
    assert info.value.code == code and info.value.status == 400


def walk(seed: int = 1, **kw: int) -> Walk:
    day = START_MS // 86_400_000
    return Walk(WalkParams(seed=seed, symbol="BTCUSDT", origin_day=day, decimals=2,
                           start_ticks=4_200_000, **kw))  # fmt: skip


def test_the_walk_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    day = START_MS // 86_400_000 + 30
    assert walk(1).day(day) == walk(1).day(day)
    assert walk(1).day(day) != walk(2).day(day)


def test_any_day_can_be_generated_alone_and_days_join_up() -> None:
    day = START_MS // 86_400_000 + 5
    w = walk()
    later = w.day(day + 1)
    earlier = walk().day(day)
    assert later == walk().day(day + 1)
    assert earlier[-1].close == later[0].open or earlier[-1].trades == 0


def test_walk_minutes_are_consistent_and_on_ticks() -> None:
    minutes = walk(zero_trade_ppm=50_000).day(START_MS // 86_400_000)
    assert len(minutes) == 1440
    assert [m.open_ms for m in minutes] == [START_MS + i * MINUTE for i in range(1440)]
    tick = 10**6
    zero = 0
    for prev, m in pairwise(minutes):
        assert m.low <= min(m.open, m.close) <= max(m.open, m.close) <= m.high
        assert all(p % tick == 0 for p in (m.open, m.high, m.low, m.close))
        if m.trades == 0:
            zero += 1
            assert m.open == m.high == m.low == m.close == prev.close and m.volume == 0
        else:
            assert m.volume > 0 and m.taker_base <= m.volume
    assert 30 < zero < 120  # about 5% of 1440


def test_gap_hours_are_missing_not_invented() -> None:
    minutes = walk(gap_hour_ppm=200_000).day(START_MS // 86_400_000)
    assert len(minutes) % 60 == 0 and len(minutes) < 1440
