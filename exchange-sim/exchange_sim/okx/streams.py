"""OKX v5 public WebSocket: /ws/v5/public (books) and /ws/v5/business (candles).

Requests are JSON ops `subscribe` / `unsubscribe` with `args` of {"channel", "instId"},
each answered with an event per arg or one error event; the text frame "ping" gets "pong".
A connection with no traffic either way for `idle_seconds` is closed, as OKX does after 30 s.

`books` comes from the instrument's shared `BookStream`; `candle*` pushes the open bar every
`candle_push_interval` and, once, the closed bar with confirm "1".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from exchange_sim.intervals import bucket_start, close_ms
from exchange_sim.okx import payloads
from exchange_sim.okx.book_stream import BookStream
from exchange_sim.okx.faults import BookSwitches
from exchange_sim.okx.instruments import Instrument, lookup
from exchange_sim.okx.queries import BARS
from exchange_sim.okx.settings import OkxSettings
from exchange_sim.state import SimState

INVALID = "60012"
WRONG_CHANNEL = "60018"
MIGRATED = "64001"
_MIGRATED_MSG = (
    "This channel has been migrated to the '/business' URL. Please subscribe using the new "
    "URL. More details can refer to: "
    "https://www.okx.com/help-center/changes-to-v5-api-websocket-subscription-parameter-and-url"
)
_WRONG_MSG = (
    "Wrong URL or channel:{channel},instId:{inst_id} doesn't exist. Please use the correct "
    "URL, channel and parameters referring to API document."
)
IDLE_CLOSE = (4004, b"No data received in 30s.")


@dataclass(eq=False, slots=True)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    url: str  # "public" or "business"
    conn_id: str
    out: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    candles: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    books: set[str] = field(default_factory=set)
    last_traffic: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class _Sub:
    channel: str
    inst: Instrument
    interval: str | None  # candles: the simulator's interval


class _Refused(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


class OkxHub:
    def __init__(self, state: SimState, settings: OkxSettings, switches: BookSwitches) -> None:
        self.state = state
        self.settings = settings
        self.switches = switches
        self.connections: set[_Conn] = set()
        self.books: dict[str, BookStream] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/v5/public", self.handle_public)
        app.router.add_get("/ws/v5/business", self.handle_business)

    async def handle_public(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "public")

    async def handle_business(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "business")

    async def _serve(self, request: web.Request, url: str) -> web.StreamResponse:
        st = self.state
        if st.faults.ws_refused():
            st.stats.ws_refused += 1
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)  # answers protocol pings too
        await ws.prepare(request)
        conn = _Conn(ws, request, url, uuid.uuid4().hex[:8])
        self.connections.add(conn)
        st.stats.ws_connections += 1
        st.stats.ws_open += 1
        helpers = [
            asyncio.create_task(self._write_loop(conn)),
            asyncio.create_task(self._idle_watch(conn)),
        ]
        lifetime = asyncio.get_running_loop().call_later(
            st.config.max_connection_seconds, lambda: asyncio.ensure_future(ws.close())
        )
        try:
            async for msg in ws:
                conn.last_traffic = time.monotonic()
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
        finally:
            lifetime.cancel()
            self._drop_subscriptions(conn)
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.connections.discard(conn)
            st.stats.ws_open -= 1
        return ws

    # -- requests -----------------------------------------------------------------------
    def _on_text(self, conn: _Conn, text: str) -> None:
        if text == "ping":
            conn.out.put_nowait("pong")
            return
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        req_id = req.get("id") if isinstance(req, dict) else None
        req_id = None if req_id is None else str(req_id)
        try:
            if not isinstance(req, dict) or req.get("op") not in ("subscribe", "unsubscribe"):
                raise _Refused(INVALID, f"Invalid request: {text}")
            args = req.get("args")
            if not isinstance(args, list) or not args:
                raise _Refused(INVALID, f"Invalid request: {text}")
            subs = [self._parse_arg(conn, a, text) for a in args]
        except _Refused as exc:
            self._put(conn, payloads.error_event(exc.code, exc.msg, conn.conn_id, req_id))
            return
        op = req["op"]
        for sub in subs:
            arg = payloads.arg(sub.channel, sub.inst.inst_id)
            self._put(conn, payloads.event(op, arg, conn.conn_id, req_id))
            if op == "subscribe":
                self._start(conn, sub)
            else:
                self._stop(conn, sub.channel, sub.inst.inst_id)

    def _parse_arg(self, conn: _Conn, arg: object, text: str) -> _Sub:
        if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
            raise _Refused(INVALID, f"Invalid request: {text}")
        channel, inst_id = arg["channel"], str(arg.get("instId", ""))
        wrong = _Refused(WRONG_CHANNEL, _WRONG_MSG.format(channel=channel, inst_id=inst_id))
        inst = lookup(inst_id, self.state.market.stores)
        if channel.startswith("candle"):
            if conn.url == "public":
                raise _Refused(MIGRATED, _MIGRATED_MSG)
            interval = BARS.get(channel.removeprefix("candle"))
            if interval is None or inst is None or conn.url != "business":
                raise wrong
            return _Sub(channel, inst, interval)
        if channel == "books" and conn.url == "public" and inst is not None:
            return _Sub(channel, inst, None)
        raise wrong

    def _start(self, conn: _Conn, sub: _Sub) -> None:
        if sub.interval is None:
            inst = sub.inst
            stream = self.books.get(inst.inst_id)
            if stream is None:
                stream = BookStream(inst, self.state, self.settings, self.switches)
                self.books[inst.inst_id] = stream
            stream.join(conn.out)
            conn.books.add(inst.inst_id)
            return
        key = (sub.channel, sub.inst.inst_id)
        if key not in conn.candles:
            loop = self._candle_loop(conn, sub.channel, sub.inst, sub.interval)
            conn.candles[key] = asyncio.create_task(loop)

    def _stop(self, conn: _Conn, channel: str, inst_id: str) -> None:
        task = conn.candles.pop((channel, inst_id), None)
        if task is not None:
            task.cancel()
        if channel == "books" and inst_id in conn.books:
            conn.books.discard(inst_id)
            self.books[inst_id].leave(conn.out)

    def _drop_subscriptions(self, conn: _Conn) -> None:
        for channel, inst_id in list(conn.candles):
            self._stop(conn, channel, inst_id)
        for inst_id in list(conn.books):
            self._stop(conn, "books", inst_id)

    # -- candles ------------------------------------------------------------------------
    async def _candle_loop(
        self, conn: _Conn, channel: str, inst: Instrument, interval: str
    ) -> None:
        clock = self.state.clock
        store = self.state.market.stores[inst.symbol]
        open_ms: int | None = None
        while True:
            now = clock.now_ms()
            current = bucket_start(interval, now)
            if open_ms is not None and open_ms < current:
                final = store.live_bucket(interval, open_ms, now)
                if final is not None:
                    row = payloads.candle_row(inst, final, True)
                    self._put(conn, payloads.candle_push(channel, inst.inst_id, row))
            candle = store.live_bucket(interval, current, now)
            open_ms = current if candle is not None else None
            if candle is not None:
                row = payloads.candle_row(inst, candle, False)
                self._put(conn, payloads.candle_push(channel, inst.inst_id, row))
            period = self.settings.candle_push_interval
            if open_ms is not None and clock.speed > 0:
                left_ms = close_ms(interval, open_ms) + 1 - clock.now_ms()
                period = min(period, max(0.0, clock.real_seconds(left_ms)) + 0.001)
            await asyncio.sleep(period)

    # -- sending ------------------------------------------------------------------------
    def _put(self, conn: _Conn, payload: object) -> None:
        conn.out.put_nowait(orjson.dumps(payload).decode())

    async def _write_loop(self, conn: _Conn) -> None:
        while True:
            text = await conn.out.get()
            if conn.ws.closed:
                return
            with contextlib.suppress(ConnectionResetError):
                await conn.ws.send_str(text)
                conn.last_traffic = time.monotonic()
                self.state.stats.ws_messages += 1

    async def _idle_watch(self, conn: _Conn) -> None:
        idle = self.settings.idle_seconds
        while not conn.ws.closed:
            left = conn.last_traffic + idle - time.monotonic()
            if left <= 0:
                await conn.ws.close(code=IDLE_CLOSE[0], message=IDLE_CLOSE[1])
                return
            await asyncio.sleep(left)

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
