"""The hub's bookkeeping and the bounded send queue, without a network."""

from __future__ import annotations

from typing import cast

from api_helpers import spot
from starlette.websockets import WebSocket

from api_server.ws_hub import Client, Hub, Topic


def client(ip: str = "1.2.3.4", backlog: int = 8) -> Client:
    return Client(cast(WebSocket, None), ip, backlog)


def test_a_client_over_its_backlog_is_marked_for_closing_with_1013_and_drops_only_it() -> None:
    # Each message is a 4-byte frame ("m0" behind a 2-byte header): a backlog of 8 bytes
    # takes three of them (the third arrives with 8 queued, not more) and then no more.
    hub, slow, fast = Hub(), client(backlog=8), client(backlog=100)
    for c in (slow, fast):
        hub.add(c)
        hub.subscribe(c, Topic("candles", "BTCUSDT", "5"))
    delivered = [hub.publish("candles", spot("BTCUSDT"), "5", f"m{i}") for i in range(6)]
    assert delivered == [2, 2, 2, 1, 1, 1]
    assert slow.closing == (1013, "Client too slow: send buffer full") and slow.done.is_set()
    assert fast.queue.qsize() == 6 and fast.backlog == 24 and hub.dropped_slow == 3
    assert [fast.queue.get_nowait().frame for _ in range(2)] == [b"\x81\x02m0", b"\x81\x02m1"]


def test_a_message_bigger_than_the_limit_still_reaches_a_client_that_keeps_up() -> None:
    hub, reader = Hub(), client(backlog=8)
    hub.add(reader)
    hub.subscribe(reader, Topic("orderbook", "BTCUSDT"))
    assert hub.publish("orderbook", spot("BTCUSDT"), "", "x" * 1000) == 1
    assert reader.closing is None and reader.backlog == 1004


def test_all_subscribers_get_every_symbol_and_ips_are_counted() -> None:
    hub, everything, one = Hub(), client(), client("5.6.7.8")
    for c, symbol in ((everything, "all"), (one, "ETHUSDT")):
        hub.add(c)
        hub.subscribe(c, Topic("orderbook", symbol))
    assert hub.publish("orderbook", spot("BTCUSDT"), "", "x") == 1
    assert hub.publish("orderbook", spot("ETHUSDT"), "", "y") == 2
    assert (hub.clients, hub.connections("1.2.3.4")) == (2, 1)
    hub.remove(everything)
    assert hub.clients == 1 and hub.publish("orderbook", spot("BTCUSDT"), "", "z") == 0


def test_wanted_timeframes_follow_subscriptions() -> None:
    hub, c = Hub(), client()
    hub.add(c)
    hub.subscribe(c, Topic("candles", "all", "1H"))
    hub.subscribe(c, Topic("candles", "BTCUSDT", "5"))
    assert hub.wanted_timeframes(spot("BTCUSDT")) == {"1H", "5"}
    assert hub.wanted_timeframes(spot("ETHUSDT")) == {"1H"}
    hub.unsubscribe(c, Topic("candles", "all", "1H"))
    assert hub.wanted_timeframes(spot("ETHUSDT")) == set()


def test_pending_bytes_sums_what_each_subscribed_client_has_not_taken_once() -> None:
    hub, both, other, idle = Hub(), client(backlog=100), client(backlog=100), client()
    for c in (both, other, idle):
        hub.add(c)
    for topic in (Topic("candles", "BTCUSDT", "5"), Topic("orderbook", "BTCUSDT")):
        hub.subscribe(both, topic)  # counted once, whatever it follows
    hub.subscribe(other, Topic("candles", "BTCUSDT", "5"))
    hub.publish("candles", spot("BTCUSDT"), "5", "m0")
    hub.publish("orderbook", spot("BTCUSDT"), "", "book")
    assert (both.unsent, other.unsent, idle.unsent) == (4 + 6, 4, 0)
    assert hub.pending_bytes == 14
