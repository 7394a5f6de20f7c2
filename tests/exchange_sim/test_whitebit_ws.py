"""WhiteBIT's /ws on the simulator, frame by frame over a raw aiohttp WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, frozen, with_venue

from exchange_sim.klines import KlineQuery
from exchange_sim.server import build_app
from exchange_sim.state import SimState
from exchange_sim.whitebit import WhitebitVenue, WsSettings
from exchange_sim.whitebit.payloads import kline_row, ws_kline_row

Frame = dict[str, Any]


@asynccontextmanager
async def serve(state: SimState, venue: WhitebitVenue | None = None) -> AsyncIterator[str]:
    """The app the lead builds (Binance routes plus WhiteBIT's); yields ws://host:port."""
    app = build_app(state, with_venue(state, whitebit=venue or WhitebitVenue(state)))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"ws://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def running(**overrides: object) -> SimState:
    """A state whose clock runs (books move every 100 ms, candles grow)."""
    return SimState.create(frozen(clock_speed=1.0, **overrides))


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def frozen_ws() -> AsyncIterator[tuple[str, SimState]]:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state, ws=WsSettings(candle_push_seconds=0.05))
    async with serve(state, venue) as url:
        yield url, state


async def recv(ws: aiohttp.ClientWebSocketResponse, wait: float = 3.0) -> Frame:
    msg = await ws.receive(timeout=wait)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    frame: Frame = json.loads(msg.data)
    return frame


async def call(ws: aiohttp.ClientWebSocketResponse, ident: int, method: str, *params: Any) -> Frame:
    await ws.send_str(json.dumps({"id": ident, "method": method, "params": list(params)}))
    return await recv(ws)


async def test_ping_time_and_the_reply_field_order(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        pong = await call(ws, 0, "ping")
        assert list(pong) == ["id", "result", "error"]
        assert pong == {"id": 0, "result": "pong", "error": None}
        assert await call(ws, 1, "time") == {"id": 1, "result": NOW_MS // 1000, "error": None}


async def test_errors_unknown_method_and_bad_arguments(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        assert await call(ws, 5, "nope_subscribe") == {
            "id": 5,
            "result": None,
            "error": {"code": 4, "message": "method not found"},
        }
        for params in (["NOPE_USDT", 60], ["BTC_USDT", 61], ["BTC_USDT"]):
            reply = await call(ws, 6, "candles_subscribe", *params)
            assert reply["error"] == {"code": 1, "message": "invalid argument"}
        reply = await call(ws, 7, "depth_subscribe", "BTC_USDT", 25, "0", True)
        assert reply["error"]["code"] == 1


async def test_invalid_json_closes_the_socket(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        await ws.send_str("{not json")
        msg = await ws.receive(timeout=3)
        assert msg.type == aiohttp.WSMsgType.CLOSE


async def test_candles_ack_then_pushes_with_null_id(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, state = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        ack = await call(ws, 3, "candles_subscribe", "BTC_USDT", 60)
        assert list(ack) == ["id", "result", "error"]
        assert ack == {"id": 3, "result": {"status": "success"}, "error": None}
        live = state.market.last_candle("BTCUSDT")
        assert live is not None
        for _ in range(3):
            push = await recv(ws)
            assert list(push) == ["id", "method", "params"]
            assert push["id"] is None and push["method"] == "candles_update"
            assert push["params"] == [ws_kline_row(live, "BTC_USDT")]
        row = push["params"][0]
        assert row[0] == NOW_MS // 1000 - NOW_MS // 1000 % 60 and row[7] == "BTC_USDT"
        assert all(isinstance(v, str) for v in row[1:])


async def test_a_second_candles_subscribe_replaces_the_first(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        await call(ws, 1, "candles_subscribe", "BTC_USDT", 60)
        await ws.send_str(
            json.dumps({"id": 2, "method": "candles_subscribe", "params": ["ETH_USDT", 60]})
        )
        markets = []
        for _ in range(12):
            frame = await recv(ws)
            if frame["id"] is None:
                markets.append(frame["params"][0][7])
        assert markets[-4:] == ["ETH_USDT"] * 4


async def test_candles_request_returns_eight_position_rows(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, state = frozen_ws
    end = NOW_MS // 1000 - NOW_MS // 1000 % 60 - 60
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        reply = await call(ws, 9, "candles_request", "BTC_USDT", end - 120, end, 60)
    rows = reply["result"]
    assert [r[0] for r in rows] == [end - 120, end - 60, end]
    minute = state.market.candles(KlineQuery("BTCUSDT", "1m", end * 1000, end * 1000, 1))[0]
    assert rows[-1] == [*kline_row(minute), "BTC_USDT"]


async def test_the_closed_minute_is_sent_in_full_before_the_next_one(
    http: aiohttp.ClientSession,
) -> None:
    boundary = NOW_MS - NOW_MS % MINUTE + MINUTE
    state = running(clock_origin_ms=boundary - 400)
    async with serve(state) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        await call(ws, 1, "candles_subscribe", "BTC_USDT", 60)
        rows: list[list[Any]] = []
        while not rows or rows[-1][0] * 1000 < boundary:
            rows.extend((await recv(ws))["params"])
        arrived = state.clock.now_ms()
    closed = state.market.stores["BTCUSDT"].minutes(boundary // 86_400_000)
    full = next(c for c in closed if c.open_ms == boundary - MINUTE)
    assert rows[-2] == ws_kline_row(full, "BTC_USDT")
    assert arrived - boundary < 250  # the new minute's first update comes right away


async def test_depth_snapshot_then_deltas_chain_past_update_id(
    http: aiohttp.ClientSession,
) -> None:
    state = SimState.create(frozen())  # the test steps the clock: one book version per step
    async with serve(state) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        ack = await call(ws, 4, "depth_subscribe", "BTC_USDT", 20, "0", True)
        assert ack == {"id": 4, "result": {"status": "success"}, "error": None}
        first = await recv(ws)
        assert first["id"] is None and first["method"] == "depth_update"
        flag, snap, market = first["params"]
        assert flag is True and market == "BTC_USDT"
        assert list(snap) == ["timestamp", "update_id", "asks", "bids", "event_time"]
        book = {"asks": dict(snap["asks"]), "bids": dict(snap["bids"])}
        last = snap["update_id"]
        ids = [last]
        now, pushed_out = NOW_MS, 0
        for _ in range(8):
            now += 100
            state.clock.set(now)
            flag, delta, _ = (await recv(ws))["params"]
            assert flag is False
            assert list(delta) == [
                "timestamp", "update_id", "past_update_id", "asks", "bids", "event_time"
            ]  # fmt: skip
            assert delta["past_update_id"] == last and delta["update_id"] > last
            for side in ("asks", "bids"):
                for price, amount in delta[side]:
                    if amount == "0":
                        del book[side][price]
                    else:
                        book[side][price] = amount
                # A level pushed below the top 20 gets no deletion: the client cuts it off.
                pushed_out += max(0, len(book[side]) - 20)
                best = sorted(book[side], key=Decimal, reverse=side == "bids")[:20]
                book[side] = {price: book[side][price] for price in best}
            last = delta["update_id"]
            ids.append(last)
            # The client's book, cut to 20, is exactly the server's top 20 at that time.
            raw = state.market.depth("BTCUSDT", 20, update_id=now // 100)
            for side in ("asks", "bids"):
                want = {Decimal(p): Decimal(q) for p, q in raw[side]}  # type: ignore[attr-defined]
                assert {Decimal(p): Decimal(q) for p, q in book[side].items()} == want
    assert any(b - a > 1 for a, b in itertools.pairwise(ids))  # ids skip values
    assert pushed_out > 0  # as on WhiteBIT, not every level leaving the top 20 is deleted


async def test_skipped_delta_shows_as_a_past_update_id_gap(http: aiohttp.ClientSession) -> None:
    state = running()
    venue = WhitebitVenue(state)
    async with serve(state, venue) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        await call(ws, 4, "depth_subscribe", "BTC_USDT", 10, "0", True)
        last = (await recv(ws))["params"][1]["update_id"]
        last = (await recv(ws))["params"][1]["update_id"]
        venue.faults.set(skip_delta_next=1)
        delta = (await recv(ws))["params"][1]
        assert delta["past_update_id"] != last  # the client sees a gap
        assert venue.hub.deltas_skipped == 1
        nxt = (await recv(ws))["params"][1]
        assert nxt["past_update_id"] == delta["update_id"]


async def test_quiet_book_gets_a_fresh_snapshot(http: aiohttp.ClientSession) -> None:
    state = SimState.create(frozen())  # frozen clock: the book never changes
    venue = WhitebitVenue(state, ws=WsSettings(snapshot_after_seconds=0.3))
    async with serve(state, venue) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        await call(ws, 4, "depth_subscribe", "BTC_USDT", 5, "0", True)
        one = (await recv(ws))["params"]
        two = (await recv(ws, wait=2))["params"]
    assert one[0] is True and two[0] is True
    assert two[1]["update_id"] == one[1]["update_id"] and two[1]["asks"] == one[1]["asks"]


async def test_depth_multiple_flag_adds_or_replaces_markets(http: aiohttp.ClientSession) -> None:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state, ws=WsSettings(snapshot_after_seconds=0.2))
    async with serve(state, venue) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        await call(ws, 1, "depth_subscribe", "BTC_USDT", 5, "0", True)
        await recv(ws)
        await call(ws, 2, "depth_subscribe", "ETH_USDT", 5, "0", True)
        seen = {(await recv(ws))["params"][2] for _ in range(4)}
        assert seen == {"BTC_USDT", "ETH_USDT"}
        await ws.send_str(
            json.dumps(
                {"id": 3, "method": "depth_subscribe", "params": ["ETH_USDT", 5, "0", False]}
            )
        )
        frames = [await recv(ws) for _ in range(6)]
        later = [f["params"][2] for f in frames[-3:]]
        assert later == ["ETH_USDT"] * 3


async def test_idle_socket_is_closed_and_ping_keeps_it(http: aiohttp.ClientSession) -> None:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state, ws=WsSettings(idle_seconds=0.4))
    async with serve(state, venue) as url:
        async with http.ws_connect(f"{url}/whitebit/ws") as ws:
            for _ in range(4):
                await asyncio.sleep(0.2)
                assert (await call(ws, 0, "ping"))["result"] == "pong"
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.CLOSE
        assert venue.hub.idle_closed == 1


async def test_requests_over_the_per_connection_limit_get_code_7(
    http: aiohttp.ClientSession,
) -> None:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state, ws=WsSettings(requests_per_minute=3))
    async with serve(state, venue) as url, http.ws_connect(f"{url}/whitebit/ws") as ws:
        replies = [await call(ws, i, "ping") for i in range(4)]
    assert [r["result"] for r in replies[:3]] == ["pong"] * 3
    assert replies[3] == {
        "id": 3,
        "result": None,
        "error": {"code": 7, "message": "too many requests"},
    }


async def test_whitebit_ws_path_leaves_binance_streams_and_plain_ws_alone(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState]
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/ws/btcusdt@kline_1m") as ws:
        event = await recv(ws, wait=5)
        assert event["e"] == "kline" and event["s"] == "BTCUSDT"
    async with http.ws_connect(f"{url}/ws") as ws:  # Binance spot's, taking SUBSCRIBE
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":5}')
        assert await recv(ws, wait=5) == {"result": [], "id": 5}
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        assert (await call(ws, 0, "ping"))["result"] == "pong"


@pytest.mark.parametrize("limit", [1, 100])
async def test_depth_request_is_one_book(
    http: aiohttp.ClientSession, frozen_ws: tuple[str, SimState], limit: int
) -> None:
    url, _ = frozen_ws
    async with http.ws_connect(f"{url}/whitebit/ws") as ws:
        reply = await call(ws, 2, "depth_request", "BTC_USDT", limit, "0")
    assert list(reply["result"]) == ["timestamp", "asks", "bids"]
    assert len(reply["result"]["asks"]) == limit


async def test_refused_upgrades_and_dropped_connections(http: aiohttp.ClientSession) -> None:
    state = SimState.create(frozen())
    venue = WhitebitVenue(state)
    async with serve(state, venue) as url:
        async with http.ws_connect(f"{url}/whitebit/ws") as ws:
            await call(ws, 0, "ping")
            assert await venue.drop_connections() == 1
            msg = await ws.receive(timeout=3)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        state.faults.set(refuse_ws_seconds=5.0)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{url}/whitebit/ws")
        assert refused.value.status == 503
        assert state.stats.ws_refused == 1 and state.stats.ws_dropped == 1
