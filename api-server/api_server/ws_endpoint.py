"""`/ws?symbol=BTCUSDT&timeframe=5&type=candles|orderbook`.

Per connection: a receiver answering `ping` and watching for silence, a heartbeat, and (only
when the server offers no frame writer) a sender draining the client's queue. Whichever ends
first ends the connection, with a close frame carrying the reason when the server is the one
closing."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from api_server.settings import ApiSettings
from api_server.ws_hub import ALL, TRY_AGAIN_LATER, Client, Hub, Message, Topic
from api_server.ws_protocol import frame_writer
from linkora_core.ratelimit import RateLimiter
from linkora_core.timeframes import Timeframe

POLICY = 1008
TOO_BIG = 1009
NORMAL = 1000
KINDS = ("candles", "orderbook")
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}")
_PONG = Message.of(orjson.dumps({"type": "pong"}).decode())
# RFC 6455: a close frame's payload is at most 125 bytes, 2 of them the code.
MAX_REASON_BYTES = 123
# How long a closing handshake may take, and a client closed as too slow may take to read its
# backlog and the close frame, before the connection is dropped.
CLOSE_GRACE = 1.0


def parse_topic(kind: str | None, symbol: str | None, timeframe: str | None) -> Topic:
    """The subscription a query (or a subscribe message) asks for; ValueError names why not."""
    kind = kind or "candles"
    timeframe = timeframe or "1"
    symbol = (symbol or ALL).strip()
    if kind not in KINDS:
        raise ValueError(f"Invalid type: {kind}")
    if timeframe not in Timeframe._value2member_map_:
        raise ValueError(f"Invalid timeframe: {timeframe}")
    symbol = ALL if symbol.lower() == ALL else symbol.upper()
    if symbol != ALL and not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"Invalid symbol: {symbol}")
    return Topic(kind, symbol, timeframe if kind == "candles" else "")


def close_reason(text: str) -> str:
    """`text` cut to what a close frame holds, never inside a UTF-8 sequence."""
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def _refusal(websocket: WebSocket, hub: Hub, settings: ApiSettings) -> tuple[int, str] | None:
    """Why a new connection is refused (code, reason), if it is."""
    state = websocket.app.state
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
    settings: ApiSettings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    # Accepted first even when refused: browsers show a close reason, not a failed handshake.
    await websocket.accept()
    refusal = _refusal(websocket, hub, settings)
    if refusal is not None:
        await websocket.close(*refusal)
        return
    query = websocket.query_params
    try:
        topic = parse_topic(query.get("type"), query.get("symbol"), query.get("timeframe"))
    except ValueError as problem:
        await websocket.close(POLICY, close_reason(str(problem)))
        return
    ip = websocket.app.state.client_address(websocket.scope)
    client = Client(websocket, ip, settings.ws_send_buffer, frame_writer(websocket.scope))
    hub.add(client)
    hub.subscribe(client, topic)
    tasks = [
        asyncio.create_task(_receive_loop(client, hub, settings)),
        asyncio.create_task(_heartbeat_loop(client, settings.ws_heartbeat_interval)),
        asyncio.create_task(client.done.wait()),
    ]
    if client.writer is None:
        tasks.append(asyncio.create_task(client.send_loop()))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.remove(client)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, OSError, RuntimeError
            ):
                await task
        if client.closing is not None:
            await _close(client, *client.closing)


async def _close(client: Client, code: int, reason: str) -> None:
    """Send the close frame; a client too slow to read it within the grace is dropped."""
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
        await asyncio.wait_for(client.websocket.close(code, close_reason(reason)), CLOSE_GRACE)
    if client.writer is not None and code == TRY_AGAIN_LATER:
        for _ in range(10):
            if not client.writer.backlog:
                return
            await asyncio.sleep(CLOSE_GRACE / 10)
        client.writer.abort()


async def _receive_loop(client: Client, hub: Hub, settings: ApiSettings) -> None:
    while True:
        try:
            message = await asyncio.wait_for(client.websocket.receive(), settings.ws_idle_timeout)
        except TimeoutError:
            client.close_soon(
                NORMAL, f"Idle timeout: nothing received for {settings.ws_idle_timeout:g} s"
            )
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text") or message.get("bytes") or ""
        if len(raw) > settings.ws_max_message_bytes:
            client.close_soon(TOO_BIG, "Message too big")
            return
        _answer(client, hub, settings, raw)


def _answer(client: Client, hub: Hub, settings: ApiSettings, raw: str | bytes) -> None:
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        client.offer(_error("Invalid JSON"))
        return
    kind = request.get("type") if isinstance(request, dict) else None
    if kind == "ping":
        client.offer(_PONG)
    elif kind in ("subscribe", "unsubscribe"):
        try:
            topic = parse_topic(
                _text(request, "stream"), _text(request, "symbol"), _text(request, "timeframe")
            )
        except ValueError as problem:
            client.offer(_error(str(problem)))
            return
        if kind == "unsubscribe":
            hub.unsubscribe(client, topic)
        elif topic not in client.topics:
            if len(client.topics) >= settings.ws_max_subscriptions:
                client.close_soon(POLICY, "Too many subscriptions")
                return
            hub.subscribe(client, topic)


def _error(text: str) -> Message:
    return Message.of(orjson.dumps({"type": "error", "error": text}).decode())


def _text(request: dict[str, object], key: str) -> str | None:
    value = request.get(key)
    return value if isinstance(value, str) else None


async def _heartbeat_loop(client: Client, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        beat = {"type": "heartbeat", "timestamp": int(time.time() * 1000)}
        client.offer(Message.of(orjson.dumps(beat).decode()))
