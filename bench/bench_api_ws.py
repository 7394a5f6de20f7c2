"""WebSocket fan-out benchmark: N clients on one api-server process across 5 symbols and 3
timeframes, R minute updates/s per symbol published on Redis (WS_UPDATE_INTERVAL=0). Reports
how many updates every client received and the publish-to-receive p50/p99, then repeats with
one more client that stops reading: it must be closed, and the others' p99 must not move.

    python bench/bench_api_ws.py [--clients 2000] [--rate 10] [--seconds 10]

The clients are bare protocol handlers (lean_ws.py) in this process, so that the client side
does not set the latency. Needs the database seeded by bench_api_seed.py (the live buckets are
seeded from it) and a Redis (LINKORA_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import orjson
from lean_ws import LeanClient, open_client
from redis.asyncio import Redis
from support import server_env, start_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devstack.ports import free_port
from linkora_core import bus
from linkora_core.candles import Candle, LiveCandle
from linkora_core.epoch import floor_minute, now_ms
from linkora_core.market_messages import candle_message, encode

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/linkora_bench_api"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
TIMEFRAMES = ("1", "5", "1H")
SEND_BUFFER = 65_536  # WS_SEND_BUFFER for the run: what a client may leave unread


@dataclass
class Receiver:
    """One client's tally: updates seen (the close price carries the sequence number)."""

    published: dict[tuple[str, int], float]
    latencies: list[float] = field(default_factory=list)
    client: LeanClient | None = None

    def on_text(self, payload: bytes, now: float) -> None:
        message = orjson.loads(payload)
        if "close" in message:
            sent = self.published.get((message["symbol"], int(message["close"]) - 1000))
            if sent is not None:
                self.latencies.append(now - sent)


async def publish(
    redis: Redis, rate: float, seconds: float, published: dict[tuple[str, int], float]
) -> int:
    """Minute updates of the current minute, `rate` per second per symbol."""
    minute = floor_minute(now_ms())
    updates = int(rate * seconds)
    start = time.perf_counter()
    for seq in range(1, updates + 1):
        for symbol in SYMBOLS:
            candle = Candle(
                open_time_ms=minute,
                open=Decimal(1000),
                high=Decimal(100000),
                low=Decimal(99),
                close=Decimal(1000 + seq),
                volume=Decimal(f"{seq}.5"),
                quote_volume=Decimal(1000),
                trades=seq,
                taker_buy_volume=Decimal(1),
                taker_buy_quote_volume=Decimal(100),
            )
            message = encode(candle_message(LiveCandle(symbol, candle, closed=False)))
            published[symbol, seq] = time.perf_counter()
            await redis.publish(bus.CANDLES_ALL, message)
        await asyncio.sleep(max(0.0, start + seq / rate - time.perf_counter()))
    return updates


async def stalled_client(port: int) -> ClientConnection:
    """A client following every symbol in all three timeframes that then stops reading, with
    a tiny receive buffer so that the kernel does not absorb its backlog."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    ws = await connect(f"ws://127.0.0.1:{port}/ws?symbol=all&timeframe=1", max_queue=1, sock=sock)
    for timeframe in TIMEFRAMES[1:]:
        await ws.send(orjson.dumps({"type": "subscribe", "symbol": "all", "timeframe": timeframe}))
    await ws.send('{"type":"ping"}')
    await ws.recv()  # the pong: every subscription is registered
    ws.transport.pause_reading()
    return ws


async def how_it_ended(ws: ClientConnection) -> str:
    ws.transport.resume_reading()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except TimeoutError:
        return "still open"
    except ConnectionClosed as closed:
        return f"closed: {closed!r}"


async def dropped_messages(port: int) -> str:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return next(
        line.split()[-1]
        for line in text.splitlines()
        if line.startswith("api_websocket_messages_dropped_total")
    )


async def run_round(port: int, redis: Redis, args: argparse.Namespace, *, stall: bool) -> float:
    published: dict[tuple[str, int], float] = {}
    receivers = [Receiver(published) for _ in range(args.clients)]
    for i, receiver in enumerate(receivers):
        symbol, timeframe = SYMBOLS[i % 5], TIMEFRAMES[(i // 5) % 3]
        path = f"/ws?symbol={symbol}&timeframe={timeframe}"
        receiver.client = await open_client("127.0.0.1", port, path, receiver.on_text)
    stalled = await stalled_client(port) if stall else None
    await asyncio.sleep(1)
    updates = await publish(redis, args.rate, args.seconds, published)
    await asyncio.sleep(2)
    for receiver in receivers:
        assert receiver.client is not None
        receiver.client.close()
    complete = sum(len(r.latencies) >= updates for r in receivers)
    latencies = sorted(x for r in receivers for x in r.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{'with a stalled client' if stall else 'all reading'}: {args.clients} clients, "
        f"{updates} updates/symbol, {len(latencies):,} messages received; "
        f"{complete}/{args.clients} clients got every update; "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms",
        flush=True,
    )
    if stalled is not None:
        print(f"  stalled client {await how_it_ended(stalled)}")
        print(f"  server: {await dropped_messages(port)} messages dropped for slow clients")
    return p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    redis_url = os.environ.get("LINKORA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    port = free_port()
    env = server_env(os.environ.get("LINKORA_BENCH_API_DSN", DEFAULT_DSN), port)
    cache = urlsplit(redis_url)
    env.update(
        {
            "REDIS_HOST": cache.hostname or "127.0.0.1",
            "REDIS_PORT": str(cache.port or 6379),
            "WS_UPDATE_INTERVAL": "0",
            "WS_MAX_CONNECTIONS_PER_IP": "100000",
            "WS_HANDSHAKE_RATE": "0",  # every client connects from this machine at once
            "WS_SEND_BUFFER": str(SEND_BUFFER),
        }
    )
    server = start_server([sys.executable, "-m", "api_server"], env, port)
    redis = Redis.from_url(redis_url)
    print(f"target: p99 <= 100 ms; WS_SEND_BUFFER={SEND_BUFFER} bytes", flush=True)
    try:
        normal = await run_round(port, redis, args, stall=False)
        stalled = await run_round(port, redis, args, stall=True)
        print(f"p99 with a stalled client / without: {stalled / normal:.2f}")
    finally:
        await redis.aclose()
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
