"""Bybit v5 public WebSocket: /v5/public/spot and /v5/public/linear.

Client requests are JSON ops: `subscribe` / `unsubscribe` with `args` topics, and `ping`.
Topics: `kline.{interval}.{symbol}` pushes the open candle every `kline_push_interval`
seconds and, once, the closed one with `confirm: true`; `orderbook.{depth}.{symbol}` sends a
snapshot, then deltas (depth 1: snapshots only) every `bybit_book_push_interval` seconds
(default: Bybit's documented push speed of that depth).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from exchange_sim.bybit import payloads
from exchange_sim.bybit.book import LiveBook, levels_of
from exchange_sim.bybit.faults import BookFaults
from exchange_sim.bybit.queries import SPOT_MAX_ARGS, Topic, TopicError, parse_topic
from exchange_sim.intervals import bucket_start, close_ms
from exchange_sim.state import SimState

# Seconds between order-book pushes per depth, from Bybit's orderbook page.
BOOK_SPEED = {1: 0.01, 50: 0.02, 200: 0.1, 1000: 0.2}
_TARGET_MS = 1000  # how often the book is re-drawn around the current price


@dataclass(slots=True)
class _Feed:
    topic: Topic
    due: float = 0.0
    open_ms: int | None = None  # kline: bucket of the last push
    book: LiveBook | None = None
    target: int | None = None  # order book: the target the book last moved to


@dataclass(eq=False, slots=True)
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    category: str
    conn_id: str
    feeds: dict[str, _Feed] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class BybitHub:
    def __init__(self, state: SimState, faults: BookFaults) -> None:
        self.state = state
        self.faults = faults
        self.connections: set[_Connection] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/public/spot", self.handle_spot)
        app.router.add_get("/v5/public/linear", self.handle_linear)

    async def handle_spot(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "spot")

    async def handle_linear(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "linear")

    async def _serve(self, request: web.Request, category: str) -> web.StreamResponse:
        st = self.state
        if st.faults.ws_refused():
            st.stats.ws_refused += 1
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, request, category, str(uuid.uuid4()))
        self.connections.add(conn)
        st.stats.ws_connections += 1
        st.stats.ws_open += 1
        sender = asyncio.create_task(self._send_loop(conn))
        lifetime = asyncio.get_running_loop().call_later(
            st.config.max_connection_seconds, lambda: asyncio.ensure_future(ws.close())
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_request(conn, msg.data)
        finally:
            lifetime.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.connections.discard(conn)
            st.stats.ws_open -= 1
        return ws

    async def _on_request(self, conn: _Connection, text: str) -> None:
        spot = conn.category == "spot"
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        if not isinstance(req, dict):
            await self._reply(conn, "", None, False, "error:invalid op", True)
            return
        op, req_id = req.get("op"), req.get("req_id")
        if op == "ping":
            # Spot's pong carries no req_id unless one was sent; linear always has one.
            await self._reply(conn, "ping", req_id or "", True, "pong", not spot or bool(req_id))
            return
        if op not in ("subscribe", "unsubscribe"):
            await self._reply(conn, str(op or ""), req_id or "", False, "error:invalid op", True)
            return
        args = req.get("args")
        if not isinstance(args, list) or not args:
            await self._reply(conn, op, req_id or "", False, "error:args is empty", True)
            return
        ok_msg = op if spot else ""
        if op == "unsubscribe":
            for name in args:
                conn.feeds.pop(str(name), None)
            await self._reply(conn, op, req_id or "", True, ok_msg, True)
            return
        if spot and len(args) > SPOT_MAX_ARGS:
            msg = f"error:args size >{SPOT_MAX_ARGS}"
            await self._reply(conn, op, req_id or "", False, msg, True)
            return
        try:
            topics = [parse_topic(name, self.state.market.stores) for name in args]
        except TopicError as exc:
            await self._reply(conn, op, req_id or "", False, str(exc), True)
            return
        taken = [t.name for t in topics if t.name in conn.feeds]
        if taken:
            msg = f"error:already subscribed,topic:{taken[0]}"
            await self._reply(conn, op, req_id or "", False, msg, True)
            return
        await self._reply(conn, op, req_id or "", True, ok_msg, True)
        for t in topics:
            conn.feeds[t.name] = _Feed(t)
        conn.wake.set()

    async def _reply(
        self, conn: _Connection, op: str, req_id: object, ok: bool, msg: str, with_id: bool
    ) -> None:
        reply = payloads.op_reply(
            op, conn.conn_id, req_id, success=ok, ret_msg=msg, with_req_id=with_id
        )
        await self._send(conn, reply)

    async def _send_loop(self, conn: _Connection) -> None:
        while not conn.ws.closed:
            now = time.monotonic()
            for feed in list(conn.feeds.values()):
                if feed.due <= now and feed.topic.name in conn.feeds:
                    await self._push(conn, feed)
                    feed.due = now + self._period(feed)
            due = min((f.due for f in conn.feeds.values()), default=now + 3600)
            conn.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), max(0.0, due - time.monotonic()))

    def _period(self, feed: _Feed) -> float:
        cfg, clock = self.state.config, self.state.clock
        topic = feed.topic
        if topic.kind == "orderbook":
            return cfg.bybit_book_push_interval or BOOK_SPEED[topic.depth]
        period = cfg.kline_push_interval
        if feed.open_ms is not None and clock.speed > 0:
            left_ms = close_ms(topic.sim_interval, feed.open_ms) + 1 - clock.now_ms()
            period = min(period, max(0.0, clock.real_seconds(left_ms)) + 0.001)
        return period

    async def _push(self, conn: _Connection, feed: _Feed) -> None:
        if feed.topic.kind == "orderbook":
            await self._push_book(conn, feed)
        else:
            await self._push_kline(conn, feed)

    async def _push_kline(self, conn: _Connection, feed: _Feed) -> None:
        t = feed.topic
        interval = t.sim_interval
        now = self.state.clock.now_ms()
        store = self.state.market.stores[t.symbol]
        current = bucket_start(interval, now)
        if feed.open_ms is not None and feed.open_ms < current:
            final = store.live_bucket(interval, feed.open_ms, now)
            if final is not None:
                end = close_ms(interval, final.open_ms)
                item = payloads.ws_kline(final, t.interval, end, True, now)
                await self._send(conn, payloads.topic_push(t.name, now, [item]))
        candle = store.live_bucket(interval, current, now)
        feed.open_ms = current if candle is not None else None
        if candle is not None:
            item = payloads.ws_kline(candle, t.interval, close_ms(interval, current), False, now)
            await self._send(conn, payloads.topic_push(t.name, now, [item]))

    async def _push_book(self, conn: _Connection, feed: _Feed) -> None:
        t = feed.topic
        now = self.state.clock.now_ms()
        target_id = now // _TARGET_MS
        if feed.book is None:
            seed = f"{self.state.config.seed}:{conn.conn_id}:{t.name}"
            feed.book = LiveBook(seed, first_u=now // 1000 % 10_000_000 + 2, first_seq=now)
        book = feed.book
        target = None
        if feed.target != target_id:
            raw = self.state.market.depth(t.symbol, t.depth, update_id=target_id)
            target = (levels_of(raw["bids"]), levels_of(raw["asks"]))
            feed.target = target_id
        if not book.started or self.faults.take_restart():
            if target is None:
                target = (list(book.bids.items()), list(book.asks.items()))
            update = book.snapshot(*target, restart=book.started)
        else:
            update = book.delta(target, skip=self.faults.take_skip())
            if t.depth == 1:  # this depth only ever sends whole snapshots
                update = book.whole(update)
        data = payloads.book_data(t.symbol, update.bids, update.asks, update.u, update.seq)
        await self._send(conn, payloads.book_push(t.name, update.kind, now, data, now - 2))

    async def _send(self, conn: _Connection, payload: object) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionResetError):
            await conn.ws.send_str(orjson.dumps(payload).decode())
            self.state.stats.ws_messages += 1

    async def drop_all(self) -> int:
        dropped = 0
        for conn in list(self.connections):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        self.state.stats.ws_dropped += dropped
        return dropped

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")
