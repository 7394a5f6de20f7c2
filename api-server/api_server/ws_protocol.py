"""uvicorn's sans-I/O WebSocket protocol, plus a way for the app to write ready-made frames.

Fan-out sends one message to thousands of clients. Through ASGI every send is framed again and
awaited once per client. A server-to-client frame is the same bytes for every client (servers do
not mask, and compression is off), so the hub frames each message once and this protocol lets
the app write those bytes straight to each client's transport: the `linkora.frames` extension
in the connection's scope. Under another ASGI server the extension is absent and the app falls
back to plain ASGI sends.

The protocol also holds less per connection than uvicorn's own (an idle connection's memory is
mostly bookkeeping): a list-backed inbox and a writable flag instead of an `asyncio.Queue` and
an `asyncio.Event` (five deques of 64 slots each), and no handshake request and response once
the handshake is done. And the app may *park* a connection: its handler returns (freeing the
call stack of every middleware, about a third of an idle connection's memory) and what the
client sends from then on goes to a callback, until the connection ends."""

from __future__ import annotations

import asyncio
import fcntl
import sys
import termios
from collections.abc import Callable
from typing import Any

from starlette.types import Scope
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request

EXTENSION = "linkora.frames"


def text_frame(text: str) -> bytes:
    """A whole unmasked, uncompressed text frame, as a server sends it."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FrameWriter:
    """Writes whole frames on one connection, between the frames uvicorn writes itself (each
    transport write is one whole frame, so they never interleave)."""

    __slots__ = ("_fd", "_kernel", "_protocol", "_transport", "_unchecked")

    def __init__(self, protocol: FramingProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        sock = protocol.transport.get_extra_info("socket")
        self._fd: int | None = sock.fileno() if sock is not None else None
        # The kernel's send queue when last asked, and the bytes written since: together a
        # bound on it that only shrinks as the client reads (asking costs a system call).
        self._kernel = 0
        self._unchecked = 0

    def write(self, frame: bytes) -> bool:
        """Write `frame`; False once the connection is closing (nothing may follow a close)."""
        if self._protocol.close_sent or self._transport.is_closing():
            return False
        self._transport.write(frame)
        self._unchecked += len(frame)
        return True

    def over(self, limit: int) -> bool:
        """Whether more than `limit` bytes written are still unread. The kernel is asked only
        when what it was last seen holding, plus what was written since, could pass it."""
        buffered = self._transport.get_write_buffer_size()
        if buffered + self._kernel + self._unchecked <= limit:
            return False
        return self.backlog > limit

    @property
    def buffered(self) -> int:
        """Bytes written that are still in the transport, not yet handed to the kernel (no
        system call: cheap enough to sum over every client)."""
        return self._transport.get_write_buffer_size()

    @property
    def backlog(self) -> int:
        """Bytes written that the client has not taken yet: those still in the transport and
        those in the kernel's send queue (which can hold megabytes before the transport's
        own buffer grows at all)."""
        transport = self._transport
        if transport.is_closing():  # its socket may be gone, and its descriptor reused
            return transport.get_write_buffer_size()
        self._kernel, self._unchecked = self._kernel_backlog(), 0
        return transport.get_write_buffer_size() + self._kernel

    def _kernel_backlog(self) -> int:
        if self._fd is None:
            return 0
        try:
            queued = fcntl.ioctl(self._fd, termios.TIOCOUTQ, bytes(4))
        except OSError:  # closed, or not a Linux TCP socket: count the transport only
            self._fd = None
            return 0
        return int.from_bytes(queued, sys.byteorder)

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake now, behind what is already written."""
        self._protocol.close_now(code, reason)

    def park(self, listener: Listener) -> None:
        """Hand what the client sends from now on to `listener` instead of the app's handler,
        which may then return without the connection ending. The listener gets the ASGI
        `websocket.receive` events, then one `websocket.disconnect`."""
        self._protocol.park(listener)

    def abort(self) -> None:
        """Drop the connection without waiting for the backlog to drain."""
        self._transport.abort()


# Receives a parked connection's ASGI events.
Listener = Callable[[dict[str, Any]], None]


class _Inbox:
    """What uvicorn asks of its receive queue (one reader), on a list; once parked, events go
    straight to the listener."""

    __slots__ = ("_items", "_waiter", "listener")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self.listener: Listener | None = None

    def park(self, listener: Listener) -> None:
        pending, self._items = self._items, []
        self.listener = listener
        for item in pending:
            self.put_nowait(item)

    def put_nowait(self, item: Any) -> None:
        if self.listener is not None:
            listener = self.listener
            if item["type"] == "websocket.disconnect":
                self.listener = None  # the first disconnect is the last event it gets
            listener(item)
            return
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Flag:
    """What uvicorn asks of its `writable` event: set, clear and wait."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


class FramingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, offering a `FrameWriter` to the app in the scope's extensions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox = _Inbox()
        self.queue = self.inbox  # type: ignore[assignment]  # the part of Queue uvicorn uses
        self.writable = _Flag()  # type: ignore[assignment]  # the part of Event uvicorn uses
        self.parked = False

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:  # only an upgrade that reaches the app has a scope
            scope["extensions"][EXTENSION] = {"writer": FrameWriter(self)}

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:  # the handshake's request and response are done with
            self.request = self.response = None  # type: ignore[assignment]

    def close_now(self, code: int, reason: str) -> None:
        """What uvicorn does for the app's `websocket.close`, without first waiting for the
        transport to take more (a client closed for not reading would never let it)."""
        if self.close_sent or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self._resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    def park(self, listener: Listener) -> None:
        self.parked = True
        self.inbox.park(listener)
        self._resume_reading()

    def send_receive_event_to_app(self) -> None:
        super().send_receive_event_to_app()
        if self.parked:  # uvicorn pauses reading until the app's handler takes the event
            self._resume_reading()

    def _resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    async def run_asgi(self) -> None:
        """uvicorn's, except that a parked connection outlives the app's handler."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None and not self.parked:
            self.transport.close()


def frame_writer(scope: Scope) -> FrameWriter | None:
    """The connection's frame writer, or None when the server does not offer one."""
    writer = (scope.get("extensions") or {}).get(EXTENSION, {}).get("writer")
    return writer if isinstance(writer, FrameWriter) else None


# How the api-server runs uvicorn's WebSocket side (the service and the tests alike).
UVICORN_OPTIONS: dict[str, Any] = {
    "ws": FramingProtocol,
    # Compressing every message once per client costs more CPU than fan-out can afford.
    "ws_per_message_deflate": False,
}
