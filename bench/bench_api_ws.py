"""WebSocket fan-out benchmark: N clients on one api-server process across 5 symbols and 3
timeframes, R minute updates/s per symbol published on Redis (WS_UPDATE_INTERVAL=0). Reports
how many updates every client received and the publish-to-receive p50/p99, then repeats with
one more client that stops reading: it must be closed, and the others' p99 must not move.

    python bench/bench_api_ws.py [--clients 2000] [--rate 10] [--seconds 10] [--fleets 1]

The clients are bare protocol handlers (lean_ws.py) in separate processes (ws_fleet.py, one
per `--fleets`), so that the client side does not set the latency: each client process prints
its CPU use and the lateness of its event loop while the updates were published. Before the
first round the server's RSS is read with and without the (idle) clients: memory per client.
The server gets a database of its own, created empty on the PostgreSQL server that
LINKORA_BENCH_API_DSN names (its live buckets have nothing earlier to seed from, and no rollup
work competes with the fan-out); the updates go through a Redis (LINKORA_BENCH_REDIS_URL,
default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any
from urllib.parse import urlsplit

import cpu_use
import httpx
import orjson
import ws_fleet
from redis.asyncio import Redis
from support import server_env, start_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from devstack.ports import free_port
from linkora_core import bus, db
from linkora_core.candles import Candle, LiveCandle
from linkora_core.epoch import floor_minute, now_ms
from linkora_core.market_messages import candle_message, encode
from linkora_core.markets import BINANCE_SPOT, Market

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "linkora_bench_ws"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
TIMEFRAMES = ("1", "5", "1H")
SEND_BUFFER = 65_536  # WS_SEND_BUFFER for the run: what a client may leave unread


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
            message = encode(
                candle_message(LiveCandle(Market(BINANCE_SPOT, symbol), candle, closed=False))
            )
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


def _rss(pid: int) -> int:
    """Resident bytes of a process (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _specs(clients: int) -> list[tuple[str, str]]:
    specs = []
    for i in range(clients):
        symbol, timeframe = SYMBOLS[i % 5], TIMEFRAMES[(i // 5) % 3]
        specs.append((f"/ws?symbol={symbol}&timeframe={timeframe}", symbol))
    return specs


@dataclass
class Fleet:
    """A client process (ws_fleet.py) and the pipe to it."""

    process: BaseProcess
    pipe: Connection

    @classmethod
    def start(cls, port: int, specs: list[tuple[str, str]], pace: float) -> Fleet:
        ours, theirs = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=ws_fleet.main, args=(theirs, "127.0.0.1", port, specs, pace), daemon=True
        )
        process.start()
        theirs.close()
        return cls(process, ours)

    async def receive(self) -> Any:
        return await asyncio.to_thread(self.pipe.recv)


def send_floor(clients: int, frame_size: int = 250) -> float:
    """Seconds one process needs just to hand a frame to `clients` loopback TCP sockets with a
    bare `send` each (measured on up to 2,000 and scaled): the floor under one wave of
    updates, whatever the server does around the system calls."""
    pairs = min(clients, 2000)
    listener = socket.create_server(("127.0.0.1", 0), backlog=pairs)
    receivers, senders = [], []
    try:
        for _ in range(pairs):
            receivers.append(socket.create_connection(listener.getsockname()))
            sender = listener.accept()[0]
            sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            senders.append(sender)
        frame, best = bytes(frame_size), float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for sender in senders:
                sender.send(frame)
            best = min(best, time.perf_counter() - start)
            for receiver in receivers:
                receiver.recv(65536)
        return best / pairs * clients
    finally:
        for sock in (*receivers, *senders, listener):
            sock.close()


async def warm_up(port: int) -> None:
    """One connection through every code path an idle client takes, before measuring."""
    async with connect(f"ws://127.0.0.1:{port}/ws?symbol=BTCUSDT") as ws:
        await ws.send('{"type":"ping"}')
        await ws.recv()


async def run_round(
    server: subprocess.Popen[bytes],
    port: int,
    redis: Redis,
    args: argparse.Namespace,
    *,
    stall: bool,
) -> float:
    specs = _specs(args.clients)
    share = -(-len(specs) // args.fleets)
    rss_before = _rss(server.pid)
    pace = args.pace_ms / 1000
    fleets = [Fleet.start(port, specs[i : i + share], pace) for i in range(0, len(specs), share)]
    connected = sum([(await fleet.receive())[1] for fleet in fleets])
    stalled = await stalled_client(port) if stall else None
    await asyncio.sleep(1)
    if not stall:
        rss_after = _rss(server.pid)
        print(
            f"memory per idle client: {(rss_after - rss_before) / connected / 1024:.1f} KB "
            f"(server RSS {rss_before / 2**20:.1f} MB -> {rss_after / 2**20:.1f} MB "
            f"with {connected} clients; target <= 20 KB)",
            flush=True,
        )
    published: dict[tuple[str, int], float] = {}
    for fleet in fleets:
        fleet.pipe.send(("mark",))
    server_cpu, wall = cpu_use.process_cpu(server.pid), time.perf_counter()
    updates = await publish(redis, args.rate, args.seconds, published)
    server_cpu = (cpu_use.process_cpu(server.pid) - server_cpu) / (time.perf_counter() - wall)
    for fleet in fleets:
        fleet.pipe.send(("mark",))
    await asyncio.sleep(2)
    for fleet in fleets:
        fleet.pipe.send(("finish", published, updates))
    results = [await fleet.receive() for fleet in fleets]
    for fleet in fleets:
        fleet.process.join(30)
    complete = sum(r["complete"] for r in results)
    latencies = sorted(x for r in results for x in array("d", r["latencies"]))
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    print(
        f"{'with a stalled client' if stall else 'all reading'}: {connected} clients, "
        f"{args.rate:g} updates/s/symbol, {updates} updates/symbol, "
        f"{len(latencies):,} messages received; "
        f"{complete}/{args.clients} clients got every update; p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        flush=True,
    )
    print(
        f"  while publishing: server CPU {server_cpu:.0%} of a core; "
        + "; ".join(
            f"client process {i + 1}: CPU {r['cpu']:.0%}, event-loop lag "
            f"p99 {r['lag_p99'] * 1000:.1f} ms, max {r['lag_max'] * 1000:.1f} ms"
            for i, r in enumerate(results)
        ),
        flush=True,
    )
    if args.detail:
        by_update: dict[int, list[float]] = {}
        for r in results:
            for seq, latency in zip(array("q", r["seqs"]), array("d", r["latencies"]), strict=True):
                by_update.setdefault(seq, []).append(latency * 1000)
        for seq, values in sorted(by_update.items()):
            values.sort()
            print(
                f"  update {seq}: p50 {values[len(values) // 2]:.1f} ms, "
                f"p99 {values[int(len(values) * 0.99) - 1]:.1f} ms, max {values[-1]:.1f} ms"
            )
    unexpected = sum(r["closed_by_server"] + r["foreign"] for r in results)
    if unexpected:
        print(f"  {unexpected} clients closed by the server or messages for another symbol")
    if stalled is not None:
        print(f"  stalled client {await how_it_ended(stalled)}")
        print(f"  server: {await dropped_messages(port)} messages dropped for slow clients")
    return p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fleets", type=int, default=1, help="client processes")
    parser.add_argument("--detail", action="store_true", help="latencies of every update")
    parser.add_argument(
        "--pace-ms",
        type=float,
        default=0.0,
        help="client processes look at their sockets every this many ms (0: wait in epoll)",
    )
    args = parser.parse_args()
    redis_url = os.environ.get("LINKORA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    port = free_port()
    dsn = await db.recreate_database(os.environ.get("LINKORA_BENCH_API_DSN", DEFAULT_DSN), DATABASE)
    env = server_env(dsn, port)
    cache = urlsplit(redis_url)
    env.update(
        {
            "REDIS_HOST": cache.hostname or "127.0.0.1",
            "REDIS_PORT": str(cache.port or 6379),
            "WS_UPDATE_INTERVAL": "0",
            "WS_MAX_CONNECTIONS": str(args.clients + 100),
            "WS_MAX_CONNECTIONS_PER_IP": "100000",
            "WS_HANDSHAKE_RATE": "0",  # every client connects from this machine at once
            "WS_SEND_BUFFER": str(SEND_BUFFER),
        }
    )
    server = start_server([sys.executable, "-m", "api_server"], env, port)
    redis = Redis.from_url(redis_url)
    print(
        f"target: p99 <= 100 ms; WS_SEND_BUFFER={SEND_BUFFER} bytes; "
        f"{args.fleets} client process(es), "
        + (f"looking every {args.pace_ms:g} ms" if args.pace_ms > 0 else "waiting in epoll"),
        flush=True,
    )
    floor = send_floor(args.clients)
    print(
        f"floor: a bare send loop to {args.clients} loopback sockets takes {floor * 1000:.1f} ms "
        f"({floor / args.clients * 1e6:.1f} us each), before any server work",
        flush=True,
    )
    try:
        await warm_up(port)
        await asyncio.sleep(0.5)
        normal = await run_round(server, port, redis, args, stall=False)
        stalled = await run_round(server, port, redis, args, stall=True)
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
