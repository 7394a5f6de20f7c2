"""The WebSocket's sequence numbers and the hub's holding of broadcasts during a greeting, as
pure logic: seq appended after every existing field's bytes, marks read back from messages,
held broadcasts released once, oldest first, without what a greeting covered."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import orjson
import pytest
from starlette.websockets import WebSocket

from api_server.ws_hub import TRY_AGAIN_LATER, Client, Hub, Message, Topic
from api_server.ws_sequence import Mark, book_text, candle_text, mark_of
from linkora_core import market_messages
from linkora_core.candles import Candle
from linkora_core.markets import BINANCE_SPOT, Market, venue
from linkora_core.timeframes import Timeframe

BTC = Market(BINANCE_SPOT, "BTCUSDT")
BYBIT_ETH = Market(venue("bybit", "linear"), "ETHUSDT")


def candle(ms: int, timeframe: Timeframe = Timeframe.MINUTE_5) -> Candle:
    one = Decimal("1.50")
    return Candle(ms, one, one, one, one, one, one, 3, None, None, timeframe)


def client(backlog: int = 10**6) -> Client:
    return Client(cast(WebSocket, None), "test", max_backlog=backlog)


def test_a_book_keeps_its_bytes_and_gets_its_update_id_as_seq() -> None:
    data = b'{"symbol":"BTCUSDT","timestamp":7,"last_update_id":160,"bids":[],"asks":[]}'
    text = book_text(data, market_messages.decode(data))
    assert text == data.decode()[:-1] + ',"seq":160}'
    assert mark_of(text) == Mark("orderbook", BTC, "", 160, False)


@pytest.mark.parametrize(
    "data",
    [b'{"symbol":"BTCUSDT","last_update_id":"160"}', b'{"symbol":"BTCUSDT","last_update_id":true}'],
)
def test_a_book_without_an_integer_update_id_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="last_update_id"):
        book_text(data, market_messages.decode(data))


def test_a_candle_ends_with_its_bucket_open_time_as_seq() -> None:
    text = candle_text(BYBIT_ETH, candle(300_000), closed=True)
    message = orjson.loads(text)
    assert list(message)[:3] == ["exchange", "kind", "symbol"]
    assert list(message)[-2:] == ["closed", "seq"]
    assert message["seq"] == message["timestamp"] == 300_000
    assert mark_of(text) == Mark("candles", BYBIT_ETH, "5", 300_000, True)


@pytest.mark.parametrize(
    "text", ['{"type":"pong"}', "[1]", "not json", '{"symbol":"X","seq":"1"}', '{"seq":1}']
)
def test_other_messages_have_no_mark(text: str) -> None:
    assert mark_of(text) is None


def test_held_broadcasts_go_out_once_after_the_last_hold_without_the_covered() -> None:
    hub, reader = Hub(), client()
    topic = Topic("candles", "BTCUSDT", "5")
    reader.hold()
    reader.hold()
    hub.subscribe(reader, topic)
    texts = [candle_text(BTC, candle(ms), closed=True) for ms in (0, 300_000, 600_000)]
    for text in texts:
        assert hub.publish("candles", BTC, "5", text) == 1
    assert reader.queue.empty()
    assert reader.release(lambda m: orjson.loads(m.text)["seq"] == 0) == 0  # one hold left
    assert reader.queue.empty()
    assert reader.release(lambda m: orjson.loads(m.text)["seq"] == 600_000) == 1
    assert [reader.queue.get_nowait().text for _ in range(reader.queue.qsize())] == [texts[1]]
    hub.publish("candles", BTC, "5", texts[2])
    assert reader.queue.get_nowait().text == texts[2]  # no longer held, no longer covered


def test_a_client_holding_more_than_its_backlog_is_closed_as_too_slow() -> None:
    hub, reader = Hub(), client(backlog=1024)
    hub.subscribe(reader, Topic("orderbook", "BTCUSDT"))
    reader.hold()
    big = Message.of("x" * 2000)
    assert hub.deliver([Topic("orderbook", "BTCUSDT")], big.text) == 0
    assert reader.closing is not None and reader.closing[0] == TRY_AGAIN_LATER
    assert reader.release() == 0
