"""The bus messages: what the collector encodes, every consumer decodes back unchanged, and
the bytes on the wire are the documented ones."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkora_core.books import Book
from linkora_core.candles import Candle, LiveCandle
from linkora_core.market_messages import (
    book_from,
    book_message,
    candle_from,
    candle_message,
    decode,
    encode,
)
from linkora_core.markets import BINANCE_SPOT, VENUES, Market, parse_market
from linkora_core.timeframes import Timeframe

# The samples of the module docstring, byte for byte.
CANDLE = (
    b'{"symbol":"BTCUSDT","timestamp":1699999980000,"open":"37000.1","high":"37012.5",'
    b'"low":"36999","close":"37010","volume":"12.5","quote_volume":"462600","trades":101,'
    b'"timeframe":"1","closed":false,"close_time":1700000039999,'
    b'"taker_buy_volume":"6.2","taker_buy_quote_volume":"229400"}'
)
BOOK = (
    b'{"symbol":"BTCUSDT","timestamp":1700000012345,"last_update_id":160,'
    b'"bids":[{"price":"37000","quantity":"1.5"}],"asks":[{"price":"37000.1","quantity":"2"}]}'
)

symbols = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=20)
markets = st.builds(Market, st.sampled_from(VENUES), symbols)
amounts = st.decimals(min_value=0, max_value=10**12, places=8)


@st.composite
def live_candles(draw: st.DrawFn) -> LiveCandle:
    timeframe = draw(st.sampled_from(Timeframe))
    at = timeframe.bucket_start(draw(st.integers(0, 2**42)))
    o, h, low, c, volume, quote, taker, taker_quote = draw(st.tuples(*[amounts] * 8))
    trades = draw(st.integers(0, 2**40))
    candle = Candle(at, o, h, low, c, volume, quote, trades, taker, taker_quote, timeframe)
    return LiveCandle(draw(markets), candle, draw(st.booleans()))


sides = st.lists(st.tuples(amounts, amounts), max_size=5).map(tuple)
books = st.builds(Book, markets, st.integers(0, 2**53), st.integers(0, 2**63 - 1), sides, sides)


@given(live_candles())
def test_a_candle_decodes_to_what_was_encoded(live: LiveCandle) -> None:
    data = encode(candle_message(live))
    assert candle_from(decode(data)) == live
    assert encode(candle_message(candle_from(decode(data)))) == data


@given(books)
def test_a_book_decodes_to_what_was_encoded(book: Book) -> None:
    data = encode(book_message(book))
    assert book_from(decode(data)) == book
    assert encode(book_message(book_from(decode(data)))) == data


def test_the_documented_samples_are_the_bytes_on_the_wire() -> None:
    live = candle_from(decode(CANDLE))
    assert live.candle.high == Decimal("37012.5") and not live.closed
    assert encode(candle_message(live)) == CANDLE
    book = book_from(decode(BOOK))
    assert book.bids == ((Decimal(37000), Decimal("1.5")),)
    assert encode(book_message(book)) == BOOK
    assert live.market == book.market == Market(BINANCE_SPOT, "BTCUSDT")


def test_another_venue_names_its_exchange_and_kind_first() -> None:
    live = candle_from(decode(CANDLE))
    bybit = LiveCandle(parse_market("bybit:linear:BTCUSDT"), live.candle, live.closed)
    data = encode(candle_message(bybit))
    assert data == b'{"exchange":"bybit","kind":"linear",' + CANDLE[1:]
    assert candle_from(decode(data)) == bybit


@pytest.mark.parametrize(
    "extra",
    [b'"exchange":"nasdaq","kind":"spot",', b'"exchange":"okx","kind":"linear",', b'"kind":1,'],
)
def test_a_message_of_an_unknown_venue_is_refused(extra: bytes) -> None:
    with pytest.raises(ValueError):
        candle_from(decode(b"{" + extra + CANDLE[1:]))


@pytest.mark.parametrize(
    "data",
    [b"[]", b'{"timestamp":1}', b'{"symbol":1}', b"not json"],
)
def test_anything_but_an_object_naming_its_symbol_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode(data)


@pytest.mark.parametrize(
    "change",
    [
        {"open": 37000.1},
        {"trades": "101"},
        {"close_time": 1700000099999},
        {"timeframe": "2"},
        {"closed": 0},
        {"volume": "NaN"},
        {"timeframe": "1M", "timestamp": 2**62},
    ],
)
def test_a_candle_message_off_its_shape_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        candle_from({**decode(CANDLE), **change})


def test_a_candle_message_may_leave_out_what_the_wire_spec_makes_optional() -> None:
    minimal = decode(CANDLE)
    for name in ("timeframe", "closed", "close_time", "trades"):
        del minimal[name]
    live = candle_from(minimal)
    assert (live.candle.timeframe, live.closed, live.candle.trades) == (
        Timeframe.MINUTE_1,
        False,
        0,
    )
    assert live.candle.close_time_ms == 1700000039999


@pytest.mark.parametrize(
    "change",
    [{"last_update_id": "160"}, {"bids": [["37000", "1.5"]]}, {"asks": None}],
)
def test_a_book_message_off_its_shape_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        book_from({**decode(BOOK), **change})
