"""WebSocket market streams: `/ws/<stream>[/<stream>...]` raw, `/stream?streams=a/b` combined,
and a plain `/ws` taking SUBSCRIBE (a trailing all-digit segment, the stream index ccxt appends
as in `/ws/0`, is ignored).

Each connection has one sender task that wakes when a stream is due. A kline stream pushes
the open bucket every `kline_push_interval` seconds and, once, the final bucket with
`"x": true` after it closes; a partial depth stream pushes the top of the book every 100 ms or
1 s, a diff-depth stream the levels updated since its previous event (nothing when none were).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from exchange_sim.books import Books
from exchange_sim.clock import SimClock
from exchange_sim.config import SimConfig
from exchange_sim.events import (
    Stream,
    StreamError,
    combined,
    depth_event,
    kline_event,
    levels,
    parse_stream,
)
from exchange_sim.events import server_shutdown as shutdown_event
from exchange_sim.faults import Faults
from exchange_sim.intervals import bucket_start, close_ms
from exchange_sim.market import MarketData
from exchange_sim.stats import Stats
from exchange_sim.stepped_book import step_of


@dataclass(slots=True)
class _Feed:
    stream: Stream
    due: float = 0.0  # monotonic time of the next push
    open_ms: int | None = None  # bucket of the last kline pushed
    step: int | None = None  # book: the last step an event covered


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    wrap: bool
    feeds: dict[str, _Feed] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class Hub:
    config: SimConfig
    clock: SimClock
    market: MarketData
    books: Books
    faults: Faults
    stats: Stats
    connections: set[Connection] = field(init=False, default_factory=set)

    async def handle_raw(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info.get("streams", "")
        names = [n for n in text.split("/") if n and not n.isdigit()]
        return await self._serve(request, names, wrap=False)

    async def handle_combined(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("streams", "").split("/") if n]
        return await self._serve(request, names, wrap=True)

    async def _serve(
        self, request: web.Request, names: list[str], wrap: bool
    ) -> web.StreamResponse:
        if self.faults.ws_refused():
            self.stats.ws_refused += 1
            return web.Response(status=503, text="Service Unavailable")
        try:
            streams = [parse_stream(n, self.market.symbols) for n in names]
        except StreamError as exc:
            return web.json_response({"code": -1121, "msg": str(exc)}, status=400)
        ws = web.WebSocketResponse(heartbeat=self.config.ping_interval, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request, wrap, {s.name: _Feed(s) for s in streams})
        self.connections.add(conn)
        self.stats.ws_connections += 1
        self.stats.ws_open += 1
        sender = asyncio.create_task(self._send_loop(conn))
        lifetime = asyncio.get_running_loop().call_later(
            self.config.max_connection_seconds, lambda: asyncio.ensure_future(ws.close())
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
            self.stats.ws_open -= 1
        return ws

    async def _on_request(self, conn: Connection, text: str) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS, answered like Binance."""
        ident: object = None
        try:
            req = orjson.loads(text)
            method, ident = req["method"], req.get("id")
            params = req.get("params", [])
            if method == "SUBSCRIBE":
                for s in [parse_stream(n, self.market.symbols) for n in params]:
                    conn.feeds.setdefault(s.name, _Feed(s))
                result: object = None
            elif method == "UNSUBSCRIBE":
                for name in params:
                    conn.feeds.pop(name, None)
                result = None
            elif method == "LIST_SUBSCRIPTIONS":
                result = list(conn.feeds)
            else:
                raise StreamError(f"Unknown method {method!r}")
            await self._send(conn, {"result": result, "id": ident})
            conn.wake.set()
        except (orjson.JSONDecodeError, KeyError, TypeError, StreamError) as exc:
            await self._send(conn, {"error": {"code": 2, "msg": str(exc)}, "id": ident})

    async def _send_loop(self, conn: Connection) -> None:
        while not conn.ws.closed:
            now = time.monotonic()
            for feed in list(conn.feeds.values()):
                if feed.due <= now:
                    await self._push(conn, feed)
                    feed.due = now + self._period(feed)
            due = min((f.due for f in conn.feeds.values()), default=now + 3600)
            conn.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), max(0.0, due - time.monotonic()))

    def _period(self, feed: _Feed) -> float:
        """Seconds to the next push; a kline stream also wakes just after its bucket closes."""
        stream = feed.stream
        if stream.kind in ("depth", "diff"):
            return self.config.depth_push_interval or stream.speed_ms / 1000
        period = self.config.kline_push_interval
        if feed.open_ms is not None and self.clock.speed > 0:
            left_ms = close_ms(stream.interval, feed.open_ms) + 1 - self.clock.now_ms()
            period = min(period, max(0.0, self.clock.real_seconds(left_ms)) + 0.001)
        return period

    async def _push(self, conn: Connection, feed: _Feed) -> None:
        s = feed.stream
        now = self.clock.now_ms()
        if s.kind == "diff":
            await self._push_diff(conn, feed, now)
            return
        if s.kind == "depth":
            book, step = self.books.get(s.symbol), step_of(now)
            snap = book.snapshot(step, s.levels)
            partial = {"lastUpdateId": book.last_id(step), "bids": levels(snap.bids),
                       "asks": levels(snap.asks)}  # fmt: skip
            await self._emit(conn, s, partial)
            return
        store = self.market.stores[s.symbol]
        current = bucket_start(s.interval, now)
        if feed.open_ms is not None and feed.open_ms < current:
            final = store.live_bucket(s.interval, feed.open_ms, now)
            if final is not None:
                await self._emit(conn, s, kline_event(s.symbol, s.interval, final, True, now))
        candle = store.live_bucket(s.interval, current, now)
        if candle is not None:
            await self._emit(conn, s, kline_event(s.symbol, s.interval, candle, False, now))
            feed.open_ms = current
        else:
            feed.open_ms = None

    async def _push_diff(self, conn: Connection, feed: _Feed, now: int) -> None:
        s, step = feed.stream, step_of(now)
        old = step - 1 if feed.step is None else feed.step
        if step <= old:
            return  # nothing changed: diff streams stay quiet
        feed.step = step
        if self.faults.skip_diff():
            return
        book = self.books.get(s.symbol)
        diff = book.diff(old, step)
        event = depth_event(
            s.symbol, now_ms=now, first=book.first_id(old + 1), last=book.last_id(step),
            bids=diff.bids, asks=diff.asks,
        )  # fmt: skip
        await self._emit(conn, s, event)

    async def _emit(self, conn: Connection, stream: Stream, data: object) -> None:
        await self._send(conn, combined(stream.name, data) if conn.wrap else data)

    async def _send(self, conn: Connection, payload: object) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionResetError):
            await conn.ws.send_str(orjson.dumps(payload).decode())
            self.stats.ws_messages += 1

    async def drop_all(self) -> int:
        """Cut every connection at the TCP level, without a close frame."""
        dropped = 0
        for conn in list(self.connections):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        self.stats.ws_dropped += dropped
        return dropped

    async def announce_shutdown(self) -> None:
        """Send Binance's `serverShutdown` event on every connection."""
        now = self.clock.now_ms()
        for conn in list(self.connections):
            await self._send(conn, shutdown_event(now))

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")
