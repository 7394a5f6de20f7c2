"""The WebSocket streams' logic without a network: which subscription a progress or system
request names, the progress relay's filters, greeting and throttle (on a fake clock), the
control event of a market removed, and what the hub does with it."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest
from starlette.websockets import WebSocket

from api_server import control_events, progress_relay, system_feed
from api_server.progress_relay import ProgressRelay
from api_server.ws_endpoint import parse_topic
from api_server.ws_hub import ALL, Client, Hub, Message, Topic
from linkora_core import progress_messages
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue
from linkora_core.progress_messages import ProgressReport, Status

BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
BTC = Market(BYBIT_LINEAR, "BTCUSDT")
ETH = Market(BYBIT_LINEAR, "ETHUSDT")
SPOT_BTC = Market(BINANCE_SPOT, "BTCUSDT")


def client() -> Client:
    return Client(cast(WebSocket, None), "1.2.3.4", 10**9)


def drain(c: Client) -> list[dict[str, Any]]:
    out = []
    while not c.queue.empty():
        out.append(orjson.loads(c.queue.get_nowait().text))
    return out


def report(market: Market, done: int, status: Status = "running") -> bytes:
    return progress_messages.encode(
        ProgressReport(market, status, "backfilling", done, 1000, 50, 10)
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_without_a_market_is_every_market_and_system_is_one_topic() -> None:
    assert parse_topic("progress", None, None) == progress_relay.EVERY_MARKET
    assert parse_topic("progress", "all", None, "") == progress_relay.EVERY_MARKET
    assert parse_topic("progress", None, None, "bybit", "linear") == Topic(
        "progress", ALL, "", BYBIT_LINEAR
    )
    assert parse_topic("progress", "btcusdt", "5", "bybit", "linear") == Topic(
        "progress", "BTCUSDT", "", BYBIT_LINEAR
    )
    # A symbol without an exchange is Binance spot's, as for candles.
    assert parse_topic("progress", "BTCUSDT", None) == Topic("progress", "BTCUSDT", "")
    assert parse_topic("system", None, None) == system_feed.TOPIC
    assert parse_topic("system", "ETHUSDT", None, "okx") == system_feed.TOPIC


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("progress", None, None, None, "linear"), "Invalid exchange or kind"),
        (("progress", None, None, "kraken"), "unknown exchange"),
        (("progress", "b@d", None), "Invalid symbol"),
        (("trades", None, None), "Invalid type: trades"),
        (("system", None, "7"), "Invalid timeframe: 7"),
    ],
)
def test_bad_progress_and_system_requests_name_why(args: tuple[Any, ...], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_topic(*args)


def test_reports_reach_the_market_the_venue_and_every_market_subscribers_only() -> None:
    hub = Hub()
    one, venue, every, other = client(), client(), client(), client()
    hub.subscribe(one, Topic("progress", "BTCUSDT", "", BYBIT_LINEAR))
    hub.subscribe(venue, Topic("progress", ALL, "", BYBIT_LINEAR))
    hub.subscribe(every, progress_relay.EVERY_MARKET)
    hub.subscribe(other, Topic("candles", "BTCUSDT", "1", BYBIT_LINEAR))
    relay = ProgressRelay(hub, clock=Clock())
    for market in (BTC, ETH, SPOT_BTC):
        assert relay.handle(report(market, 10))
    assert [m["data"]["market"] for m in drain(one)] == ["bybit:linear:BTCUSDT"]
    assert [m["data"]["symbol"] for m in drain(venue)] == ["BTCUSDT", "ETHUSDT"]
    got = drain(every)
    assert [m["data"]["market"] for m in got] == [
        "bybit:linear:BTCUSDT",
        "bybit:linear:ETHUSDT",
        "binance:spot:BTCUSDT",
    ]
    expected = progress_messages.payload(progress_messages.decode(report(BTC, 10)))
    assert got[0] == {"type": "progress", "data": expected}
    assert drain(other) == []


def test_a_client_following_a_market_twice_gets_each_report_once() -> None:
    hub, c = Hub(), client()
    hub.subscribe(c, Topic("progress", "BTCUSDT", "", BYBIT_LINEAR))
    hub.subscribe(c, progress_relay.EVERY_MARKET)
    ProgressRelay(hub, clock=Clock()).handle(report(BTC, 1))
    assert len(drain(c)) == 1


def test_running_reports_are_throttled_per_market_and_a_status_change_always_goes_out() -> None:
    hub, c, clock = Hub(), client(), Clock()
    hub.subscribe(c, progress_relay.EVERY_MARKET)
    relay = ProgressRelay(hub, min_gap=0.25, clock=clock)
    sent = []
    for step in range(10):  # ten reports 0.1 s apart: one every 0.25 s or more goes out
        sent.append(relay.handle(report(BTC, step)))
        relay.handle(report(ETH, step))
        clock.now += 0.1
    assert sent == [True, False, False, True, False, False, True, False, False, True]
    assert relay.handle(report(BTC, 1000, "done"))
    got = [(m["data"]["symbol"], m["data"]["done"]) for m in drain(c)]
    assert [done for symbol, done in got if symbol == "BTCUSDT"] == [0, 3, 6, 9, 1000]
    assert [done for symbol, done in got if symbol == "ETHUSDT"] == [0, 3, 6, 9]


def test_a_new_subscriber_is_greeted_with_the_latest_report_of_each_running_market() -> None:
    hub, clock = Hub(), Clock()
    relay = ProgressRelay(hub, clock=clock)
    relay.handle(report(BTC, 1))
    relay.handle(report(BTC, 2))  # throttled, yet the newest: the one greeted with
    relay.handle(report(ETH, 5))
    relay.handle(report(SPOT_BTC, 7))
    relay.handle(report(SPOT_BTC, 1000, "done"))  # no longer running
    assert relay.running == 2
    every, one = client(), client()
    assert relay.greet(every, progress_relay.EVERY_MARKET) == 2
    assert {(m["data"]["symbol"], m["data"]["done"]) for m in drain(every)} == {
        ("BTCUSDT", 2),
        ("ETHUSDT", 5),
    }
    assert relay.greet(one, Topic("progress", "ETHUSDT", "", BYBIT_LINEAR)) == 1
    assert [m["data"]["done"] for m in drain(one)] == [5]
    # A market whose collector stopped reporting is not greeted with once stale.
    clock.now += progress_relay.STALE_AFTER + 1
    relay.handle(report(ETH, 6))
    late = client()
    assert relay.greet(late, progress_relay.EVERY_MARKET) == 1
    assert [m["data"]["symbol"] for m in drain(late)] == ["ETHUSDT"]
    assert relay.running == 1


@pytest.mark.parametrize(
    "raw", [b"not json", b"{}", b'{"market":"bybit:linear:BTCUSDT","status":"sleeping"}']
)
def test_a_malformed_report_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        ProgressRelay(Hub()).handle(raw)


def test_the_removed_market_is_read_from_the_event() -> None:
    event = {
        "event": "market_removed",
        "market": "bybit:linear:BTCUSDT",
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
    }
    assert control_events.removed_market(orjson.dumps(event)) == BTC
    assert control_events.removed_market(b'{"event":"market_removed","market":"ETHUSDT"}') == (
        Market(BINANCE_SPOT, "ETHUSDT")
    )
    assert control_events.removed_market(b'{"event":"settings_changed"}') is None
    unknown_exchange = b'{"event":"market_removed","exchange":"kraken","symbol":"X1"}'
    for bad in (b"[]", b"nope", b'{"event":"market_removed"}', unknown_exchange):
        with pytest.raises(ValueError):
            control_events.removed_market(bad)


def test_a_removed_market_ends_its_own_subscriptions_and_closes_who_has_none_left() -> None:
    hub = Hub()
    only, both, venue_all = client(), client(), client()
    for c in (only, both, venue_all):
        hub.add(c)
    hub.subscribe(only, Topic("candles", "BTCUSDT", "5", BYBIT_LINEAR))
    hub.subscribe(only, Topic("progress", "BTCUSDT", "", BYBIT_LINEAR))
    hub.subscribe(both, Topic("orderbook", "BTCUSDT", "", BYBIT_LINEAR))
    hub.subscribe(both, Topic("orderbook", "ETHUSDT", "", BYBIT_LINEAR))
    hub.subscribe(venue_all, Topic("candles", ALL, "1", BYBIT_LINEAR))
    assert control_events.end_market(hub, BTC) == 1
    notice = {
        "type": "market_removed",
        "market": "bybit:linear:BTCUSDT",
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
        "message": "bybit:linear:BTCUSDT is no longer collected",
    }
    assert drain(only) == [notice]  # told once, however many of its topics it followed
    assert only.closing == (1000, "market removed") and only.topics == set()
    assert drain(both) == [notice] and both.closing is None
    assert both.topics == {Topic("orderbook", "ETHUSDT", "", BYBIT_LINEAR)}
    assert drain(venue_all) == [] and venue_all.closing is None
    assert hub.publish("orderbook", BTC, "", "x") == 0
    assert hub.publish("orderbook", ETH, "", "y") == 1


def test_deliver_counts_and_skips_closing_clients() -> None:
    hub, a, b = Hub(), client(), client()
    for c in (a, b):
        hub.subscribe(c, system_feed.TOPIC)
    b.close_soon(1000, "bye")
    assert hub.deliver((system_feed.TOPIC,), "s") == 1
    assert hub.followed(system_feed.TOPIC) and not hub.followed(progress_relay.EVERY_MARKET)
    assert a.queue.get_nowait() == Message.of("s")
