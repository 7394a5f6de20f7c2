"""WhiteBIT's public WebSocket `/ws` (served at `/whitebit/ws`): JSON-RPC-like method calls,
candle and depth pushes.

Requests `{"id": n, "method": ..., "params": [...]}` are answered `{"id": n, "result": ...,
"error": null}`; pushes carry `"id": null`. Invalid JSON closes the socket, as does 60 s
without a client message. One candle subscription per connection (a new one replaces it);
depth subscriptions add markets when the 4th parameter is true and replace them when false.
Candles are pushed every 0.5 s, and just after a bucket closes the old bucket's final state
is sent before the new one's first update (WhiteBIT has no closed flag). Depth: a snapshot
first, then deltas every 100 ms when the top N changed, and a fresh snapshot after 10 s
without a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from exchange_sim.candle import Candle
from exchange_sim.intervals import bucket_start, close_ms
from exchange_sim.klines import KlineQuery
from exchange_sim.state import SimState
from exchange_sim.whitebit import payloads
from exchange_sim.whitebit.book import LiveBook, levels_of, version_at
from exchange_sim.whitebit.faults import DepthFaults
from exchange_sim.whitebit.names import markets

# Interval in seconds -> the simulator's interval. WhiteBIT also takes other aligned periods
# (e.g. 1 s, 120 s); the simulator has no such buckets and answers "invalid argument".
CANDLE_INTERVALS = {
    60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
    14400: "4h", 21600: "6h", 28800: "8h", 43200: "12h", 86400: "1d", 604800: "1w",
    2592000: "1M",
}  # fmt: skip
DEPTH_LIMITS = (1, 5, 10, 20, 30, 50, 100)
PRICE_INTERVALS = ("0", "0.00000001", "0.0000001", "0.000001", "0.00001", "0.0001", "0.001",
                   "0.01", "0.1")  # fmt: skip
CANDLES_REQUEST_MAX = 1440
# How far below a subscription the server looks when drawing its deltas: a level pushed that
# deep is sent no deletion (a client cuts it off itself), one that leaves the book is.
PUSHED_OUT_DEPTH = 50

INVALID_ARGUMENT = (1, "invalid argument")
METHOD_NOT_FOUND = (4, "method not found")
TOO_MANY_REQUESTS = (7, "too many requests")


@dataclass(frozen=True, slots=True)
class WsSettings:
    idle_seconds: float = 60.0  # closed after this long without a client message
    candle_push_seconds: float = 0.5
    depth_push_seconds: float = 0.1
    snapshot_after_seconds: float = 10.0  # a depth snapshot when nothing was sent this long
    requests_per_minute: int = 200  # per connection; over it, error code 7


class _Invalid(ValueError):
    pass


@dataclass(slots=True)
class _Candles:
    market: str
    symbol: str
    interval: str
    due: float = 0.0
    open_ms: int | None = None  # bucket of the last candle pushed


@dataclass(slots=True)
class _Depth:
    market: str
    symbol: str
    book: LiveBook
    due: float = 0.0
    sent_at: float = 0.0  # monotonic time of the last message (or skipped delta)


@dataclass(eq=False, slots=True)
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    candles: _Candles | None = None
    depth: dict[str, _Depth] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    recent: deque[float] = field(default_factory=deque)  # request times, last minute


class WhitebitHub:
    def __init__(self, state: SimState, faults: DepthFaults, settings: WsSettings) -> None:
        self.state = state
        self.faults = faults
        self.settings = settings
        self.markets = markets(state.market.symbols)
        self.connections: set[_Connection] = set()
        self.idle_closed = 0
        self.deltas_skipped = 0
        self.throttled = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        if st.faults.ws_refused():
            st.stats.ws_refused += 1
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, request)
        self.connections.add(conn)
        st.stats.ws_connections += 1
        st.stats.ws_open += 1
        sender = asyncio.create_task(self._send_loop(conn))
        try:
            while not ws.closed:
                try:
                    msg = await ws.receive(timeout=self.settings.idle_seconds)
                except TimeoutError:
                    self.idle_closed += 1
                    await ws.close(code=1000, message=b"inactivity")
                    break
                if msg.type == WSMsgType.TEXT:
                    if not await self._on_request(conn, msg.data):
                        await ws.close(code=1003, message=b"invalid json")
                        break
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                  WSMsgType.ERROR):  # fmt: skip
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.connections.discard(conn)
            st.stats.ws_open -= 1
        return ws

    # -- requests ---------------------------------------------------------------------
    async def _on_request(self, conn: _Connection, text: str) -> bool:
        """Answer one request; False if the text is not a JSON request (the socket closes)."""
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(req, dict):
            return False
        ident, method, params = req.get("id"), req.get("method"), req.get("params", [])
        if self._throttled(conn):
            self.throttled += 1
            await self._send(conn, payloads.ws_error(ident, *TOO_MANY_REQUESTS))
            return True
        try:
            if not isinstance(params, list):
                raise _Invalid
            await self._call(conn, ident, method, params)
        except _Invalid:
            await self._send(conn, payloads.ws_error(ident, *INVALID_ARGUMENT))
        return True

    async def _call(
        self, conn: _Connection, ident: object, method: object, p: list[object]
    ) -> None:
        now_ms = self.state.clock.now_ms()
        if method == "ping":
            await self._send(conn, payloads.reply(ident, "pong"))
        elif method == "time":
            await self._send(conn, payloads.reply(ident, now_ms // 1000))
        elif method == "candles_subscribe":
            market, symbol = self._market(p, 0)
            interval = self._interval(p, 1)
            await self._send(conn, payloads.reply(ident, payloads.SUBSCRIBED))
            conn.candles = _Candles(market, symbol, interval)
            conn.wake.set()
        elif method == "candles_unsubscribe":
            conn.candles = None
            await self._send(conn, payloads.reply(ident, payloads.SUBSCRIBED))
        elif method == "candles_request":
            market, symbol = self._market(p, 0)
            start, end = self._seconds(p, 1), self._seconds(p, 2)
            interval = self._interval(p, 3)
            if start > end:
                raise _Invalid
            query = KlineQuery(symbol, interval, start * 1000, end * 1000, CANDLES_REQUEST_MAX)
            rows = [payloads.ws_kline_row(c, market) for c in self.state.market.candles(query)]
            await self._send(conn, payloads.reply(ident, rows))
        elif method == "depth_subscribe":
            market, symbol = self._market(p, 0)
            limit = self._depth_limit(p, 1)
            if len(p) < 4 or p[2] not in PRICE_INTERVALS or not isinstance(p[3], bool):
                raise _Invalid
            await self._send(conn, payloads.reply(ident, payloads.SUBSCRIBED))
            if not p[3]:
                conn.depth.clear()
            conn.depth[market] = _Depth(market, symbol, LiveBook(limit))
            conn.wake.set()
        elif method == "depth_unsubscribe":
            conn.depth.clear()
            await self._send(conn, payloads.reply(ident, payloads.SUBSCRIBED))
        elif method == "depth_request":
            market, symbol = self._market(p, 0)
            limit = self._depth_limit(p, 1)
            asks, bids = self._book(symbol, limit, version_at(now_ms))
            book = payloads.depth_snapshot(now_ms, 0, asks, bids)
            result = {"timestamp": book["timestamp"], "asks": book["asks"], "bids": book["bids"]}
            await self._send(conn, payloads.reply(ident, result))
        else:
            await self._send(conn, payloads.ws_error(ident, *METHOD_NOT_FOUND))

    def _throttled(self, conn: _Connection) -> bool:
        now = time.monotonic()
        while conn.recent and conn.recent[0] <= now - 60:
            conn.recent.popleft()
        if len(conn.recent) >= self.settings.requests_per_minute:
            return True
        conn.recent.append(now)
        return False

    def _market(self, p: list[object], i: int) -> tuple[str, str]:
        name = p[i] if len(p) > i else None
        if not isinstance(name, str) or name not in self.markets:
            raise _Invalid
        return name, self.markets[name]

    @staticmethod
    def _interval(p: list[object], i: int) -> str:
        value = p[i] if len(p) > i else None
        if isinstance(value, bool) or not isinstance(value, int) or value not in CANDLE_INTERVALS:
            raise _Invalid
        return CANDLE_INTERVALS[value]

    @staticmethod
    def _seconds(p: list[object], i: int) -> int:
        value = p[i] if len(p) > i else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _Invalid
        return value

    @staticmethod
    def _depth_limit(p: list[object], i: int) -> int:
        value = p[i] if len(p) > i else None
        if isinstance(value, bool) or not isinstance(value, int) or value not in DEPTH_LIMITS:
            raise _Invalid
        return value

    # -- pushes -----------------------------------------------------------------------
    async def _send_loop(self, conn: _Connection) -> None:
        while not conn.ws.closed:
            now = time.monotonic()
            feed = conn.candles
            if feed is not None and feed.due <= now:
                await self._push_candles(conn, feed)
                feed.due = now + self._candle_period(feed)
            for depth in list(conn.depth.values()):
                if depth.due <= now:
                    await self._push_depth(conn, depth)
                    depth.due = now + self.settings.depth_push_seconds
            dues = [d.due for d in conn.depth.values()]
            if conn.candles is not None:
                dues.append(conn.candles.due)
            conn.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    conn.wake.wait(), max(0.0, min(dues, default=now + 3600) - time.monotonic())
                )

    def _candle_period(self, feed: _Candles) -> float:
        """0.5 s, or less so that the push after a bucket closes comes right away."""
        period = self.settings.candle_push_seconds
        clock = self.state.clock
        if feed.open_ms is not None and clock.speed > 0:
            left_ms = close_ms(feed.interval, feed.open_ms) + 1 - clock.now_ms()
            period = min(period, max(0.0, clock.real_seconds(left_ms)) + 0.001)
        return period

    async def _push_candles(self, conn: _Connection, feed: _Candles) -> None:
        now = self.state.clock.now_ms()
        store = self.state.market.stores[feed.symbol]
        current = bucket_start(feed.interval, now)
        if feed.open_ms is not None and feed.open_ms < current:
            final = store.live_bucket(feed.interval, feed.open_ms, now)
            if final is not None:
                await self._candle(conn, feed, final)
        candle = store.live_bucket(feed.interval, current, now)
        if candle is not None:
            await self._candle(conn, feed, candle)
        feed.open_ms = current if candle is not None else None

    async def _candle(self, conn: _Connection, feed: _Candles, candle: Candle) -> None:
        row = payloads.ws_kline_row(candle, feed.market)
        await self._send(conn, payloads.push("candles_update", [row]))

    async def _push_depth(self, conn: _Connection, feed: _Depth) -> None:
        now_ms = self.state.clock.now_ms()
        version = version_at(now_ms)
        book = feed.book
        if not book.started:
            book.load(version, *self._book(feed.symbol, book.limit, version))
            await self._snapshot(conn, feed, now_ms)
            return
        if version != book.version:
            past = book.update_id
            # Deeper than the subscription: a level pushed out of it is not deleted.
            deeper = self._book(feed.symbol, book.limit + PUSHED_OUT_DEPTH, version)
            delta = book.advance(version, *deeper)
            if delta.asks or delta.bids:
                feed.sent_at = time.monotonic()
                if self.faults.take_skip():
                    self.deltas_skipped += 1
                    return
                body = payloads.depth_delta(now_ms, book.update_id, past, delta.asks, delta.bids)
                await self._send(conn, payloads.push("depth_update", [False, body, feed.market]))
                return
        if time.monotonic() - feed.sent_at >= self.settings.snapshot_after_seconds:
            await self._snapshot(conn, feed, now_ms)

    async def _snapshot(self, conn: _Connection, feed: _Depth, now_ms: int) -> None:
        book = feed.book
        body = payloads.depth_snapshot(
            now_ms, book.update_id, book.sorted_asks(), book.sorted_bids()
        )
        feed.sent_at = time.monotonic()
        await self._send(conn, payloads.push("depth_update", [True, body, feed.market]))

    def _book(
        self, symbol: str, limit: int, version: int
    ) -> tuple[list[payloads.Level], list[payloads.Level]]:
        """(asks, bids) of the simulator's book of `version` (the REST book at that time)."""
        raw = self.state.market.depth(symbol, limit, update_id=version)
        return levels_of(raw["asks"]), levels_of(raw["bids"])

    async def _send(self, conn: _Connection, payload: object) -> None:
        if conn.ws.closed:
            return
        with contextlib.suppress(ConnectionResetError):
            await conn.ws.send_str(orjson.dumps(payload).decode())
            self.state.stats.ws_messages += 1

    # -- whole-hub actions ------------------------------------------------------------
    async def drop_all(self) -> int:
        """Cut every connection at the TCP level, without a close frame."""
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
