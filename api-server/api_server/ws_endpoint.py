"""`/ws?symbol=BTCUSDT&timeframe=5&type=candles|orderbook|progress|system[&exchange=bybit&
kind=linear][&since=<ms>]` (without an exchange: Binance spot; `type=progress` without a
market: every market's; `since`, the open time of the last closed candle seen: resume, see
`ws_greeting`). Messages from the client: ping, subscribe (which may carry `since`) and
unsubscribe, and read-only commands (`ws_commands`).

Per connection: a receiver answering `ping`, a heartbeat and a watch for silence. With the
server's frame writer the handler itself is the receiver and the heartbeat and the watch are
timers (an idle connection holds no task of its own), and the hub closes a client by starting
the closing handshake, which ends the handler's wait. Without it, tasks: the receiver, the
heartbeat and a sender draining the client's queue; whichever ends first ends the connection.
Either way the close frame carries the reason when the server is the one closing."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from starlette.types import Message as AsgiMessage
from starlette.websockets import WebSocket, WebSocketDisconnect

from api_server import params, progress_relay, system_feed, ws_commands
from api_server.ws_context import WsContext
from api_server.ws_hub import ALL, TRY_AGAIN_LATER, Client, Message, Topic
from api_server.ws_protocol import FrameWriter, frame_writer
from linkora_core import markets
from linkora_core.http import BadRequest
from linkora_core.ratelimit import RateLimiter
from linkora_core.timeframes import Timeframe

POLICY = 1008
TOO_BIG = 1009
NORMAL = 1000
KINDS = ws_commands.STREAMS
_PONG = Message.of(orjson.dumps({"type": "pong"}).decode())
# RFC 6455: a close frame's payload is at most 125 bytes, 2 of them the code.
MAX_REASON_BYTES = 123
# How long a closing handshake may take, and a client closed as too slow may take to read its
# backlog and the close frame, before the connection is dropped.
CLOSE_GRACE = 1.0
# The latest `since` accepted (year 5138): beyond any bucket, and an exact integer in JavaScript.
MAX_SINCE = 10**14


def parse_topic(
    kind: str | None,
    symbol: str | None,
    timeframe: str | None,
    exchange: str | None = None,
    market_kind: str | None = None,
) -> Topic:
    """The subscription a query (or a subscribe message) asks for; ValueError names why not.
    `kind` is the stream (candles, orderbook, progress or system), `market_kind` the venue's
    kind of market."""
    kind = kind or "candles"
    timeframe = timeframe or "1"
    symbol = (symbol or ALL).strip()
    if kind not in KINDS:
        raise ValueError(f"Invalid type: {kind}")
    if timeframe not in Timeframe._value2member_map_:
        raise ValueError(f"Invalid timeframe: {timeframe}")
    if kind == system_feed.STREAM:
        return system_feed.TOPIC
    if (exchange is not None and len(exchange) > params.MAX_TEXT) or (
        market_kind is not None and len(market_kind) > params.MAX_TEXT
    ):
        raise ValueError("Invalid exchange or kind")
    if kind == progress_relay.STREAM and symbol.lower() == ALL and not (exchange or "").strip():
        if (market_kind or "").strip():
            raise ValueError("Invalid exchange or kind: a market kind needs an exchange")
        return progress_relay.EVERY_MARKET
    venue = markets.venue(exchange, market_kind)
    symbol = ALL if symbol.lower() == ALL else symbol.upper()
    if symbol != ALL:
        try:
            symbol = params.valid_symbol(symbol, venue)
        except BadRequest:
            raise ValueError(f"Invalid symbol: {symbol}") from None
    return Topic(kind, symbol, timeframe if kind == "candles" else "", venue)


def parse_since(value: object, topic: Topic, *, text: bool = True) -> int | None:
    """The `since` of a resume (epoch ms, the open time of the last closed candle seen): a
    query's text, or (`text` False) a subscribe message's integer; ValueError names why not."""
    if value is None:
        return None
    if text and isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_SINCE:
        raise ValueError(f"Invalid since: {value} (epoch milliseconds)")
    if topic.kind != "candles" or topic.symbol == ALL:
        raise ValueError("Invalid since: only one market's candle stream resumes")
    return value


def close_reason(text: str) -> str:
    """`text` cut to what a close frame holds, never inside a UTF-8 sequence."""
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def _refusal(websocket: WebSocket, context: WsContext) -> tuple[int, str] | None:
    """Why a new connection is refused (code, reason), if it is."""
    state, hub, settings = websocket.app.state, context.hub, context.settings
    ip = state.client_address(websocket.scope)
    limiter: RateLimiter | None = state.ws_handshakes
    if limiter is not None and limiter.check(ip) > 0:
        return POLICY, "Too many connection attempts; retry later"
    if hub.clients >= settings.ws_max_connections:
        return TRY_AGAIN_LATER, "Server at connection capacity; try again later"
    if hub.connections(ip) >= settings.ws_max_connections_per_ip:
        return POLICY, "Too many connections from this address"
    return None


async def websocket_endpoint(websocket: WebSocket) -> None:
    context: WsContext = websocket.app.state.ws
    hub, settings = context.hub, context.settings
    # Accepted first even when refused: browsers show a close reason, not a failed handshake.
    await websocket.accept()
    refusal = _refusal(websocket, context)
    if refusal is not None:
        await websocket.close(*refusal)
        return
    query = websocket.query_params
    try:
        topic = parse_topic(
            query.get("type"),
            query.get("symbol"),
            query.get("timeframe"),
            query.get("exchange"),
            query.get("kind"),
        )
        since = parse_since(query.get("since"), topic)
    except ValueError as problem:
        await websocket.close(POLICY, close_reason(str(problem)))
        return
    ip = websocket.app.state.client_address(websocket.scope)
    client = Client(websocket, ip, settings.ws_send_buffer, frame_writer(websocket.scope))
    hub.add(client)
    context.subscribe(client, topic, since)
    if client.writer is not None:
        client.writer.park(_Session(client, context))
        return  # the connection lives on in the session; the handler's stack is freed
    try:
        await _serve_with_tasks(client, context)
    finally:
        hub.remove(client)
    if client.closing is not None:
        await _close(client, *client.closing)


class _Session:
    """A parked connection: answers what the client sends, beats and watches for silence on
    one timer, and leaves the hub when the connection ends (a close by the hub ends it too)."""

    __slots__ = ("_client", "_context", "_loop", "_next_beat", "_settings", "_timer")

    def __init__(self, client: Client, context: WsContext) -> None:
        settings = context.settings
        self._client, self._context, self._settings = client, context, settings
        self._loop = loop = asyncio.get_running_loop()
        client.heard = loop.time()
        self._next_beat = client.heard + settings.ws_heartbeat_interval
        self._timer = loop.call_at(self._due(), self._wake)

    def __call__(self, message: AsgiMessage) -> None:
        client = self._client
        if message["type"] == "websocket.disconnect":
            self._end()
            return
        client.heard = self._loop.time()
        _accept(client, self._context, message)

    def _due(self) -> float:
        return min(self._next_beat, self._client.heard + self._settings.ws_idle_timeout)

    def _wake(self) -> None:
        now, client, settings = self._loop.time(), self._client, self._settings
        if now - client.heard >= settings.ws_idle_timeout:
            client.close_soon(NORMAL, _idle_reason(settings.ws_idle_timeout))
            return
        if now >= self._next_beat:
            client.offer(_heartbeat())
            self._next_beat = now + settings.ws_heartbeat_interval
        self._timer = self._loop.call_at(self._due(), self._wake)

    def _end(self) -> None:
        self._timer.cancel()
        self._context.hub.remove(self._client)
        closing, writer = self._client.closing, self._client.writer
        if closing is not None and closing[0] == TRY_AGAIN_LATER and writer is not None:
            # A client closed as too slow may take the grace to read its backlog and the
            # close frame; then the connection is dropped.
            self._loop.call_later(CLOSE_GRACE, _drop_if_unread, writer)


def _drop_if_unread(writer: FrameWriter) -> None:
    if writer.backlog:
        writer.abort()


async def _serve_with_tasks(client: Client, context: WsContext) -> None:
    settings = context.settings
    tasks = [
        asyncio.create_task(_receive_loop(client, context)),
        asyncio.create_task(_heartbeat_loop(client, settings.ws_heartbeat_interval)),
        asyncio.create_task(client.done.wait()),
        asyncio.create_task(client.send_loop()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        sending = not tasks[-1].done()
        if sending and client.closing is not None and client.closing[0] != TRY_AGAIN_LATER:
            # Closed by the server for a reason it told first (a market removed): what was
            # queued before the close goes out, within the grace (a too-slow client's is dropped).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.queue.join(), CLOSE_GRACE)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, OSError, RuntimeError
            ):
                await task


async def _close(client: Client, code: int, reason: str) -> None:
    """Send the close frame through ASGI, within the grace."""
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
        await asyncio.wait_for(client.websocket.close(code, close_reason(reason)), CLOSE_GRACE)


async def _receive_loop(client: Client, context: WsContext) -> None:
    settings = context.settings
    while True:
        try:
            message = await asyncio.wait_for(client.websocket.receive(), settings.ws_idle_timeout)
        except TimeoutError:
            client.close_soon(NORMAL, _idle_reason(settings.ws_idle_timeout))
            return
        if message["type"] == "websocket.disconnect" or not _accept(client, context, message):
            return


def _idle_reason(timeout: float) -> str:
    return f"Idle timeout: nothing received for {timeout:g} s"


def _accept(client: Client, context: WsContext, message: AsgiMessage) -> bool:
    """Answer one message from the client; False when it closed the connection."""
    raw = message.get("text") or message.get("bytes") or ""
    if len(raw) > context.settings.ws_max_message_bytes:
        client.close_soon(TOO_BIG, "Message too big")
        return False
    _answer(client, context, raw)
    return client.closing is None


def _answer(client: Client, context: WsContext, raw: str | bytes) -> None:
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        client.offer(ws_commands.error("Invalid JSON"))
        return
    kind = request.get("type") if isinstance(request, dict) else None
    hub, settings = context.hub, context.settings
    if kind == "ping":
        client.offer(_PONG)
    elif kind == "command":
        client.offer(ws_commands.answer(request.get("data"), client, context))
    elif kind in ("subscribe", "unsubscribe"):
        try:
            topic = parse_topic(
                _text(request, "stream"),
                _text(request, "symbol"),
                _text(request, "timeframe"),
                _venue_text(request, "exchange"),
                _venue_text(request, "kind"),
            )
            since = (
                parse_since(request.get("since"), topic, text=False)
                if kind == "subscribe"
                else None
            )
        except ValueError as problem:
            client.offer(ws_commands.error(str(problem)))
            return
        if kind == "unsubscribe":
            hub.unsubscribe(client, topic)
        elif topic not in client.topics:
            if len(client.topics) >= settings.ws_max_subscriptions:
                client.close_soon(POLICY, "Too many subscriptions")
                return
            context.subscribe(client, topic, since)


def _text(request: dict[str, object], key: str) -> str | None:
    value = request.get(key)
    return value if isinstance(value, str) else None


def _venue_text(request: dict[str, object], key: str) -> str | None:
    """`exchange` or `kind`: absent or null means Binance spot's, anything but text is refused
    (never read as absent, which would answer with Binance spot's data)."""
    value = request.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError("Invalid exchange or kind")


def _heartbeat() -> Message:
    beat = {"type": "heartbeat", "timestamp": int(time.time() * 1000)}
    return Message.of(orjson.dumps(beat).decode())


async def _heartbeat_loop(client: Client, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        client.offer(_heartbeat())
