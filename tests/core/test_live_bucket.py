"""The live path: incremental buckets must equal aggregate() over the final minutes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkora_core.candles import Candle, aggregate
from linkora_core.live_bucket import LiveBucket, LiveCandles
from linkora_core.timeframes import MINUTE_MS, Timeframe

START = (datetime(2024, 2, 26, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    milliseconds=1
)  # a Monday, three days before a leap day


def version(at: int, o: str, h: str, low: str, c: str, volume: str, trades: int) -> Candle:
    v = Decimal(volume)
    return Candle(at, Decimal(o), Decimal(h), Decimal(low), Decimal(c), v, v * 3, trades, v / 2, v)


def minute_at(n: int) -> int:
    return START + n * MINUTE_MS


def test_an_updated_minute_replaces_its_earlier_version() -> None:
    live = LiveBucket(Timeframe.MINUTE_5)
    live.update(version(minute_at(0), "10", "11", "10", "11", "2", 5))
    result = live.update(version(minute_at(0), "10", "12", "9", "12", "3", 7))
    assert result is not None and result.closed is None
    assert (result.current.volume, result.current.trades) == (Decimal(3), 7)
    assert (result.current.high, result.current.low, result.current.close) == tuple(
        map(Decimal, (12, 9, 12))
    )


def test_a_minute_of_the_next_bucket_closes_the_previous_one_once() -> None:
    live = LiveBucket(Timeframe.MINUTE_5)
    first = live.update(version(minute_at(3), "10", "11", "10", "11", "2", 5))
    second = live.update(version(minute_at(5), "11", "11", "11", "11", "1", 1))
    third = live.update(version(minute_at(6), "11", "13", "11", "13", "1", 1))
    assert first is not None and second is not None and third is not None
    assert second.closed == first.current
    assert second.closed.open_time_ms == minute_at(0)
    assert third.closed is None
    assert third.current.open_time_ms == minute_at(5)


def test_a_minute_older_than_the_open_bucket_is_ignored() -> None:
    live = LiveBucket(Timeframe.MINUTE_5)
    live.update(version(minute_at(4), "10", "11", "10", "11", "2", 5))
    live.update(version(minute_at(5), "11", "11", "11", "11", "1", 1))
    before = live.current
    assert live.update(version(minute_at(4), "10", "99", "1", "50", "9", 9)) is None
    assert live.current == before


def test_a_lower_revision_of_the_minute_holding_the_high_lowers_the_high() -> None:
    live = LiveBucket(Timeframe.HOUR_1)
    live.update(version(minute_at(0), "10", "20", "5", "15", "1", 1))
    live.update(version(minute_at(1), "15", "16", "14", "16", "1", 1))
    result = live.update(version(minute_at(0), "10", "12", "9", "11", "1", 1))
    assert result is not None
    assert (result.current.high, result.current.low) == (Decimal(16), Decimal(9))


def test_a_sub_candle_spanning_two_buckets_is_refused_without_losing_state() -> None:
    live = LiveBucket(Timeframe.MINUTE_45)
    live.update(version(minute_at(0), "10", "11", "10", "11", "2", 5))
    before = live.current
    hour = replace(version(minute_at(60), "1", "1", "1", "1", "1", 1), timeframe=Timeframe.HOUR_1)
    with pytest.raises(ValueError, match="spans two buckets"):
        live.update(hour)
    assert live.current == before


def test_a_new_bucket_has_no_current_candle_before_its_first_minute() -> None:
    assert LiveBucket(Timeframe.DAY_1).current is None


def test_live_candles_feed_one_minute_to_every_timeframe_of_its_symbol() -> None:
    live = LiveCandles([Timeframe.MINUTE_5, Timeframe.HOUR_1])
    live.update("BTCUSDT", version(minute_at(0), "10", "11", "10", "11", "2", 5))
    live.update("ETHUSDT", version(minute_at(0), "1", "1", "1", "1", "1", 1))
    updates = live.update("BTCUSDT", version(minute_at(5), "11", "12", "11", "12", "1", 1))
    assert set(updates) == {Timeframe.MINUTE_5, Timeframe.HOUR_1}
    five, hour = updates[Timeframe.MINUTE_5], updates[Timeframe.HOUR_1]
    assert five.closed is not None and five.closed.volume == Decimal(2)
    assert hour.closed is None and hour.current.volume == Decimal(3)
    assert hour.current.timeframe is Timeframe.HOUR_1


def test_live_candles_leave_out_timeframes_for_which_a_minute_is_stale() -> None:
    live = LiveCandles([Timeframe.MINUTE_5, Timeframe.HOUR_1])
    live.update("BTCUSDT", version(minute_at(4), "10", "11", "10", "11", "2", 5))
    live.update("BTCUSDT", version(minute_at(5), "10", "11", "10", "11", "2", 5))
    late = live.update("BTCUSDT", version(minute_at(4), "10", "11", "10", "12", "3", 6))
    assert set(late) == {Timeframe.HOUR_1}
    assert late[Timeframe.HOUR_1].current.volume == Decimal(5)


@st.composite
def minute_version(draw: st.DrawFn, at: int) -> Candle:
    price = Decimal(draw(st.integers(1, 99)))
    if draw(st.integers(0, 3)) == 0:
        zero = Decimal(0)
        return Candle(at, price, price, price, price, zero, zero, 0, zero, zero)
    high = price + draw(st.integers(0, 9))
    low = price - Decimal(draw(st.integers(0, 99))) / 100
    volume = Decimal(draw(st.integers(0, 10**6))) / 10**8
    return Candle(at, price, high, low, high, volume, volume * high, draw(st.integers(1, 50)),
                  volume / 2, volume * high / 2)  # fmt: skip


@st.composite
def live_feed(draw: st.DrawFn, timeframe: Timeframe) -> tuple[list[Candle], dict[int, Candle]]:
    """Minute versions in arrival order, and the final version of every minute that counts.

    Within a bucket the versions of different minutes interleave freely (each minute's own
    versions stay in order); between buckets a stale re-send of an old minute may slip in.
    """
    span = draw(st.sampled_from([90, 24 * 60, 70 * 24 * 60]))
    offsets = sorted(draw(st.sets(st.integers(0, span), min_size=1, max_size=60)))
    buckets: dict[int, list[int]] = {}
    for offset in offsets:
        buckets.setdefault(timeframe.bucket_start(minute_at(offset)), []).append(minute_at(offset))
    feed: list[Candle] = []
    final: dict[int, Candle] = {}
    for minutes in buckets.values():
        resend_late = bool(feed) and draw(st.booleans())
        late = feed[-1].open_time_ms if resend_late else None
        versions = {
            at: draw(st.lists(minute_version(at), min_size=1, max_size=4)) for at in minutes
        }
        order = draw(st.permutations([at for at in minutes for _ in versions[at]]))
        for at in order:
            feed.append(versions[at].pop(0))
            final[at] = feed[-1]
            if late is not None:
                feed.append(draw(minute_version(late)))
                late = None
    return feed, final


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Timeframe)).flatmap(lambda tf: st.tuples(st.just(tf), live_feed(tf))))
def test_live_buckets_equal_aggregate_and_close_each_bucket_once_in_order(
    case: tuple[Timeframe, tuple[list[Candle], dict[int, Candle]]],
) -> None:
    timeframe, (feed, final) = case
    live = LiveBucket(timeframe)
    seen: dict[int, Candle] = {}
    closed: list[Candle] = []
    for sub in feed:
        result = live.update(sub)
        if result is None:
            assert timeframe.bucket_start(sub.open_time_ms) < max(seen)
            continue
        seen[sub.open_time_ms] = sub
        if result.closed is not None:
            closed.append(result.closed)
        open_bucket = [m for at, m in seen.items() if at >= result.current.open_time_ms]
        assert [result.current] == aggregate(open_bucket, timeframe)
    assert live.current is not None
    assert [*closed, live.current] == aggregate(final.values(), timeframe)
    starts = [c.open_time_ms for c in closed]
    assert starts == sorted(set(starts))
