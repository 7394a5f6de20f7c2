"""Exchanges that publish no trade count (nor taker volumes): a candle's `trades` and taker
volumes are None, a minute traded when it has volume, and buckets built in Python (aggregate,
LiveBucket) agree with each other and keep what is unknown unknown."""

from decimal import Decimal

import orjson

from linkora_core.candles import Candle, LiveCandle, aggregate, has_trades, parse_kline
from linkora_core.live_bucket import LiveBucket
from linkora_core.market_messages import candle_from, candle_message
from linkora_core.markets import Exchange, Kind, Market, Venue
from linkora_core.timeframes import MINUTE_MS, Timeframe

START = 1_714_521_600_000  # 2024-05-01, a 5m boundary
BYBIT = Market(Venue(Exchange.BYBIT, Kind.LINEAR), "BTCUSDT")


def uncounted(n: int, o: str, h: str, low: str, c: str, volume: str) -> Candle:
    v = Decimal(volume)
    at = START + n * MINUTE_MS
    return Candle(at, Decimal(o), Decimal(h), Decimal(low), Decimal(c), v, v * 2, None, None, None)


MINUTES = [
    uncounted(0, "10", "10", "10", "10", "0"),  # a placeholder: no volume
    uncounted(1, "11", "14", "10.5", "13", "2"),
    uncounted(2, "13", "13", "13", "13", "0"),
    uncounted(3, "13", "15", "12", "14", "1"),
]


def test_a_minute_without_a_count_traded_when_it_has_volume() -> None:
    assert [has_trades(m) for m in MINUTES] == [False, True, False, True]


def test_aggregate_takes_prices_from_minutes_with_volume_and_keeps_the_count_unknown() -> None:
    (bucket,) = aggregate(MINUTES, Timeframe.MINUTE_5)
    assert (bucket.open, bucket.high, bucket.low, bucket.close) == tuple(
        map(Decimal, ("11", "15", "10.5", "14"))
    )
    assert (bucket.volume, bucket.trades) == (Decimal(3), None)
    assert (bucket.taker_buy_volume, bucket.taker_buy_quote_volume) == (None, None)


def test_a_live_bucket_of_uncounted_minutes_equals_aggregate() -> None:
    live = LiveBucket(Timeframe.MINUTE_5)
    for m in MINUTES:
        update = live.update(m)
    assert update is not None
    assert update.current == aggregate(MINUTES, Timeframe.MINUTE_5)[0]


def test_a_candle_message_with_trades_null_reads_back_as_uncounted() -> None:
    message = orjson.loads(orjson.dumps(candle_message(LiveCandle(BYBIT, MINUTES[1], True))))
    assert message["trades"] is None and message["exchange"] == "bybit"
    assert message["taker_buy_volume"] is None is message["taker_buy_quote_volume"]
    live = candle_from(message)
    assert (live.market, live.candle, live.closed) == (BYBIT, MINUTES[1], True)


def test_a_kline_row_without_count_or_taker_volumes_parses_to_none_there() -> None:
    row = [START + MINUTE_MS, "11", "14", "10.5", "13", "2", START + 2 * MINUTE_MS - 1, "4"]
    assert parse_kline([*row, None, None, None, "0"]) == MINUTES[1]


def test_a_live_bucket_mixing_counted_and_uncounted_minutes_sums_what_is_known() -> None:
    counted = Candle(START, *(Decimal(1),) * 6, 5, Decimal("0.5"), Decimal("0.25"))
    live = LiveBucket(Timeframe.MINUTE_5)
    live.update(counted)
    update = live.update(MINUTES[1])
    assert update is not None
    current = update.current
    assert (current.trades, current.taker_buy_volume, current.taker_buy_quote_volume) == (
        5, Decimal("0.5"), Decimal("0.25"),
    )  # fmt: skip
    assert current == aggregate([counted, MINUTES[1]], Timeframe.MINUTE_5)[0]
