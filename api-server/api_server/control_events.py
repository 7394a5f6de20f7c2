"""The control events the api-server acts on at once (`bus.CONTROL`, published by the admin
API after its change is committed)::

    {"event":"market_removed","market":"bybit:linear:BTCUSDT","exchange":"bybit",
     "kind":"linear","symbol":"BTCUSDT"}

A market removed: every client subscribed to one of its own topics is told, those
subscriptions end, and a client left with none is closed (1000, "market removed").

The event is the fast path only: ControlWatch ends the same way every market that leaves the
collected set (a lost publish, an exchange switched off), within its 5 s re-read at most."""

from __future__ import annotations

from typing import Any

import orjson

from api_server.ws_hub import Hub, Message
from linkora_core import markets
from linkora_core.markets import Market

MARKET_REMOVED = "market_removed"
NORMAL = 1000
CLOSE_REASON = "market removed"


def removed_market(raw: bytes | str) -> Market | None:
    """The market a `market_removed` event names; None for any other event. ValueError when
    `raw` is no control event or names no market."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise ValueError("no event named")
    if event["event"] != MARKET_REMOVED:
        return None
    exchange, kind, symbol = (event.get(key) for key in ("exchange", "kind", "symbol"))
    if isinstance(exchange, str) and isinstance(symbol, str):
        venue = markets.venue(exchange, kind if isinstance(kind, str) else None)
        return Market(venue, markets.parse_symbol(symbol))
    if isinstance(event.get("market"), str):
        return markets.parse_market(event["market"])
    raise ValueError("market_removed names no market")


def notice(market: Market) -> dict[str, Any]:
    """What a subscriber of a removed market is sent."""
    return {
        "type": MARKET_REMOVED,
        **market.names(),
        "message": f"{market.qualified} is no longer collected",
    }


def end_market(hub: Hub, market: Market) -> int:
    """Tell and unsubscribe `market`'s subscribers; close those left with no subscription.
    Answers how many were closed."""
    left = hub.drop_market(market, Message.of(orjson.dumps(notice(market)).decode()))
    for client in left:
        client.close_soon(NORMAL, CLOSE_REASON)
    return len(left)
