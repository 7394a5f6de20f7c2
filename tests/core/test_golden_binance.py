"""Our aggregation of real Binance klines against Binance's own larger klines."""

from decimal import Decimal

import pytest

from linkora_core.candles import Candle, aggregate, has_trades, has_volume
from linkora_core.timeframes import BINANCE_INTERVALS, MINUTE_MS, Timeframe
from tests.golden import DATA_DIR, ETH_DIR, eth_minutes, ms, ohlcv

# A collector paging bug in the source dropped one minute after every 1000-row page.
ETH_MISSING_MINUTES = [
    "2020-01-02 14:40",
    "2020-01-03 07:21",
    "2020-01-04 00:02",
    "2020-01-04 16:43",
    "2020-01-05 09:24",
    "2020-01-06 02:05",
    "2020-01-06 18:46",
    "2020-01-07 11:27",
]
ZERO_TRADE_WEEKS = [
    ("2019-04-29_2019-05-05", "LINKUSDT"),
    ("2019-04-29_2019-05-05", "LTCUSDT"),
    ("2019-06-03_2019-06-09", "LINKUSDT"),
    ("2019-06-03_2019-06-09", "LTCUSDT"),
    ("2021-02-08_2021-02-14", "AVAXUSDT"),
    ("2021-02-08_2021-02-14", "DOTUSDT"),
    ("2021-02-08_2021-02-14", "LINKUSDT"),
    ("2021-02-08_2021-02-14", "LTCUSDT"),
]
ZERO_TRADE_PATHS = [
    ("1h", "4h"),
    ("1h", "1d"),
    ("1h", "1w"),
    ("4h", "1d"),
    ("4h", "1w"),
    ("1d", "1w"),
]
PRICES = ("open", "high", "low", "close")


def mismatches(ours: list[Candle], binance: list[Candle], fields: tuple[str, ...]) -> set[int]:
    assert [c.open_time_ms for c in ours] == [c.open_time_ms for c in binance]
    return {
        b.open_time_ms
        for o, b in zip(ours, binance, strict=True)
        if any(getattr(o, f) != getattr(b, f) for f in fields)
    }


def test_the_golden_data_folder_exists() -> None:
    assert DATA_DIR.is_dir(), f"{DATA_DIR} missing: clone shared/ beside the repo"


def test_eth_minutes_lack_exactly_the_eight_documented_minutes() -> None:
    present = {c.open_time_ms for c in eth_minutes()}
    expected = range(ms("2020-01-02"), ms("2020-01-08"), MINUTE_MS)
    assert [t for t in expected if t not in present] == [ms(m) for m in ETH_MISSING_MINUTES]


@pytest.mark.parametrize("interval", ["4h", "1d"])
def test_eth_minutes_rebuild_binance_prices_in_every_bucket(interval: str) -> None:
    binance = ohlcv(ETH_DIR / f"ETHUSDT_{interval}.csv", interval)
    ours = aggregate(eth_minutes(), BINANCE_INTERVALS[interval])
    assert len(ours) == {"4h": 36, "1d": 6}[interval]
    assert mismatches(ours, binance, PRICES) == set()


@pytest.mark.parametrize("interval", ["4h", "1d"])
def test_eth_volume_differs_only_in_buckets_holding_a_missing_minute(interval: str) -> None:
    timeframe = BINANCE_INTERVALS[interval]
    binance = ohlcv(ETH_DIR / f"ETHUSDT_{interval}.csv", interval)
    ours = aggregate(eth_minutes(), timeframe)
    short = {timeframe.bucket_start(ms(m)) for m in ETH_MISSING_MINUTES}
    assert mismatches(ours, binance, ("volume",)) == short
    assert all(
        o.volume < b.volume for o, b in zip(ours, binance, strict=True) if o.open_time_ms in short
    )


def test_eth_daily_volume_shortfall_is_the_sum_of_its_four_hour_shortfalls() -> None:
    minutes = eth_minutes()

    def shortfalls(interval: str) -> dict[int, Decimal]:
        ours = aggregate(minutes, BINANCE_INTERVALS[interval])
        binance = ohlcv(ETH_DIR / f"ETHUSDT_{interval}.csv", interval)
        return {b.open_time_ms: b.volume - o.volume for o, b in zip(ours, binance, strict=True)}

    four_hourly, daily = shortfalls("4h"), shortfalls("1d")
    for day, short in daily.items():
        assert short == sum(v for t, v in four_hourly.items() if day <= t < day + 24 * 3_600_000)
    assert daily[ms("2020-01-04")] == Decimal("547.54485")


def test_eth_minutes_count_every_trade_and_taker_volume_once() -> None:
    minutes = eth_minutes()
    (month,) = aggregate(minutes, Timeframe.MONTH_1)
    assert month.trades == sum(m.trades or 0 for m in minutes)
    assert month.taker_buy_volume == sum(m.taker_buy_volume or 0 for m in minutes)
    assert month.open_time_ms == ms("2020-01-01")
    assert month.close_time_ms == ms("2020-02-01") - 1


@pytest.mark.parametrize(("small", "large"), ZERO_TRADE_PATHS)
@pytest.mark.parametrize(("week", "symbol"), ZERO_TRADE_WEEKS)
def test_zero_trade_weeks_rebuild_binance_candles_exactly(
    week: str, symbol: str, small: str, large: str
) -> None:
    folder = DATA_DIR / "zero_trade" / week
    subs = ohlcv(folder / f"{symbol}_{small}.csv", small)
    binance = ohlcv(folder / f"{symbol}_{large}.csv", large)
    ours = aggregate(subs, BINANCE_INTERVALS[large], traded=has_volume)
    assert len(ours) == {"4h": 42, "1d": 7, "1w": 1}[large]
    assert mismatches(ours, binance, (*PRICES, "volume")) == set()


@pytest.mark.parametrize(
    ("week", "symbol", "hour"),
    [
        ("2019-04-29_2019-05-05", "LINKUSDT", "2019-05-02 05:00"),
        ("2019-06-03_2019-06-09", "LINKUSDT", "2019-06-07 21:00"),
        ("2019-06-03_2019-06-09", "LTCUSDT", "2019-06-07 21:00"),
        *(("2021-02-08_2021-02-14", s, "2021-02-11 03:00") for s in ("AVAXUSDT", "DOTUSDT")),
        *(("2021-02-08_2021-02-14", s, "2021-02-11 03:00") for s in ("LINKUSDT", "LTCUSDT")),
    ],
)
def test_zero_trade_weeks_hold_the_documented_placeholder_hour(
    week: str, symbol: str, hour: str
) -> None:
    hours = ohlcv(DATA_DIR / "zero_trade" / week / f"{symbol}_1h.csv", "1h")
    quiet = [c for c in hours if not has_volume(c)]
    assert [c.open_time_ms for c in quiet] == [ms(hour)]
    (placeholder,) = quiet
    previous = next(c for c in reversed(hours) if c.open_time_ms < placeholder.open_time_ms)
    assert placeholder.open == placeholder.high == placeholder.low == placeholder.close
    assert placeholder.close == previous.close


def test_the_2021_outage_hour_is_absent_and_its_bucket_is_built_from_three_hours() -> None:
    folder = DATA_DIR / "zero_trade" / "2021-02-08_2021-02-14"
    hours = ohlcv(folder / "LINKUSDT_1h.csv", "1h")
    assert ms("2021-02-11 04:00") not in {c.open_time_ms for c in hours}
    in_bucket = [
        c for c in hours if ms("2021-02-11 04:00") <= c.open_time_ms < ms("2021-02-11 08:00")
    ]
    assert len(in_bucket) == 3
    (bucket,) = aggregate(in_bucket, Timeframe.HOUR_4, traded=has_volume)
    assert bucket.open_time_ms == ms("2021-02-11 04:00")
    assert bucket.open == in_bucket[0].open


def test_files_without_trade_counts_need_the_volume_predicate() -> None:
    folder = DATA_DIR / "zero_trade" / "2019-04-29_2019-05-05"
    hours = ohlcv(folder / "LINKUSDT_1h.csv", "1h")
    (binance,) = ohlcv(folder / "LINKUSDT_1w.csv", "1w")
    # With trades=0 everywhere every hour looks like a placeholder: prices freeze at the first.
    (wrong,) = aggregate(hours, Timeframe.WEEK_1, traded=has_trades)
    assert (wrong.high, wrong.low) == (hours[0].high, hours[0].low) != (binance.high, binance.low)
    (right,) = aggregate(hours, Timeframe.WEEK_1, traded=has_volume)
    assert (right.high, right.low) == (binance.high, binance.low)
