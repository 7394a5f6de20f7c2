"""OKX v5 WebSocket frames of the simulator, read raw with aiohttp: acks and errors, the
books channel's sequence and checksum, candle pushes, text ping and the idle close."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from sim_support import MINUTE, NOW_MS, frozen, with_venue

from exchange_sim import SimConfig, build_app
from exchange_sim.okx import OkxSettings, OkxVenue
from exchange_sim.okx.book import checksum
from exchange_sim.state import SimState

WAIT = 5.0  # seconds for any one frame
BOOKS = {"channel": "books", "instId": "BTC-USDT"}
FAST = OkxSettings(book_push_interval=0.03, candle_push_interval=0.2)


@dataclass
class Okx:
    url: str
    state: SimState
    venue: OkxVenue


@contextlib.asynccontextmanager
async def serve(config: SimConfig, settings: OkxSettings = FAST) -> AsyncIterator[Okx]:
    """Binance's app from build_app with the OKX routes added, on a free loopback port."""
    state = SimState.create(config)
    venue = OkxVenue(state, settings)
    app = build_app(state, with_venue(state, okx=venue))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Okx(f"ws://127.0.0.1:{runner.addresses[0][1]}", state, venue)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def okx() -> AsyncIterator[Okx]:
    async with serve(frozen(clock_speed=1.0)) as server:
        yield server


@dataclass
class ClientBook:
    """A book kept the way OKX tells clients to, with the strings as received."""

    bids: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    asks: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    seq: int | None = None

    def apply(self, data: dict[str, Any], snapshot: bool) -> None:
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for side, book in (("bids", self.bids), ("asks", self.asks)):
            for px, sz, liquidated, count in data[side]:
                assert liquidated == "0"
                if sz == "0":
                    assert Decimal(px) in book, "a delete of a price the client lacks"
                    assert count == "0"
                    del book[Decimal(px)]
                else:
                    assert int(count) >= 1
                    book[Decimal(px)] = (px, sz)
        self.seq = data["seqId"]

    def checksum(self) -> int:
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)[:25]]
        asks = [self.asks[p] for p in sorted(self.asks)[:25]]
        return checksum(bids, asks)


async def frame(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return await ws.receive_json(timeout=WAIT)


async def book_frames(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < n:
        msg = await frame(ws)
        if msg.get("arg", {}).get("channel") == "books" and "event" not in msg:
            out.append(msg)
    return out


async def subscribe(ws: aiohttp.ClientWebSocketResponse, arg: dict[str, str]) -> Any:
    await ws.send_json({"op": "subscribe", "args": [arg]})
    ack = await frame(ws)
    assert ack["event"] == "subscribe" and ack["arg"] == arg
    return ack


async def test_okx_paths_live_beside_binances_ws_route(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=WAIT) == "pong"
    async with http.ws_connect(okx.url + "/ws/v5/business") as ws:
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=WAIT) == "pong"
    async with http.ws_connect(okx.url + "/ws/btcusdt@kline_1m") as ws:
        assert (await frame(ws))["e"] == "kline"  # Binance's stream still answers


async def test_books_snapshot_then_updates_chained_by_prev_seq_id(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
        await ws.send_json({"id": "1512", "op": "subscribe", "args": [BOOKS]})
        ack = await frame(ws)
        assert list(ack) == ["id", "event", "arg", "connId"]
        assert (ack["id"], ack["event"], ack["arg"]) == ("1512", "subscribe", BOOKS)
        assert len(ack["connId"]) == 8
        msgs = await book_frames(ws, 30)
    snap = msgs[0]
    assert list(snap) == ["arg", "action", "data"] and snap["arg"] == BOOKS
    assert snap["action"] == "snapshot"
    (data,) = snap["data"]
    assert list(data) == ["asks", "bids", "ts", "checksum", "prevSeqId", "seqId"]
    assert data["prevSeqId"] == -1 and data["checksum"] == 0
    assert len(data["asks"]) == len(data["bids"]) == 400
    assert isinstance(data["ts"], str) and isinstance(data["seqId"], int)
    book = ClientBook()
    book.apply(data, snapshot=True)
    steps = set()
    for msg in msgs[1:]:
        assert msg["action"] == "update"
        (upd,) = msg["data"]
        assert upd["prevSeqId"] == book.seq and upd["seqId"] > upd["prevSeqId"]
        assert upd["checksum"] == 0
        steps.add(upd["seqId"] - upd["prevSeqId"])
        book.apply(upd, snapshot=False)
        assert len(book.bids) == len(book.asks) == 400
        assert max(book.bids) < min(book.asks)
    assert len(steps) > 1  # seqId moves on by varying steps


async def test_checksum_switch_sends_the_crc32_of_the_top_25_levels(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    okx.venue.book.set(checksum=True)
    try:
        async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
            await subscribe(ws, {"channel": "books", "instId": "ETH-USDT-SWAP"})
            msgs = await book_frames(ws, 40)
            okx.venue.book.set(bad_checksum_next=1)
            msgs += await book_frames(ws, 3)
    finally:
        okx.venue.book.clear()
    book = ClientBook()
    mismatches = 0
    for i, msg in enumerate(msgs):
        (data,) = msg["data"]
        book.apply(data, snapshot=i == 0)
        assert data["checksum"] != 0
        mismatches += data["checksum"] != book.checksum()
    assert mismatches == 1


async def test_a_skipped_update_shows_as_a_prev_seq_id_gap(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
        await subscribe(ws, BOOKS)
        msgs = await book_frames(ws, 5)
        okx.venue.book.set(skip_next=1)
        msgs += await book_frames(ws, 5)
    chain = [(m["data"][0]["prevSeqId"], m["data"][0]["seqId"]) for m in msgs]
    gaps = [(seen, prev) for (_, seen), (prev, _) in itertools.pairwise(chain) if prev != seen]
    assert len(gaps) == 1
    seen, prev = gaps[0]
    assert prev > seen  # the lost update had moved the sequence on
    assert okx.venue.book.skip_next == 0


async def test_reset_after_maintenance_sends_a_lower_seq_id_chained_on(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
        await subscribe(ws, BOOKS)
        msgs = await book_frames(ws, 3)
        okx.venue.book.set(reset_next=1)
        msgs += await book_frames(ws, 4)
    seqs = [(m["data"][0]["prevSeqId"], m["data"][0]["seqId"]) for m in msgs[1:]]
    assert all(prev == before for (prev, _), (_, before) in zip(seqs[1:], seqs, strict=False))
    assert sum(seq < prev for prev, seq in seqs) == 1


async def test_a_quiet_book_sends_heartbeats_with_seq_id_equal_to_prev(
    http: aiohttp.ClientSession,
) -> None:
    settings = OkxSettings(book_push_interval=0.03, heartbeat_seconds=0.3)
    async with serve(frozen(clock_speed=1.0), settings) as okx:
        okx.venue.book.set(quiet=True)
        async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
            await subscribe(ws, BOOKS)
            loop = asyncio.get_running_loop()
            started = loop.time()
            snap, beat1, beat2 = await book_frames(ws, 3)
            elapsed = loop.time() - started
    seq = snap["data"][0]["seqId"]
    for beat in (beat1, beat2):
        assert beat["action"] == "update"
        (data,) = beat["data"]
        assert (data["asks"], data["bids"]) == ([], [])
        assert data["prevSeqId"] == data["seqId"] == seq
    assert elapsed >= 0.55


async def test_two_connections_see_one_sequence(okx: Okx, http: aiohttp.ClientSession) -> None:
    async with (
        http.ws_connect(okx.url + "/ws/v5/public") as one,
        http.ws_connect(okx.url + "/ws/v5/public") as two,
    ):
        await subscribe(one, BOOKS)
        await book_frames(one, 3)
        await subscribe(two, BOOKS)
        (snap,) = await book_frames(two, 1)
        seq = snap["data"][0]["seqId"]
        seen_one = [m["data"][0]["seqId"] for m in await book_frames(one, 12)]
        seen_two = [m["data"][0]["seqId"] for m in await book_frames(two, 5)]
    assert seen_two[0] > seq and seen_two == seen_one[seen_one.index(seen_two[0]) :][:5]


async def test_unsubscribe_is_acked_and_stops_the_pushes(
    okx: Okx, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as ws:
        await subscribe(ws, BOOKS)
        await book_frames(ws, 2)
        await ws.send_json({"op": "unsubscribe", "args": [BOOKS]})
        while (msg := await frame(ws)).get("event") is None:
            pass
        assert msg == {"event": "unsubscribe", "arg": BOOKS, "connId": msg["connId"]}
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=WAIT) == "pong"  # nothing else was queued
        await asyncio.sleep(0.2)
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=WAIT) == "pong"


async def test_bad_requests_get_okx_error_events(okx: Okx, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(okx.url + "/ws/v5/public") as pub:
        candle = {"channel": "candle1m", "instId": "BTC-USDT"}
        await pub.send_json({"id": "9", "op": "subscribe", "args": [candle]})
        err = await frame(pub)
        assert list(err) == ["id", "event", "code", "msg", "connId"]
        assert (err["id"], err["event"], err["code"]) == ("9", "error", "64001")
        assert "migrated to the '/business' URL" in err["msg"]
        await pub.send_json({"op": "subscribe", "args": [dict(BOOKS, instId="NOPE-USDT")]})
        err = await frame(pub)
        assert err["code"] == "60018" and "id" not in err
        assert err["msg"].startswith("Wrong URL or channel:books,instId:NOPE-USDT doesn't exist")
        await pub.send_str("{not json")
        err = await frame(pub)
        assert (err["code"], err["msg"]) == ("60012", "Invalid request: {not json")
        await pub.send_json({"op": "subscribe", "args": []})
        assert (await frame(pub))["code"] == "60012"
    async with http.ws_connect(okx.url + "/ws/v5/business") as biz:
        await biz.send_json({"op": "subscribe", "args": [BOOKS]})
        assert (await frame(biz))["code"] == "60018"
        await biz.send_json({"op": "subscribe", "args": [dict(candle, channel="candle7m")]})
        assert (await frame(biz))["code"] == "60018"


async def test_candles_push_nine_strings_and_confirm_once_when_the_minute_closes(
    http: aiohttp.ClientSession,
) -> None:
    boundary = NOW_MS - NOW_MS % MINUTE + MINUTE
    config = frozen(clock_origin_ms=boundary - 700, clock_speed=1.0)
    arg = {"channel": "candle1m", "instId": "BTC-USDT-SWAP"}
    async with serve(config) as okx, http.ws_connect(okx.url + "/ws/v5/business") as ws:
        await subscribe(ws, arg)
        rows: list[list[str]] = []
        while not rows or int(rows[-1][0]) < boundary or len(rows) < 6:
            msg = await frame(ws)
            assert list(msg) == ["arg", "data"] and msg["arg"] == arg
            rows.extend(msg["data"])
        market = okx.state.market
    assert all(len(r) == 9 and all(isinstance(x, str) for x in r) for r in rows)
    confirmed = [r for r in rows if r[8] == "1"]
    assert len(confirmed) == 1 and int(confirmed[0][0]) == boundary - MINUTE
    assert {r[8] for r in rows[rows.index(confirmed[0]) + 1 :]} == {"0"}
    (ref,) = market.klines("BTCUSDT", boundary - MINUTE, boundary - MINUTE)
    final = confirmed[0]
    base, quote = Decimal(str(ref[5])), Decimal(str(ref[7]))
    assert [Decimal(x) for x in final[1:5]] == [Decimal(str(ref[i])) for i in (1, 2, 3, 4)]
    assert (Decimal(final[5]), Decimal(final[6]), Decimal(final[7])) == (base * 100, base, quote)


async def test_an_idle_connection_is_closed_and_text_pings_keep_it_open(
    http: aiohttp.ClientSession,
) -> None:
    settings = OkxSettings(idle_seconds=0.4)
    async with serve(frozen(), settings) as okx:
        async with http.ws_connect(okx.url + "/ws/v5/public") as idle:
            msg = await idle.receive(timeout=WAIT)
            assert msg.type == aiohttp.WSMsgType.CLOSE and idle.close_code == 4004
        async with http.ws_connect(okx.url + "/ws/v5/business") as alive:
            for _ in range(6):
                await asyncio.sleep(0.15)
                await alive.send_str("ping")
                assert await alive.receive_str(timeout=WAIT) == "pong"
            assert not alive.closed
