"""`/ws/orders` and `/ws/orders?user=0x...` (any letter case): live order changes, the same
messages the broker carries, from the order feed (order_feed).

Frames from the server: `{"type":"orders.created"|"orders.executed"|"orders.cancelled"|
"orders.modified"|"orders.retracted","data":<message body>}` (bodies:
order_system.events.announcements), `{"type":"heartbeat","timestamp":<ms>}` every
ORDER_WS_HEARTBEAT seconds, and `{"type":"pong"}` answering a client's `{"type":"ping"}`.
Other client messages are ignored. Close codes: 1008 with the reason for a bad query or past
ORDER_WS_MAX_CONNECTIONS_PER_IP connections from one address, 1013 when the client reads too
slowly to keep up, the feed is not running or the process holds ORDER_WS_MAX_CONNECTIONS."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from order_system.api.order_feed import OrderFeed, Subscriber
from order_system.settings import OrderSettings

POLICY = 1008
TRY_AGAIN_LATER = 1013
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PONG = orjson.dumps({"type": "pong"}).decode()


def parse_user(value: str | None) -> str | None:
    """The user a query follows, lowercase (None: every user); ValueError says why not."""
    if value is None:
        return None
    if not _ADDRESS.match(value.strip()):
        raise ValueError("Invalid user address: expected 0x and 40 hex digits")
    return value.strip().lower()


def heartbeat() -> str:
    return orjson.dumps({"type": "heartbeat", "timestamp": int(time.time() * 1000)}).decode()


async def _receive(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Answers pings until the client leaves; anything else it sends (binary frames, other
    JSON, not JSON) is ignored."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            continue
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            if orjson.loads(text).get("type") == "ping":
                subscriber.push(_PONG)


async def _beat(subscriber: Subscriber, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        subscriber.push(heartbeat())


async def _send(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        await websocket.send_text(await subscriber.queue.get())


def refusal(feed: OrderFeed, address: str, settings: OrderSettings) -> tuple[int, str] | None:
    """Why a new connection from `address` is refused (code, reason), if it is."""
    if len(feed.subscribers) >= settings.order_ws_max_connections:
        return TRY_AGAIN_LATER, "Server at connection capacity; try again later"
    if feed.connections(address) >= settings.order_ws_max_connections_per_ip:
        return POLICY, "Too many connections from this address"
    return None


async def orders_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        user = parse_user(websocket.query_params.get("user"))
    except ValueError as error:
        await websocket.close(POLICY, str(error))
        return
    feed: OrderFeed | None = getattr(websocket.app.state, "order_feed", None)
    if feed is None:
        await websocket.close(TRY_AGAIN_LATER, "live orders are not available")
        return
    settings: OrderSettings = websocket.app.state.settings
    address = websocket.app.state.client_address(websocket.scope)
    refused = refusal(feed, address, settings)
    if refused is not None:
        await websocket.close(*refused)
        return
    subscriber = feed.subscribe(user, address)
    interval = settings.order_ws_heartbeat
    tasks = [
        asyncio.create_task(_receive(websocket, subscriber)),
        asyncio.create_task(_beat(subscriber, interval)),
        asyncio.create_task(_send(websocket, subscriber)),
        asyncio.create_task(subscriber.overflowed.wait()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[3] in done:
            tasks[2].cancel()  # no frame may be half sent when the close goes out
            await asyncio.gather(tasks[2], return_exceptions=True)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await websocket.close(TRY_AGAIN_LATER, "too slow: reconnect")
    finally:
        feed.unsubscribe(subscriber)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


routes = [WebSocketRoute("/ws/orders", orders_socket)]
