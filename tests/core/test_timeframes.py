"""Bucket alignment for every timeframe, in UTC epoch milliseconds."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkora_core.timeframes import BINANCE_INTERVALS, MINUTE_MS, Timeframe

LABELS = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]


def ms(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def utc(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def test_the_thirteen_wire_labels_in_order() -> None:
    assert [tf.value for tf in Timeframe] == LABELS


@pytest.mark.parametrize("label", LABELS)
def test_parse_returns_the_timeframe_with_that_label(label: str) -> None:
    timeframe = Timeframe.parse(label)
    assert timeframe == label
    assert timeframe is Timeframe(label)


@pytest.mark.parametrize("label", ["1h", "1d", "1m", "60", "2D", "", " 1H", "1w"])
def test_parse_rejects_unknown_labels(label: str) -> None:
    with pytest.raises(ValueError, match="unknown timeframe"):
        Timeframe.parse(label)


def test_binance_interval_names_map_to_timeframes_of_the_same_width() -> None:
    assert list(BINANCE_INTERVALS) == [
        "1m",
        "3m",
        "5m",
        "15m",
        "30m",
        "1h",
        "2h",
        "4h",
        "1d",
        "1w",
        "1M",
    ]
    assert BINANCE_INTERVALS["1h"] is Timeframe.HOUR_1
    assert BINANCE_INTERVALS["1M"] is Timeframe.MONTH_1
    assert BINANCE_INTERVALS["1m"] is Timeframe.MINUTE_1
    assert Timeframe.MINUTE_45 not in BINANCE_INTERVALS.values()
    assert Timeframe.HOUR_3 not in BINANCE_INTERVALS.values()


def test_the_calendar_month_has_no_fixed_width() -> None:
    assert Timeframe.MONTH_1.width_ms is None
    assert Timeframe.MINUTE_45.width_ms == 45 * MINUTE_MS
    assert Timeframe.WEEK_1.width_ms == 7 * 24 * 60 * MINUTE_MS


@pytest.mark.parametrize(
    ("timeframe", "moment", "start", "end"),
    [
        (Timeframe.MINUTE_1, "2024-01-01 00:00:59.999", "2024-01-01 00:00", "2024-01-01 00:01"),
        (Timeframe.MINUTE_45, "2023-12-31 23:59", "2023-12-31 23:15", "2024-01-01 00:00"),
        (Timeframe.MINUTE_45, "2024-01-01 00:44", "2024-01-01 00:00", "2024-01-01 00:45"),
        (Timeframe.MINUTE_45, "2024-01-01 10:30", "2024-01-01 10:30", "2024-01-01 11:15"),
        (Timeframe.HOUR_3, "2024-03-10 02:59", "2024-03-10 00:00", "2024-03-10 03:00"),
        (Timeframe.HOUR_3, "2024-03-10 23:00", "2024-03-10 21:00", "2024-03-11 00:00"),
        (Timeframe.HOUR_4, "2020-01-02 14:40", "2020-01-02 12:00", "2020-01-02 16:00"),
        (Timeframe.DAY_1, "2024-02-29 23:59:59.999", "2024-02-29 00:00", "2024-03-01 00:00"),
        (Timeframe.WEEK_1, "2024-12-31 12:00", "2024-12-30 00:00", "2025-01-06 00:00"),
        (Timeframe.WEEK_1, "2025-01-05 23:59", "2024-12-30 00:00", "2025-01-06 00:00"),
        (Timeframe.WEEK_1, "2025-01-06 00:00", "2025-01-06 00:00", "2025-01-13 00:00"),
        (Timeframe.WEEK_1, "1970-01-01 00:00", "1969-12-29 00:00", "1970-01-05 00:00"),
        (Timeframe.MONTH_1, "2024-02-29 12:00", "2024-02-01 00:00", "2024-03-01 00:00"),
        (Timeframe.MONTH_1, "2023-02-28 23:59", "2023-02-01 00:00", "2023-03-01 00:00"),
        (Timeframe.MONTH_1, "2023-12-31 23:59", "2023-12-01 00:00", "2024-01-01 00:00"),
    ],
)
def test_bucket_start_and_next_start(
    timeframe: Timeframe, moment: str, start: str, end: str
) -> None:
    assert timeframe.bucket_start(ms(moment)) == ms(start)
    assert timeframe.next_start(ms(moment)) == ms(end)
    assert timeframe.next_start(ms(start)) == ms(end)


@pytest.mark.parametrize(
    ("timeframe", "start", "previous"),
    [
        (Timeframe.MINUTE_45, "2024-01-01 00:00", "2023-12-31 23:15"),
        (Timeframe.WEEK_1, "2025-01-06 00:00", "2024-12-30 00:00"),
        (Timeframe.MONTH_1, "2024-03-01 00:00", "2024-02-01 00:00"),
        (Timeframe.MONTH_1, "2024-01-15 08:00", "2023-12-01 00:00"),
        (Timeframe.HOUR_2, "2024-01-01 01:00", "2023-12-31 22:00"),
    ],
)
def test_previous_start_is_the_bucket_before(
    timeframe: Timeframe, start: str, previous: str
) -> None:
    assert timeframe.previous_start(ms(start)) == ms(previous)


def test_february_of_a_leap_year_is_a_29_day_month() -> None:
    feb = ms("2024-02-10")
    length = Timeframe.MONTH_1.next_start(feb) - Timeframe.MONTH_1.bucket_start(feb)
    assert length == 29 * 24 * 60 * MINUTE_MS


@given(
    st.sampled_from(list(Timeframe)),
    st.integers(min_value=ms("1969-01-01"), max_value=ms("2200-01-01")),
)
def test_every_instant_lies_in_exactly_one_aligned_bucket(timeframe: Timeframe, ts: int) -> None:
    start, end = timeframe.bucket_start(ts), timeframe.next_start(ts)
    assert start <= ts < end
    assert timeframe.bucket_start(start) == start
    assert timeframe.bucket_start(end - 1) == start
    assert timeframe.bucket_start(end) == end
    assert timeframe.previous_start(end) == start
    opened = utc(start)
    if timeframe.width_ms is not None and timeframe.width_ms <= 24 * 60 * MINUTE_MS:
        assert start % timeframe.width_ms == 0
        midnight = ms(opened.strftime("%Y-%m-%d"))
        assert (start - midnight) % timeframe.width_ms == 0
    if timeframe is Timeframe.WEEK_1:
        assert (opened.weekday(), opened.hour, opened.minute) == (0, 0, 0)
    if timeframe is Timeframe.MONTH_1:
        assert (opened.day, opened.hour, opened.minute) == (1, 0, 0)


def test_timeframes_compare_equal_to_their_wire_label() -> None:
    assert str(Timeframe.HOUR_1) == "1H"
    assert {"1H": "hour"}[Timeframe.HOUR_1] == "hour"
    assert f"{Timeframe.MINUTE_45}" == "45"
