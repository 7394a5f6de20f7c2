"""What the `status`, `list` and `help` commands cost: the hub keeps its client count as
clients come and go (exact, a client removed twice counted out once); `help` is one message
built once; `list` is rebuilt only when ControlWatch has read the markets again."""

from __future__ import annotations

from typing import Any, cast

import orjson

from api_server.control_watch import ControlWatch
from api_server.market_catalog import CollectedMarket
from api_server.ws_commands import answer
from api_server.ws_context import WsContext
from api_server.ws_hub import Client, Hub
from linkora_core.markets import Exchange, Kind, Market, Venue


def _client(ip: str) -> Client:
    return Client(None, ip, max_backlog=2**20)  # type: ignore[arg-type]  # never sent


def test_the_client_count_follows_adds_and_removes() -> None:
    hub = Hub()
    clients = [_client("10.0.0.1"), _client("10.0.0.1"), _client("10.0.0.2")]
    for client in clients:
        hub.add(client)
    hub.add(clients[0])  # twice: still one connection
    assert (hub.clients, hub.connections("10.0.0.1")) == (3, 2)
    hub.remove(clients[0])
    hub.remove(clients[0])
    assert (hub.clients, hub.connections("10.0.0.1"), hub.connections("10.0.0.2")) == (2, 1, 1)
    for client in clients[1:]:
        hub.remove(client)
    assert (hub.clients, hub.connections("10.0.0.1")) == (0, 0)


def _context(watch: ControlWatch) -> WsContext:
    # `list` and `help` read only the watch's markets.
    return cast(WsContext, type("Context", (), {"control": watch})())


def _watch() -> ControlWatch:
    return ControlWatch("", None, None)  # type: ignore[arg-type]  # never run


def _data(text: str) -> Any:
    return orjson.loads(text)["data"]


def test_help_is_built_once_and_list_once_per_refresh() -> None:
    watch = _watch()
    context, client = _context(watch), _client("10.0.0.1")
    assert answer("help", client, context) is answer("help", client, _context(_watch()))

    first = answer("list", client, context)
    assert answer("list", client, context) is first
    assert _data(first.text)["markets"] == []
    btc = CollectedMarket(Market(Venue(Exchange.BYBIT, Kind.LINEAR), "BTCUSDT"), "realtime", 0, 0)
    watch.markets = [btc]
    watch.refreshed += 1  # what ControlWatch.refresh does after reading the markets
    again = answer("list", client, context)
    assert again is not first
    assert [m["market"] for m in _data(again.text)["markets"]] == ["bybit:linear:BTCUSDT"]
    # Another app's watch has its own answer.
    assert _data(answer("list", client, _context(_watch())).text)["markets"] == []
