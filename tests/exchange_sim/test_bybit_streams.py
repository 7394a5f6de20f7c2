"""Bybit v5 public WebSocket frames of the simulator, read raw with aiohttp."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest_asyncio
from sim_support import MINUTE, NOW_MS, frozen

from exchange_sim import SimServer

BOOK = "orderbook.50.BTCUSDT"


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def live() -> AsyncIterator[SimServer]:
    """A running clock 34.567 s into a minute; fast pushes."""
    config = frozen(clock_speed=1.0, kline_push_interval=0.2, bybit_book_push_interval=0.02)
    async with SimServer(config) as server:
        yield server


WAIT = 5.0  # seconds for any one frame


async def frames(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[Any]:
    return [await ws.receive_json(timeout=WAIT) for _ in range(n)]


async def topic_frames(ws: aiohttp.ClientWebSocketResponse, topic: str, n: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < n:
        msg = await ws.receive_json(timeout=WAIT)
        if msg.get("topic") == topic:
            out.append(msg)
    return out


async def test_spot_ack_and_pong(live: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(live.stream_url + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "k1", "args": ["kline.1.BTCUSDT"]})
        (ack,) = await frames(ws, 1)
        assert list(ack) == ["success", "ret_msg", "conn_id", "req_id", "op"]
        assert (ack["success"], ack["ret_msg"], ack["req_id"], ack["op"]) == (
            True,
            "subscribe",
            "k1",
            "subscribe",
        )
        assert len(ack["conn_id"]) == 36
        await ws.send_json({"op": "ping"})
        pong = next(m for m in await frames(ws, 3) if m.get("op") == "ping")
        assert pong == {"success": True, "ret_msg": "pong", "conn_id": ack["conn_id"], "op": "ping"}


async def test_linear_ack_has_empty_ret_msg_and_pong_has_req_id(
    live: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(live.stream_url + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "req_id": 7, "args": [BOOK, "kline.1.ETHUSDT"]})
        (ack,) = await frames(ws, 1)
        assert (ack["success"], ack["ret_msg"], ack["req_id"]) == (True, "", 7)
        await ws.send_json({"op": "ping", "req_id": "p1"})
        pong = None
        while pong is None:
            msg = await ws.receive_json(timeout=5)
            pong = msg if msg.get("op") == "ping" else None
        assert pong == {
            "success": True,
            "ret_msg": "pong",
            "conn_id": ack["conn_id"],
            "req_id": "p1",
            "op": "ping",
        }


async def test_bad_requests_get_success_false(live: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(live.stream_url + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "a", "args": ["orderbook.40.BTCUSDT"]})
        (bad,) = await frames(ws, 1)
        assert bad["success"] is False and "orderbook.40.BTCUSDT" in bad["ret_msg"]
        args = [f"kline.{i}.BTCUSDT" for i in ("1", "3", "5", "15", "30", "60")] * 2
        await ws.send_json({"op": "subscribe", "req_id": "b", "args": args[:11]})
        (too_many,) = await frames(ws, 1)
        assert too_many["success"] is False and too_many["req_id"] == "b"
        await ws.send_json({"op": "subscribe", "args": ["kline.D.BTCUSDT"]})
        await ws.send_json({"op": "subscribe", "args": ["kline.D.BTCUSDT"]})
        acks = [m for m in await frames(ws, 3) if m.get("op") == "subscribe"][:2]
        assert [a["success"] for a in acks] == [True, False]


async def test_kline_pushes_and_one_confirm_when_the_minute_closes(
    http: aiohttp.ClientSession,
) -> None:
    boundary = NOW_MS - NOW_MS % MINUTE + MINUTE
    config = frozen(clock_origin_ms=boundary - 800, clock_speed=1.0, kline_push_interval=0.2)
    async with (
        SimServer(config) as sim,
        http.ws_connect(sim.stream_url + "/v5/public/linear") as ws,
    ):
        await ws.send_json({"op": "subscribe", "args": ["kline.1.BTCUSDT"]})
        await frames(ws, 1)
        pushes: list[Any] = []
        while not pushes or pushes[-1]["data"][0]["start"] < boundary:
            pushes.extend(await topic_frames(ws, "kline.1.BTCUSDT", 1))
        pushes.extend(await topic_frames(ws, "kline.1.BTCUSDT", 2))
    for push in pushes:
        assert set(push) == {"topic", "type", "ts", "data"} and push["type"] == "snapshot"
        (item,) = push["data"]
        assert set(item) == {
            "start", "end", "interval", "open", "close", "high", "low", "volume", "turnover",
            "confirm", "timestamp",
        }  # fmt: skip
        assert item["end"] == item["start"] + MINUTE - 1 and item["interval"] == "1"
    items = [p["data"][0] for p in pushes]
    confirmed = [i for i in items if i["confirm"]]
    assert len(confirmed) == 1 and confirmed[0]["start"] == boundary - MINUTE
    assert all(i["start"] == boundary for i in items[items.index(confirmed[0]) + 1 :])
    (ref,) = sim.source.klines("BTCUSDT", boundary - MINUTE, boundary - MINUTE)
    final = confirmed[0]
    got = [final[k] for k in ("open", "high", "low", "close", "volume", "turnover")]
    assert [Decimal(x) for x in got] == [Decimal(str(ref[i])) for i in (1, 2, 3, 4, 5, 7)]


def apply(book: dict[str, dict[Decimal, Decimal]], data: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, size in data[key]:
            if size == "0":
                assert Decimal(price) in book[side], "delete of a price the client lacks"
                del book[side][Decimal(price)]
            else:
                book[side][Decimal(price)] = Decimal(size)


async def test_orderbook_snapshot_then_deltas_with_u_plus_one(
    live: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(live.stream_url + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "b", "args": [BOOK]})
        await frames(ws, 1)
        pushes = await topic_frames(ws, BOOK, 80)
    first = pushes[0]
    assert first["type"] == "snapshot" and set(first) == {"topic", "type", "ts", "data", "cts"}
    assert set(first["data"]) == {"s", "b", "a", "u", "seq"}
    book: dict[str, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    apply(book, first["data"])
    last_u, last_seq = first["data"]["u"], first["data"]["seq"]
    for push in pushes[1:]:
        data = push["data"]
        assert push["type"] == "delta"
        assert data["u"] == last_u + 1 and data["seq"] > last_seq
        apply(book, data)
        assert len(book["bids"]) == len(book["asks"]) == 50
        assert max(book["bids"]) < min(book["asks"])
        last_u, last_seq = data["u"], data["seq"]


async def test_gap_and_restart_faults(live: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(live.stream_url + "/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "args": [BOOK]})
        await frames(ws, 1)
        (snap,) = await topic_frames(ws, BOOK, 1)
        live.venues.bybit.faults.set(skip_u_next=1)
        pushes = await topic_frames(ws, BOOK, 4)
        steps = [b["data"]["u"] - a["data"]["u"] for a, b in itertools.pairwise(pushes)]
        first_step = pushes[0]["data"]["u"] - snap["data"]["u"]
        assert sorted([first_step, *steps]) == [1, 1, 1, 2]
        async with http.post(live.rest_url + "/_sim/bybit/faults", json={"restart_next": 1}) as r:
            assert r.status == 200
        pushes = []
        while not pushes or pushes[-1]["type"] != "snapshot":
            pushes.extend(await topic_frames(ws, BOOK, 1))
        pushes.extend(await topic_frames(ws, BOOK, 2))
        restart = pushes[-3]
        assert restart["data"]["u"] == 1 and len(restart["data"]["b"]) == 50
        assert [p["data"]["u"] for p in pushes[-2:]] == [2, 3]
        assert [p["type"] for p in pushes[-2:]] == ["delta", "delta"]


async def test_depth_1_sends_snapshots_only_and_unsubscribe_stops(
    live: SimServer, http: aiohttp.ClientSession
) -> None:
    topic = "orderbook.1.ETHUSDT"
    async with http.ws_connect(live.stream_url + "/v5/public/spot") as ws:
        await ws.send_json({"op": "subscribe", "args": [topic]})
        await frames(ws, 1)
        pushes = await topic_frames(ws, topic, 5)
        assert {p["type"] for p in pushes} == {"snapshot"}
        assert all(len(p["data"]["b"]) == len(p["data"]["a"]) == 1 for p in pushes)
        await ws.send_json({"op": "unsubscribe", "req_id": "u", "args": [topic]})
        while (msg := await ws.receive_json(timeout=5)).get("op") != "unsubscribe":
            pass
        assert (msg["success"], msg["req_id"]) == (True, "u")
        await asyncio.sleep(0.1)
        extra = 0
        while True:
            try:
                await ws.receive_json(timeout=0.2)
                extra += 1
            except TimeoutError:
                break
        assert extra <= 1  # at most one push already in flight
