"""The WebSocket `system` stream against a real uvicorn: a snapshot shaped like `GET /system`
every WS_SYSTEM_INTERVAL seconds (5 by default; shortened here), taken once per tick for every
subscriber, and none taken while nobody follows the stream."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest
from api_helpers import ServerFactory, ready, receive
from websockets.asyncio.client import ClientConnection, connect

from api_server.settings import ApiSettings

INTERVAL = 0.5


async def system_message(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    message = await receive(ws, within)
    assert message["type"] == "system", message
    data: dict[str, Any] = message["data"]
    return data


def test_the_interval_is_five_seconds_unless_set() -> None:
    assert ApiSettings.model_fields["ws_system_interval"].default == 5.0


async def test_subscribers_get_one_snapshot_per_tick_shaped_like_the_system_route(
    live_server: ServerFactory,
) -> None:
    app, url = await live_server(ws_system_interval=INTERVAL)
    feed = app.state.ws.system
    async with connect(f"{url}/ws") as idle:
        await ready(app, idle)
        await asyncio.sleep(3 * INTERVAL)  # a window in which a tick would have been taken
        assert feed.ticks == 0  # nobody follows the stream: no snapshot
    async with (
        connect(f"{url}/ws?type=system") as first,
        connect(f"{url}/ws") as second,
    ):
        # The first subscriber is sent a snapshot at once, not after a whole interval.
        started = time.monotonic()
        greeting = await system_message(first, within=2)
        assert time.monotonic() - started < INTERVAL
        await second.send('{"type":"subscribe","stream":"system"}')
        arrivals, snapshots = [], []
        for _ in range(4):
            snapshots.append(await system_message(first))
            arrivals.append(time.monotonic())
        seen_by_second = [await system_message(second) for _ in range(4)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(INTERVAL * 0.6 < gap < INTERVAL * 5 for gap in gaps), gaps
    # One snapshot per tick, shared: the second subscriber's are the same snapshots.
    taken = [s["time"] for s in snapshots]
    assert len(set(taken)) == 4
    assert {s["time"] for s in seen_by_second} <= {greeting["time"], *taken}
    assert feed.ticks <= 1 + 4 + 2  # not one per subscriber
    async with httpx.AsyncClient(base_url=url.replace("ws:", "http:")) as http:
        route = (await http.get("/system")).json()
    assert set(snapshots[-1]) == set(route)
    assert snapshots[-1]["database"]["up"] is True
    assert snapshots[-1]["database"]["size_bytes"] > 0


async def test_ticks_stop_when_the_last_subscriber_leaves(live_server: ServerFactory) -> None:
    app, url = await live_server(ws_system_interval=INTERVAL)
    feed = app.state.ws.system
    async with connect(f"{url}/ws?type=system") as ws:
        await system_message(ws)
        await system_message(ws)
        await ws.send('{"type":"unsubscribe","stream":"system"}')
        await ready(app, ws)
        after = feed.ticks
        with pytest.raises(TimeoutError):
            await receive(ws, within=3 * INTERVAL)
    assert feed.ticks == after
