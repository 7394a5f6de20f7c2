"""A bare WebSocket client for fan-out benchmarks: thousands of connections in one process.

A full client library spends tens of microseconds per message; with 2,000 connections on a
2-core machine that client, not the server, would set the latency the benchmark reports. This
one does the opening handshake, reads unfragmented server frames, answers pings and hands each
text payload to a callback with the time it arrived. Nothing else."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import cast

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (clients must mask) for payloads under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class LeanClient(asyncio.Protocol):
    def __init__(self, path: str, on_text: Callable[[bytes, float], None]) -> None:
        self.path = path
        self.on_text = on_text
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = writer = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the handshake: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buffer = self.buffer
        if not self.opened.done():
            buffer += data
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            data = bytes(buffer[end + 4 :])
            buffer.clear()
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode()))
                return
            self.opened.set_result(None)
        if buffer:  # the rest of a frame that came in pieces
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        position = self._frames(data, now)
        if position < len(data):
            buffer += data[position:]

    def _frames(self, data: bytes, now: float) -> int:
        """Hand over every whole frame in `data`; returns how many bytes they took."""
        position, size = 0, len(data)
        while size - position >= 2:
            opcode, length, head = data[position] & 0x0F, data[position + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(data[position + 2 : position + 4]), 4
            elif length == 127:
                length, head = int.from_bytes(data[position + 2 : position + 10]), 10
            if size - position < head + length:
                break
            payload = data[position + head : position + head + length]
            position += head + length
            if opcode == TEXT:
                self.on_text(payload, now)
            elif opcode == PING and self.transport is not None:
                self.transport.write(client_frame(PONG, payload))
            elif opcode == CLOSE:
                self.close_code = int.from_bytes(payload[:2]) if payload else 1005
        return position

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(CLOSE, (1000).to_bytes(2)))
            self.transport.close()


async def open_client(
    host: str, port: int, path: str, on_text: Callable[[bytes, float], None]
) -> LeanClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: LeanClient(path, on_text), host, port)
    await client.opened
    return client
