"""Binance spot combined-stream frames -> candles, book diffs, control events; REST depth ->
books; and their Redis messages."""

from __future__ import annotations

from decimal import Decimal

import orjson

from data_collector.binance_payloads import combined_url, parse_depth, parse_frame
from data_collector.book_sync import Diff
from data_collector.venue_stream import BookDiff, Reconnect
from linkora_core.candles import LiveCandle
from linkora_core.market_messages import book_message, candle_message
from linkora_core.markets import BINANCE_SPOT, Market

KLINE = {
    "stream": "btcusdt@kline_1m",
    "data": {
        "e": "kline",
        "E": 1700000012345,
        "s": "BTCUSDT",
        "k": {
            "t": 1700000040000,
            "T": 1700000099999,
            "s": "BTCUSDT",
            "i": "1m",
            "f": 100,
            "L": 200,
            "o": "37000.10000000",
            "c": "37010.00000000",
            "h": "37012.50000000",
            "l": "36999.00000000",
            "v": "12.50000000",
            "n": 101,
            "x": False,
            "q": "462600.00000000",
            "V": "6.20000000",
            "Q": "0.00000005",
            "B": "0",
        },
    },
}
DIFF = {
    "stream": "ethusdt@depth@100ms",
    "data": {
        "e": "depthUpdate",
        "E": 1700000000120,
        "s": "ETHUSDT",
        "U": 157,
        "u": 160,
        "b": [["2300.01000000", "1.50000000"]],
        "a": [["2300.02000000", "0.00000000"]],
    },
}
DEPTH = {
    "lastUpdateId": 160,
    "bids": [["2300.01000000", "1.50000000"], ["2300.00", "2"]],
    "asks": [["2300.02000000", "0.00000000"]],
}


def only(frame: object) -> object:
    (event,) = parse_frame(orjson.dumps(frame))
    return event


def test_a_kline_frame_becomes_a_candle_with_exact_decimals() -> None:
    event = only(KLINE)
    assert isinstance(event, LiveCandle)
    assert event.symbol == "BTCUSDT" and not event.closed
    assert event.candle.open_time_ms == 1700000040000
    assert event.candle.high == Decimal("37012.50000000")
    assert event.candle.trades == 101


def test_candle_message_has_the_wire_shape_with_plain_decimals() -> None:
    event = only(KLINE)
    assert isinstance(event, LiveCandle)
    assert candle_message(event) == {
        "symbol": "BTCUSDT",
        "timestamp": 1700000040000,
        "open": "37000.1",
        "high": "37012.5",
        "low": "36999",
        "close": "37010",
        "volume": "12.5",
        "quote_volume": "462600",
        "trades": 101,
        "timeframe": "1",
        "closed": False,
        "close_time": 1700000099999,
        "taker_buy_volume": "6.2",
        "taker_buy_quote_volume": "0.00000005",
    }


def test_a_diff_frame_is_the_levels_between_its_update_ids() -> None:
    event = only(DIFF)
    assert event == BookDiff(
        Market(BINANCE_SPOT, "ETHUSDT"),
        Diff(157, 160, [("2300.01000000", "1.50000000")], [("2300.02000000", "0.00000000")]),
    )


def test_a_rest_depth_answer_takes_the_requested_market_and_the_receive_time() -> None:
    book = parse_depth(Market(BINANCE_SPOT, "ETHUSDT"), DEPTH, 1700000000123, levels=1)
    assert book_message(book) == {
        "symbol": "ETHUSDT",
        "timestamp": 1700000000123,
        "last_update_id": 160,
        "bids": [{"price": "2300.01", "quantity": "1.5"}],
        "asks": [{"price": "2300.02", "quantity": "0"}],
    }


def test_server_shutdown_is_recognised_bare_or_wrapped_and_acks_give_nothing() -> None:
    assert parse_frame(b'{"e":"serverShutdown","E":1}') == [Reconnect("server shutdown announced")]
    wrapped = {"stream": "btcusdt@kline_1m", "data": {"e": "serverShutdown", "E": 1}}
    assert isinstance(only(wrapped), Reconnect)
    assert parse_frame(b'{"result":null,"id":1}') == []


def test_one_combined_url_carries_every_symbols_streams() -> None:
    assert combined_url("wss://stream.binance.com:9443/", ["BTCUSDT", "ETHUSDT"]) == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@kline_1m/btcusdt@depth@100ms/"
        "ethusdt@kline_1m/ethusdt@depth@100ms"
    )
