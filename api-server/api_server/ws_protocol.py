"""uvicorn's sans-I/O WebSocket protocol, plus a way for the app to write ready-made frames.

Fan-out sends one message to thousands of clients. Through ASGI every send is framed again and
awaited once per client. A server-to-client frame is the same bytes for every client (servers do
not mask, and compression is off), so the hub frames each message once and this protocol lets
the app write those bytes straight to each client's transport: the `linkora.frames` extension
in the connection's scope. Under another ASGI server the extension is absent and the app falls
back to plain ASGI sends."""

from __future__ import annotations

import fcntl
import sys
import termios
from typing import Any

from starlette.types import Scope
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

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        sock = protocol.transport.get_extra_info("socket")
        self._fd: int | None = sock.fileno() if sock is not None else None

    def write(self, frame: bytes) -> bool:
        """Write `frame`; False once the connection is closing (nothing may follow a close)."""
        protocol = self._protocol
        if protocol.close_sent or protocol.transport.is_closing():
            return False
        protocol.transport.write(frame)
        return True

    @property
    def backlog(self) -> int:
        """Bytes written that the client has not taken yet: those still in the transport and
        those in the kernel's send queue (which can hold megabytes before the transport's
        own buffer grows at all)."""
        transport = self._protocol.transport
        if transport.is_closing():  # its socket may be gone, and its descriptor reused
            return transport.get_write_buffer_size()
        return transport.get_write_buffer_size() + self._kernel_backlog()

    def _kernel_backlog(self) -> int:
        if self._fd is None:
            return 0
        try:
            queued = fcntl.ioctl(self._fd, termios.TIOCOUTQ, bytes(4))
        except OSError:  # closed, or not a Linux TCP socket: count the transport only
            self._fd = None
            return 0
        return int.from_bytes(queued, sys.byteorder)

    def abort(self) -> None:
        """Drop the connection without waiting for the backlog to drain."""
        self._protocol.transport.abort()


class FramingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, offering a `FrameWriter` to the app in the scope's extensions."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:  # only an upgrade that reaches the app has a scope
            scope["extensions"][EXTENSION] = {"writer": FrameWriter(self)}


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
