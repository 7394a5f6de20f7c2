"""USDⓈ-M WebSocket market streams, served under a prefix (default /fstream).

Paths, as on fstream.binance.com: `/ws/<s1>/<s2>`, `/stream?streams=s1/s2`, and the routed
`/public/...` and `/market/...` forms of both. A trailing all-digit segment (the stream index
ccxt appends, `/market/ws/0`) is ignored. SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS are
answered with `{"result": ..., "id": n}`. With `strict_routes`, a stream on the wrong route
(and any market stream on an unrouted connection) stays silent, as after Binance's 2026 split.
A client sending more than `max_messages_per_second` messages in a second is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from exchange_sim.events import StreamError, combined, kline_event
from exchange_sim.futures.book import STEP_MS, step_of
from exchange_sim.futures.books import Books
from exchange_sim.futures.names import FStream, parse_stream
from exchange_sim.futures.payloads import continuous_kline_event, depth_event
from exchange_sim.intervals import bucket_start, close_ms
from exchange_sim.state import SimState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class StreamFaults:
    skip_diff_next: int = 0  # the next N diff events are not sent (their ids are used up)

    def clear(self) -> None:
        self.skip_diff_next = 0


@dataclass(slots=True)
class _Feed:
    stream: FStream
    due: float = 0.0  # monotonic time of the next push
    open_ms: int | None = None  # kline: bucket of the last push
    step: int | None = None  # book: the last step an event covered


@dataclass(eq=False, slots=True)
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    wrap: bool
    route: str | None  # "public", "market" or None (unrouted)
    feeds: dict[str, _Feed] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class FuturesHub:
    def __init__(
        self,
        state: SimState,
        books: Books,
        faults: StreamFaults,
        *,
        kline_push_interval: float,
        ping_interval: float,
        strict_routes: bool,
        max_messages_per_second: int,
    ) -> None:
        self.state = state
        self.books = books
        self.faults = faults
        self.kline_push_interval = kline_push_interval
        self.ping_interval = ping_interval
        self.strict_routes = strict_routes
        self.max_messages_per_second = max_messages_per_second
        self.connections: set[_Connection] = set()

    def add_routes(self, app: web.Application, prefix: str) -> None:
        for route in (None, "public", "market"):
            base = prefix if route is None else f"{prefix}/{route}"
            raw = self._raw(route)
            app.router.add_get(f"{base}/ws", raw)
            app.router.add_get(f"{base}/ws/{{streams:.+}}", raw)
            app.router.add_get(f"{base}/stream", self._combined(route))

    def _raw(self, route: str | None) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            names = _names(request.match_info.get("streams", ""))
            return await self._serve(request, names, wrap=False, route=route)

        return handle

    def _combined(self, route: str | None) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            names = _names(request.query.get("streams", ""))
            return await self._serve(request, names, wrap=True, route=route)

        return handle

    async def _serve(
        self, request: web.Request, names: list[str], *, wrap: bool, route: str | None
    ) -> web.StreamResponse:
        st = self.state
        if st.faults.ws_refused():
            st.stats.ws_refused += 1
            return web.Response(status=503, text="Service Unavailable")
        try:
            streams = [parse_stream(n, st.market.symbols) for n in names]
        except StreamError as exc:
            return web.json_response({"code": -1121, "msg": str(exc)}, status=400)
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, request, wrap, route, {s.name: _Feed(s) for s in streams})
        self.connections.add(conn)
        st.stats.ws_connections += 1
        st.stats.ws_open += 1
        sender = asyncio.create_task(self._send_loop(conn))
        lifetime = asyncio.get_running_loop().call_later(
            st.config.max_connection_seconds, lambda: asyncio.ensure_future(ws.close())
        )
        recent: deque[float] = deque()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                now = time.monotonic()
                recent.append(now)
                while recent[0] <= now - 1.0:
                    recent.popleft()
                if len(recent) > self.max_messages_per_second:
                    await ws.close(code=1008, message=b"Too many requests")
                    break
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
        ident: object = None
        try:
            req = orjson.loads(text)
            if not isinstance(req, dict):
                raise StreamError("Invalid request: expected a JSON object")
            ident = req.get("id")
            method, params = req["method"], req.get("params", [])
            if not isinstance(params, list):
                raise StreamError("Invalid request: params must be a list")
            if method == "SUBSCRIBE":
                for s in [parse_stream(str(n), self.state.market.symbols) for n in params]:
                    conn.feeds.setdefault(s.name, _Feed(s))
                result: object = None
            elif method == "UNSUBSCRIBE":
                for name in params:
                    conn.feeds.pop(str(name), None)
                result = None
            elif method == "LIST_SUBSCRIPTIONS":
                result = list(conn.feeds)
            else:
                raise StreamError(f"Invalid request: unknown method {method!r}")
            await self._send(conn, {"result": result, "id": ident})
            conn.wake.set()
        except (orjson.JSONDecodeError, KeyError, StreamError) as exc:
            await self._send(conn, {"error": {"code": 2, "msg": str(exc)}, "id": ident})

    async def _send_loop(self, conn: _Connection) -> None:
        while not conn.ws.closed:
            now = time.monotonic()
            for feed in list(conn.feeds.values()):
                if feed.due <= now:
                    if self._audible(conn, feed.stream):
                        await self._push(conn, feed)
                    feed.due = now + self._period(feed)
            due = min((f.due for f in conn.feeds.values()), default=now + 3600)
            conn.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), max(0.0, due - time.monotonic()))

    def _audible(self, conn: _Connection, stream: FStream) -> bool:
        if not self.strict_routes:
            return True
        return stream.route == (conn.route or "public")

    def _period(self, feed: _Feed) -> float:
        stream = feed.stream
        if stream.kind in ("diff", "partial"):
            return stream.speed_ms / 1000
        period = self.kline_push_interval
        clock = self.state.clock
        if feed.open_ms is not None and clock.speed > 0:
            left_ms = close_ms(stream.interval, feed.open_ms) + 1 - clock.now_ms()
            period = min(period, max(0.0, clock.real_seconds(left_ms)) + 0.001)
        return period

    async def _push(self, conn: _Connection, feed: _Feed) -> None:
        kind = feed.stream.kind
        if kind == "diff":
            await self._push_diff(conn, feed)
        elif kind == "partial":
            await self._push_partial(conn, feed)
        else:
            await self._push_kline(conn, feed)

    async def _push_diff(self, conn: _Connection, feed: _Feed) -> None:
        s = feed.stream
        now = self.state.clock.now_ms()
        step = step_of(now)
        old = step - 1 if feed.step is None else feed.step
        if step <= old:
            return  # nothing changed: diff streams stay quiet
        feed.step = step
        if self.faults.skip_diff_next:
            self.faults.skip_diff_next -= 1
            return
        book = self.books.get(s.symbol)
        diff = book.diff(old, step)
        event = depth_event(
            s.symbol,
            now_ms=now,
            engine_ms=step * STEP_MS,
            first=book.first_id(old + 1),
            last=book.last_id(step),
            previous=book.last_id(old),
            bids=diff.bids,
            asks=diff.asks,
        )
        await self._emit(conn, s, event)

    async def _push_partial(self, conn: _Connection, feed: _Feed) -> None:
        s = feed.stream
        now = self.state.clock.now_ms()
        step = step_of(now)
        old = step - 1 if feed.step is None else feed.step
        feed.step = step
        book = self.books.get(s.symbol)
        snap = book.snapshot(step, s.levels)
        event = depth_event(
            s.symbol,
            now_ms=now,
            engine_ms=step * STEP_MS,
            first=book.first_id(old + 1) if step > old else book.last_id(step),
            last=book.last_id(step),
            previous=book.last_id(old),
            bids=snap.bids,
            asks=snap.asks,
        )
        await self._emit(conn, s, event)

    async def _push_kline(self, conn: _Connection, feed: _Feed) -> None:
        s = feed.stream
        now = self.state.clock.now_ms()
        store = self.state.market.stores[s.symbol]
        event = continuous_kline_event if s.kind == "continuous" else kline_event
        current = bucket_start(s.interval, now)
        if feed.open_ms is not None and feed.open_ms < current:
            final = store.live_bucket(s.interval, feed.open_ms, now)
            if final is not None:
                await self._emit(conn, s, event(s.symbol, s.interval, final, True, now))
        candle = store.live_bucket(s.interval, current, now)
        if candle is not None:
            await self._emit(conn, s, event(s.symbol, s.interval, candle, False, now))
            feed.open_ms = current
        else:
            feed.open_ms = None

    async def _emit(self, conn: _Connection, stream: FStream, data: object) -> None:
        await self._send(conn, combined(stream.name, data) if conn.wrap else data)

    async def _send(self, conn: _Connection, payload: object) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionResetError):
            await conn.ws.send_str(orjson.dumps(payload).decode())
            self.state.stats.ws_messages += 1

    async def drop_all(self) -> int:
        """Cut every futures connection at the TCP level, without a close frame."""
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


def _names(text: str) -> list[str]:
    """Stream names of a path or `streams=` value; all-digit segments are stream indexes."""
    return [n for n in text.split("/") if n and not n.isdigit()]
