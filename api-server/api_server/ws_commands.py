"""Read-only WebSocket commands, `{"type":"command","data":"status"|"list"|"help"}`, answered
from what the process holds (no database round trip): `status` -> `{"type":"status","data":
{...}}`, `list` -> `{"type":"list","data":{"markets":[...],"timeframes":[...],...}}`, `help`
-> the message types and commands. Anything else is an error message.

`help` never changes and `list` only when ControlWatch reads the markets again: both answers
are built once (per refresh for `list`) and the same message sent to whoever asks."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import cache
from typing import Any, Final

import orjson

from api_server.control_watch import ControlWatch
from api_server.ws_context import WsContext
from api_server.ws_hub import ALL, Client, Message, Topic
from linkora_core.timeframes import Timeframe

STREAMS: Final = ("candles", "orderbook", "progress", "system")
TIMEFRAMES: Final = tuple(timeframe.value for timeframe in Timeframe)

# What a client may send; what the server sends (`help`, and the docs, say the same).
CLIENT_MESSAGES: Final = {
    "subscribe": '{"type":"subscribe","stream":"candles|orderbook|progress|system",'
    '"symbol":..,"timeframe":..,"exchange":..,"kind":..,"since":<ms>}; progress without a '
    "market: every market's, with exchange (and kind) only: that venue's; since (one market's "
    "candles; also ?since= in the query): resume, the closed candles opening after it replayed",
    "unsubscribe": "the same fields as the subscription it ends",
    "ping": '{"type":"ping"} -> {"type":"pong"}',
    "pong": "the answer to a heartbeat (optional)",
    "command": '{"type":"command","data":"status|list|help"}',
}
SERVER_MESSAGES: Final = {
    "candle": "{symbol, timeframe, timestamp, open, high, low, close, volume, quote_volume, "
    "trades, closed, ..., seq}, with exchange and kind first for a venue other than Binance "
    "spot; seq = the bucket's open time, the same on every replica; the open bucket first",
    "orderbook": "shaped like GET /orderbook, then seq (= last_update_id); the current book first",
    "replayed": '{"type":"replayed",symbol,timeframe,since,count,first,last,truncated} after '
    "a resume's replayed closed candles (at most 5000, the newest when truncated)",
    "progress": '{"type":"progress","data":{exchange, kind, symbol, market, status, message, '
    "percent, done, total, rate, eta_seconds}} at least once a second while a market "
    "backfills; the running markets' latest on subscribing",
    "system": '{"type":"system","data":<GET /system>} every WS_SYSTEM_INTERVAL s (5)',
    "market_removed": '{"type":"market_removed","market":..,"message":..}: its subscriptions '
    'end; a connection left with none is closed (1000, "market removed")',
    "status": "the answer to the status command",
    "list": "the answer to the list command",
    "help": "this",
    "heartbeat": '{"type":"heartbeat","timestamp":<ms>} every 30 s',
    "pong": "the answer to a ping",
    "error": '{"type":"error","error":"<why>"}',
}
COMMANDS: Final = {
    "status": "clients connected, this connection's subscriptions, markets collected, uptime",
    "list": "the markets collected (with their phase), timeframes and streams",
    "help": "the message types and commands",
}


def describe(topic: Topic) -> dict[str, Any]:
    """A subscription as the client would name it."""
    out: dict[str, Any] = {"stream": topic.kind}
    if topic.venue is not None:
        out["exchange"] = topic.venue.exchange.value
        out["kind"] = topic.venue.kind.value
    if topic.kind != "system":
        out["symbol"] = topic.symbol
    if topic.timeframe and topic.timeframe != ALL:
        out["timeframe"] = topic.timeframe
    return out


def _status(client: Client, context: WsContext) -> dict[str, Any]:
    topics = sorted(client.topics, key=lambda t: (t.kind, str(t.venue), t.symbol, t.timeframe))
    return {
        "clients": context.hub.clients,
        "subscriptions": [describe(topic) for topic in topics],
        "markets": len(context.control.markets),
        "backfilling": context.feed.progress.running,
        "uptime_seconds": int(context.uptime),
        "live_feed": "subscribed" if context.feed.connected else "disconnected",
        "update_interval": context.feed.update_interval,
    }


def _list(client: Client, context: WsContext) -> dict[str, Any]:
    return {
        "markets": [market.as_json() for market in context.control.markets],
        "timeframes": list(TIMEFRAMES),
        "streams": list(STREAMS),
    }


def _help(client: Client, context: WsContext) -> dict[str, Any]:
    return _help_data()


def _help_data() -> dict[str, Any]:
    return {
        "client_messages": CLIENT_MESSAGES,
        "server_messages": SERVER_MESSAGES,
        "commands": COMMANDS,
    }


_ANSWERS: Final[dict[str, Callable[[Client, WsContext], dict[str, Any]]]] = {
    "status": _status,
    "list": _list,
    "help": _help,
}


# The `list` answer of each ControlWatch (one per app) and the refresh it was built from.
_LISTS: weakref.WeakKeyDictionary[ControlWatch, tuple[int, Message]] = weakref.WeakKeyDictionary()


def _message(command: str, data: dict[str, Any]) -> Message:
    return Message.of(orjson.dumps({"type": command, "data": data}).decode())


@cache
def _help_message() -> Message:
    return _message("help", _help_data())


def _list_message(client: Client, context: WsContext) -> Message:
    watch = context.control
    built = _LISTS.get(watch)
    if built is None or built[0] != watch.refreshed:
        built = (watch.refreshed, _message("list", _list(client, context)))
        _LISTS[watch] = built
    return built[1]


def answer(command: object, client: Client, context: WsContext) -> Message:
    """The answer to `{"type":"command","data":command}`."""
    choices = ", ".join(sorted(_ANSWERS))
    if not isinstance(command, str):
        return error(f"Invalid command: data must be one of {choices}")
    if command not in _ANSWERS:
        return error(f"Unknown command: {command[:40]} (one of {choices})")
    if command == "help":
        return _help_message()
    if command == "list":
        return _list_message(client, context)
    return _message(command, _ANSWERS[command](client, context))


def error(text: str) -> Message:
    return Message.of(orjson.dumps({"type": "error", "error": text}).decode())
