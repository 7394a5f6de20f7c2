"""WebSocket fan-out benchmark: N clients on one api-server process across 5 symbols and 3
timeframes, R minute updates/s per symbol published on Redis (WS_UPDATE_INTERVAL=0). Reports
how many updates every client received and the publish-to-receive p50/p99, then repeats with
one client that stops reading (it must be closed; the others' p99 must not move).

    python bench/bench_api_ws.py [--clients 2000] [--rate 10] [--seconds 10]

Needs the database seeded by bench_api_seed.py (the live buckets are seeded from it) and a
Redis (LINKORA_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from urllib.parse import urlsplit

import orjson
from redis.asyncio import Redis
from support import server_env, start_server
from websockets.asyncio.client import ClientConnection, connect

from devstack.ports import free_port

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/linkora_bench_api"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
TIMEFRAMES = ("1", "5", "1H")


class Receiver:
    def __init__(self, ws: ClientConnection, symbol: str) -> None:
        self.ws, self.symbol = ws, symbol
        self.latencies: list[float] = []
        self.count = 0

    async def run(self, published: dict[tuple[str, int], float]) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            message = orjson.loads(raw)
            if "close" not in message:
                continue
            sent = published.get((message["symbol"], int(message["close"]) - 1000))
            if sent is not None:
                self.latencies.append(now - sent)
                self.count += 1


async def publish(
    redis: Redis, rate: float, seconds: float, published: dict[tuple[str, int], float]
) -> int:
    """Minute updates of the current minute; the close price carries the sequence number."""
    minute = int(time.time() // 60 * 60_000)
    updates = int(rate * seconds)
    for seq in range(1, updates + 1):
        for symbol in SYMBOLS:
            message = {
                "symbol": symbol,
                "timestamp": minute,
                "open": "1000",
                "high": "100000",
                "low": "99",
                "close": str(1000 + seq),
                "volume": f"{seq}.5",
                "quote_volume": "1000",
                "trades": seq,
                "timeframe": "1",
                "closed": False,
                "close_time": minute + 59_999,
                "taker_buy_volume": "1",
                "taker_buy_quote_volume": "100",
            }
            published[symbol, seq] = time.perf_counter()
            await redis.publish("candles:all", orjson.dumps(message))
        await asyncio.sleep(1 / rate)
    return updates


async def run_round(url: str, redis: Redis, args: argparse.Namespace, *, stall: bool) -> None:
    receivers: list[Receiver] = []
    for i in range(args.clients):
        symbol, timeframe = SYMBOLS[i % 5], TIMEFRAMES[(i // 5) % 3]
        ws = await connect(f"{url}/ws?symbol={symbol}&timeframe={timeframe}", max_queue=None)
        receivers.append(Receiver(ws, symbol))
    stalled = None
    if stall:
        # A tiny receive buffer: the kernel must not absorb the stalled client's backlog.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        sock.setblocking(False)
        stalled = await connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1", max_queue=1, sock=sock)
        stalled.transport.pause_reading()
    published: dict[tuple[str, int], float] = {}
    tasks = [asyncio.create_task(r.run(published)) for r in receivers]
    await asyncio.sleep(1)
    updates = await publish(redis, args.rate, args.seconds, published)
    await asyncio.sleep(2)
    for r in receivers:
        await r.ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    complete = sum(r.count >= updates for r in receivers)
    latencies = sorted(x for r in receivers for x in r.latencies)
    print(
        f"{'stall' if stall else 'normal'}: {args.clients} clients, {updates} updates/symbol; "
        f"{complete}/{args.clients} clients got every update; "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms",
        flush=True,
    )
    if stalled is not None:
        stalled.transport.resume_reading()
        try:
            while True:
                await asyncio.wait_for(stalled.recv(), 10)
        except Exception as closed:
            print(f"stalled client ended: {closed!r}")


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
            "WS_SEND_QUEUE": "64",
        }
    )
    server = start_server([sys.executable, "-m", "api_server"], env, port)
    redis = Redis.from_url(redis_url)
    try:
        await run_round(f"ws://127.0.0.1:{port}", redis, args, stall=False)
        await run_round(f"ws://127.0.0.1:{port}", redis, args, stall=True)
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
