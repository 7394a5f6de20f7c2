"""`/ws?symbol=BTCUSDT&timeframe=5&type=candles|orderbook`.

Per connection: a sender draining the bounded queue, a receiver answering `ping` and watching
for silence, and a heartbeat. Whichever ends first ends the connection, with a close frame
carrying the reason when the server is the one closing."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from api_server.settings import ApiSettings
from api_server.ws_hub import ALL, Client, Hub, Topic
from linkora_core.timeframes import Timeframe

POLICY = 1008
TOO_BIG = 1009
NORMAL = 1000
KINDS = ("candles", "orderbook")
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}")
_PONG = orjson.dumps({"type": "pong"}).decode()


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


async def websocket_endpoint(websocket: WebSocket) -> None:
    settings: ApiSettings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    query = websocket.query_params
    try:
        topic = parse_topic(query.get("type"), query.get("symbol"), query.get("timeframe"))
    except ValueError as problem:
        await websocket.close(POLICY, str(problem))
        return
    ip = websocket.app.state.client_address(websocket.scope)
    if hub.connections(ip) >= settings.ws_max_connections_per_ip:
        await websocket.close(POLICY, "Too many connections from this address")
        return
    client = Client(websocket, ip, settings.ws_send_queue)
    hub.add(client)
    hub.subscribe(client, topic)
    tasks = [
        asyncio.create_task(client.send_loop()),
        asyncio.create_task(_receive_loop(client, hub, settings)),
        asyncio.create_task(_heartbeat_loop(client, settings.ws_heartbeat_interval)),
        asyncio.create_task(client.done.wait()),
    ]
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
            code, reason = client.closing
            # A client that stopped reading may never take the close frame: do not wait.
            with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
                await asyncio.wait_for(websocket.close(code, reason), 1.0)


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
        client.offer(orjson.dumps({"type": "error", "error": "Invalid JSON"}).decode())
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
            client.offer(orjson.dumps({"type": "error", "error": str(problem)}).decode())
            return
        if kind == "unsubscribe":
            hub.unsubscribe(client, topic)
        elif topic not in client.topics:
            if len(client.topics) >= settings.ws_max_subscriptions:
                client.close_soon(POLICY, "Too many subscriptions")
                return
            hub.subscribe(client, topic)


def _text(request: dict[str, object], key: str) -> str | None:
    value = request.get(key)
    return value if isinstance(value, str) else None


async def _heartbeat_loop(client: Client, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        client.offer(
            orjson.dumps({"type": "heartbeat", "timestamp": int(time.time() * 1000)}).decode()
        )
