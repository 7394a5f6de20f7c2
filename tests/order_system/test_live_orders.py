"""`/ws/orders` on a running order API (uvicorn in the test's loop), fed by the processor
indexing the scripted trading flow on Hardhat: a client following one user (any letter case)
sees that user's events in chain order and nothing of the others; retractions arrive too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
import uvicorn
from contract_driver import LIMIT, ContractDriver, scripted_flow
from indexing import processor
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devstack.ports import free_port
from order_system.api.app import create_app
from order_system.api.openapi import DOCUMENT
from order_system.api.order_feed import OrderFeed
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings

KINDS = {
    "OrderCreated": "orders.created",
    "OrderExecuted": "orders.executed",
    "OrderCancelled": "orders.cancelled",
    "OrderModified": "orders.modified",
}


@asynccontextmanager
async def _serving(
    service_env: dict[str, str], hardhat_url: str, **settings: Any
) -> AsyncIterator[str]:
    """The order API serving on a free port (its lifespan runs the order feed); its ws:// URL."""
    fields: dict[str, Any] = {name.lower(): value for name, value in service_env.items()}
    fields.update(web3_provider=hardhat_url, order_ws_heartbeat=0.3, rate_limit_per_second=0)
    app = create_app(OrderSettings(**fields, **settings))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    feed: OrderFeed = app.state.order_feed
    await asyncio.wait_for(feed.ready.wait(), 10)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def order_api(
    service_env: dict[str, str], clean_db: asyncpg.Pool, hardhat_url: str
) -> AsyncIterator[str]:
    async with _serving(service_env, hardhat_url) as url:
        yield url


async def _follow(url: str) -> ClientConnection:
    """A connected client whose subscription is in place (its ping was answered)."""
    client = await connect(url)
    await client.send('{"type":"ping"}')
    while orjson.loads(await asyncio.wait_for(client.recv(), 5))["type"] != "pong":
        pass
    return client


async def _orders(client: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` order frames (heartbeats skipped)."""
    frames: list[dict[str, Any]] = []
    while len(frames) < count:
        frame = orjson.loads(await asyncio.wait_for(client.recv(), 15))
        if frame["type"] not in ("heartbeat", "pong"):
            frames.append(frame)
    return frames


async def _quiet(client: ClientConnection, seconds: float = 0.8) -> list[str]:
    """Frame types received within `seconds` other than heartbeats: what should not come."""
    extra: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                kind = orjson.loads(await client.recv())["type"]
                if kind not in ("heartbeat", "pong"):
                    extra.append(kind)
    except TimeoutError:
        return extra


def _chain_events(flow: ContractDriver, user: str | None) -> list[tuple[str, int, str]]:
    """(routing key, order id, tx hash) of the user's order events (None: all), in chain order."""
    owners = {i: flow.get_order(i)[1].lower() for i in range(1, flow.order_count() + 1)}
    found = []
    for name, key in KINDS.items():
        for log in getattr(flow.trading.events, name)().get_logs(from_block=0):
            order_id = int(log["args"]["orderId"])
            if user is None or owners[order_id] == user.lower():
                position = (log["blockNumber"], log["logIndex"])
                found.append((position, (key, order_id, log["transactionHash"].to_0x_hex())))
    return [event for _, event in sorted(found)]


def _seen(frames: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(f["type"], f["data"]["order_id"], f["data"]["tx_hash"]) for f in frames]


async def test_a_client_following_one_user_sees_its_orders_in_order_and_no_one_elses(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, order_api: str
) -> None:
    alice, bob = flow.users[0].lower(), flow.users[1].lower()
    shouting = "0x" + alice[2:].upper()  # any letter case matches
    follow_alice = await _follow(f"{order_api}/ws/orders?user={shouting}")
    follow_bob = await _follow(f"{order_api}/ws/orders?user={bob}")
    follow_all = await _follow(f"{order_api}/ws/orders")
    script = scripted_flow(flow)
    flow.cancel(
        flow.users[0], script["pending"][1]
    )  # alice: created, modified, executed, cancelled
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment)
        await indexer.prepare()
        await indexer.sync()

    expected_alice = _chain_events(flow, alice)
    assert {kind for kind, _, _ in expected_alice} == set(KINDS.values())
    alice_frames = await _orders(follow_alice, len(expected_alice))
    assert _seen(alice_frames) == expected_alice
    assert {f["data"]["user_address"].lower() for f in alice_frames} == {alice}
    cancelled = alice_frames[-1]["data"]
    assert cancelled["order"]["status"] == "CANCELLED"
    assert cancelled["order"]["id"] == script["pending"][1]

    expected_bob = _chain_events(flow, bob)
    assert _seen(await _orders(follow_bob, len(expected_bob))) == expected_bob
    assert _seen(await _orders(follow_all, len(_chain_events(flow, None)))) == _chain_events(
        flow, None
    )
    for client in (follow_alice, follow_bob, follow_all):
        assert await _quiet(client, 0.5) == []  # nothing more, and nothing twice
        await client.close()


async def test_retractions_reach_the_clients_before_the_replacements(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, order_api: str
) -> None:
    alice = flow.users[0]
    follow_all = await _follow(f"{order_api}/ws/orders")
    async with clean_db.acquire() as connection:
        indexer = processor(connection, rpc, flow.deployment, reorg_window=8)
        await indexer.prepare()
        await indexer.sync()
        snapshot = flow.rpc("evm_snapshot")
        order_id, _ = flow.create(
            alice, "ETH", "USDC", Decimal("0.5"), Decimal("0.9"), Decimal("1"), LIMIT, True
        )
        await indexer.sync()
        (orphaned,) = await _orders(follow_all, 1)
        assert flow.rpc("evm_revert", [snapshot]) is True
        flow.mine()
        again, _ = flow.create(
            alice, "ETH", "USDC", Decimal("0.7"), Decimal("0.9"), Decimal("1"), LIMIT, True
        )
        await indexer.sync()
    retracted, replacement = await _orders(follow_all, 2)
    assert retracted["type"] == "orders.retracted"
    assert retracted["data"]["retracted_message_id"] == orphaned["data"]["message_id"]
    assert retracted["data"]["order"] is None
    assert replacement["type"] == "orders.created"
    assert (again, replacement["data"]["order"]["amount_in"]) == (order_id, "0.7")
    assert await _quiet(follow_all, 0.5) == []
    await follow_all.close()


async def test_heartbeats_and_a_bad_user_closes_with_its_reason(order_api: str) -> None:
    async with connect(f"{order_api}/ws/orders") as client:
        frame = orjson.loads(await asyncio.wait_for(client.recv(), 5))
        assert frame["type"] == "heartbeat" and isinstance(frame["timestamp"], int)
        await client.send(b"\x00binary")  # ignored, as is text that is not a ping
        await client.send("not json")
        await client.send('{"type":"ping"}')
        while (frame := orjson.loads(await asyncio.wait_for(client.recv(), 5)))["type"] != "pong":
            assert frame["type"] == "heartbeat"
    async with connect(f"{order_api}/ws/orders?user=0x12") as client:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "Invalid user address" in closed.value.rcvd.reason


async def _closed(client: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(client.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_connections_past_the_caps_are_refused_and_the_others_kept(
    service_env: dict[str, str], clean_db: asyncpg.Pool, hardhat_url: str
) -> None:
    per_ip = {"order_ws_max_connections_per_ip": 2, "order_ws_max_connections": 10}
    async with _serving(service_env, hardhat_url, **per_ip) as url:
        kept = [await _follow(f"{url}/ws/orders") for _ in range(2)]
        async with connect(f"{url}/ws/orders") as third:
            assert await _closed(third) == (1008, "Too many connections from this address")
        for client in kept:  # still served
            await client.send('{"type":"ping"}')
            while orjson.loads(await asyncio.wait_for(client.recv(), 5))["type"] != "pong":
                pass
        await kept[0].close()
        again = await _follow(f"{url}/ws/orders")  # a place came free
        for client in (kept[1], again):
            await client.close()
    total = {"order_ws_max_connections_per_ip": 5, "order_ws_max_connections": 1}
    async with _serving(service_env, hardhat_url, **total) as url:
        first = await _follow(f"{url}/ws/orders")
        async with connect(f"{url}/ws/orders") as second:
            code, reason = await _closed(second)
        assert (code, reason) == (1013, "Server at connection capacity; try again later")
        await first.close()


def test_the_openapi_document_describes_the_websocket() -> None:
    description = DOCUMENT["info"]["description"]
    for words in ("/ws/orders?user=0x", "orders.retracted", "heartbeat", "1008", "PER_IP"):
        assert words in description
