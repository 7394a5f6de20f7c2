"""Order indexer catch-up and order API list latency.

1. Deploys the contracts on a private Hardhat node and mines an order flow through raw
   JSON-RPC batches (creates, then cancels, modifies and keeper executions).
2. Times one raw `eth_getLogs` of the whole range (no decoding) and the processor's full
   catch-up into PostgreSQL from the deployment block; prints events/s and the ratio.
3. Loads `--orders` synthetic orders and times the list endpoints (in-process ASGI: handler,
   queries and JSON) at depths reached by keyset cursor; prints p50/p99.

    .venv/bin/python bench/bench_indexer.py [--creates 8000] [--modify-rounds 0]
        [--orders 1000000]

Every CREATED event costs one `getOrder` eth_call at its block; on Hardhat that call, not the
processor, bounds catch-up (the bench prints the node's getOrder rate beside the result).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from devstack.hardhat import HardhatNode
from devstack.ports import free_port
from devstack.postgres import PostgresCluster
from linkora_core.migrations import apply_migrations
from order_system.api.app import create_app
from order_system.deploy import ETH, Deployment, deploy
from order_system.events.chain import Chain
from order_system.events.decoding import TOPICS, encode_get_order
from order_system.events.processor import Processor, Tuning
from order_system.events.rpc import JsonRpc
from order_system.settings import OrderSettings

PER_BLOCK = 70  # a block takes transactions by gas limit: 70 x 400,000 fits Hardhat's 30M


def _selector(signature: str) -> str:
    from eth_utils.crypto import keccak

    return "0x" + keccak(text=signature)[:4].hex()


CREATE = _selector("createOrder(address,address,uint256,uint256,uint256,uint8,bool,bool)")
CANCEL = _selector("cancelOrder(uint256)")
MODIFY = _selector("modifyOrder(uint256,uint256,uint256)")
EXECUTE = _selector("executeOrder(uint256)")


def _words(*values: int | str) -> str:
    return "".join(format(int(v, 16) if isinstance(v, str) else int(v), "064x") for v in values)


async def _send_all(rpc: JsonRpc, txs: list[dict[str, Any]]) -> None:
    """Send with automine off, mining PER_BLOCK transactions per block."""
    await rpc.call("evm_setAutomine", [False])
    for first in range(0, len(txs), PER_BLOCK):
        answers = await rpc.batch(
            [("eth_sendTransaction", [tx]) for tx in txs[first : first + PER_BLOCK]]
        )
        failed = [a for a in answers if isinstance(a, Exception)]
        if failed:
            raise RuntimeError(f"send failed: {failed[0]}")
        await rpc.call("evm_mine", [])
    while True:  # mine what is still waiting
        await rpc.call("evm_mine", [])
        block = await rpc.call("eth_getBlockByNumber", ["latest", False])
        if not block["transactions"]:
            break
    await rpc.call("evm_setAutomine", [True])


async def generate(
    rpc: JsonRpc, deployment: Deployment, creates: int, modify_rounds: int = 0
) -> None:
    accounts: list[str] = await rpc.call("eth_accounts", [])
    keeper, users = accounts[0], accounts[1:10]
    usdc = deployment.tokens["USDC"].address
    txs = []
    for i in range(creates):
        amount = 10**15 + i
        executable = i % 10 == 0  # LIMIT long on USDC at 1.05: the keeper can execute it
        target = 105 * 10**16 if executable else 3 * 10**17 + i
        data = CREATE + _words(
            ETH,
            usdc,
            amount,
            target,
            0,
            0 if executable else i % 2,
            1 if executable or i % 3 == 0 else 0,
            0,
        )
        txs.append(
            {
                "from": users[i % len(users)],
                "to": deployment.trading,
                "data": data,
                "value": hex(amount),
                "gas": hex(400_000),
            }
        )
    await _send_all(rpc, txs)
    later = []
    for i in range(creates):
        user = users[i % len(users)]
        if i % 10 == 0:
            later.append(
                {
                    "from": keeper,
                    "to": deployment.router,
                    "gas": hex(400_000),
                    "data": EXECUTE + _words(i + 1),
                }
            )
        elif i % 5 == 4:
            later.append(
                {
                    "from": user,
                    "to": deployment.trading,
                    "gas": hex(300_000),
                    "data": CANCEL + _words(i + 1),
                }
            )
        elif i % 3 == 1:
            later.append(
                {
                    "from": user,
                    "to": deployment.trading,
                    "gas": hex(300_000),
                    "data": MODIFY + _words(i + 1, 4 * 10**17 + i, i),
                }
            )
    for round_ in range(modify_rounds):  # orders that stay pending are adjusted again
        later += [
            {
                "from": users[i % len(users)],
                "to": deployment.trading,
                "gas": hex(300_000),
                "data": MODIFY + _words(i + 1, 5 * 10**17 + i + round_, i + round_),
            }
            for i in range(creates)
            if i % 10 != 0 and i % 5 != 4
        ]
    await _send_all(rpc, later)


async def raw_get_logs(rpc: JsonRpc, trading: str, start: int, end: int) -> tuple[float, int]:
    began = time.perf_counter()
    logs = await rpc.call(
        "eth_getLogs",
        [
            {
                "address": trading,
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "topics": [list(TOPICS.values())],
            }
        ],
    )
    return time.perf_counter() - began, len(logs)


async def get_order_rate(rpc: JsonRpc, trading: str, orders: int) -> float:
    """getOrder eth_calls per second on this node (one batch, at the head)."""
    calls = [
        ("eth_call", [{"to": trading, "data": encode_get_order(i)}, "latest"])
        for i in range(1, orders + 1)
    ]
    began = time.perf_counter()
    await rpc.batch(calls)
    return orders / (time.perf_counter() - began)


class AnswerCache:
    """A JSON-RPC endpoint answering from memory what the node answered before: a second
    catch-up through it measures the processor and PostgreSQL without the node's cost."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.answers: dict[bytes, Any] = {}
        self.port = free_port()
        self._runner: Any = None

    async def start(self) -> str:
        from aiohttp import ClientSession, web

        session = ClientSession()

        async def handle(request: web.Request) -> web.Response:
            body = orjson.loads(await request.read())
            calls = body if isinstance(body, list) else [body]
            keys = [orjson.dumps([c["method"], c["params"]]) for c in calls]
            if any(key not in self.answers for key in keys):
                async with session.post(self.upstream, json=calls) as response:
                    fresh = orjson.loads(await response.read())
                by_id = {item["id"]: item for item in fresh}
                for key, call in zip(keys, calls, strict=True):
                    self.answers[key] = by_id[call["id"]]
            answers = [
                dict(self.answers[key], id=c["id"]) for key, c in zip(keys, calls, strict=True)
            ]
            payload = answers if isinstance(body, list) else answers[0]
            return web.Response(body=orjson.dumps(payload), content_type="application/json")

        app = web.Application()
        app.router.add_post("/", handle)
        app.on_cleanup.append(lambda _: session.close())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self._runner.cleanup()


async def catch_up(dsn: str, rpc: JsonRpc, deployment: Deployment) -> tuple[float, int]:
    connection = await asyncpg.connect(dsn)
    await connection.execute(
        "TRUNCATE orders, order_events, processed_events, block_hashes, system_state"
    )
    try:
        # A small first range: the sizer then aims at ~2,000 logs per range, so fetching the
        # next ranges overlaps writing this one.
        tuning = Tuning(start_block=deployment.block_number, confirmations=0, initial_range=10)
        processor = Processor(connection, Chain(rpc, deployment.trading), tuning, asyncio.Event())
        began = time.perf_counter()
        await processor.prepare()
        await processor.sync()
        return time.perf_counter() - began, processor.events_applied
    finally:
        await connection.close()


async def load_orders(pool: asyncpg.Pool, count: int) -> None:
    await pool.execute("TRUNCATE orders, order_events")
    await pool.execute(
        """
        INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price,
            min_amount_out, order_type, is_long, self_executable, status, created_at,
            executed_at, updated_at, tx_hash, block_number)
        SELECT i, '0x' || lpad(to_hex(i % 1000), 40, '0'), '0x' || repeat('0', 40),
            '0x' || repeat('a', 40), 0.05, 0.8944299, 0, 'LIMIT', i % 2 = 0, false,
            (ARRAY['PENDING', 'EXECUTED', 'CANCELLED'])[1 + i % 3],
            now() - make_interval(secs => $1 - i),
            CASE WHEN i % 3 = 1 THEN now() END, now(),
            '0x' || lpad(to_hex(i), 64, '0'), i
        FROM generate_series(1, $1) AS i
        """,
        count,
    )
    await pool.execute("VACUUM ANALYZE orders")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms  p99 {p99 * 1000:.2f} ms"


async def api_latency(pool: asyncpg.Pool, count: int, requests: int) -> None:
    app = create_app(OrderSettings())
    app.state.pool = pool
    app.state.rpc = JsonRpc("http://127.0.0.1:9")
    rng = random.Random(7)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        cases: dict[str, dict[str, str]] = {
            "/orders/all": {},
            "/orders/pending": {},
            "/users/{user}/orders": {"status": "executed"},
        }
        for path, extra in cases.items():
            samples = []
            for _ in range(requests):
                user = "0x" + format(rng.randrange(1000), "040x")
                params = {"limit": "100", "cursor": str(rng.randrange(200, count)), **extra}
                began = time.perf_counter()
                response = await client.get(path.format(user=user), params=params)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
                orjson.loads(response.content)
            print(f"  {path:24} cursor at random depth, limit 100: {_percentiles(samples)}")
        samples = []
        for _ in range(requests // 5):
            began = time.perf_counter()
            await client.get("/orders/all", params={"limit": "100", "offset": "0"})
            samples.append(time.perf_counter() - began)
        print(f"  {'/orders/all':24} first page (offset 0):         {_percentiles(samples)}")


async def run(args: argparse.Namespace, dsn: str, node_url: str) -> None:
    from web3 import Web3

    deployment = deploy(Web3(Web3.HTTPProvider(node_url, request_kwargs={"timeout": 120})))
    async with JsonRpc(node_url, timeout=300) as rpc:
        began = time.perf_counter()
        await generate(rpc, deployment, args.creates, args.modify_rounds)
        head = int(await rpc.call("eth_blockNumber", []), 16)
        print(f"chain: {head} blocks, flow mined in {time.perf_counter() - began:.1f} s")
        raw_seconds, raw_logs = await raw_get_logs(
            rpc, deployment.trading, deployment.block_number, head
        )
        seconds, events = await catch_up(dsn, rpc, deployment)
        calls_per_second = await get_order_rate(rpc, deployment.trading, min(args.creates, 2000))
        cache = AnswerCache(node_url)
        cached_url = await cache.start()
        try:
            async with JsonRpc(cached_url, timeout=300) as cached:
                await catch_up(dsn, cached, deployment)  # fills the cache
                cached_seconds, _ = await catch_up(dsn, cached, deployment)
        finally:
            await cache.stop()
    print(f"raw eth_getLogs: {raw_logs} logs in {raw_seconds * 1000:.0f} ms")
    print(
        f"getOrder eth_call on this node: {calls_per_second:,.0f}/s "
        f"({args.creates} CREATED events need one each, at their block)"
    )
    print(
        f"catch-up:        {events} events in {seconds:.2f} s = {events / seconds:,.0f} "
        f"events/s ({seconds / raw_seconds:.1f}x the raw eth_getLogs time)"
    )
    print(
        f"catch-up with the node's answers replayed from memory: {cached_seconds:.2f} s = "
        f"{events / cached_seconds:,.0f} events/s (processor + PostgreSQL alone)"
    )
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    try:
        began = time.perf_counter()
        await load_orders(pool, args.orders)
        print(f"api: {args.orders:,} orders loaded in {time.perf_counter() - began:.1f} s")
        await api_latency(pool, args.orders, args.requests)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=8000)
    parser.add_argument(
        "--modify-rounds",
        type=int,
        default=0,
        help="extra OrderModified events for every order left pending",
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="linkora-bench-"))
    root.chmod(0o755)
    cluster = PostgresCluster(root / "pg", free_port())
    cluster.initialise()
    server = subprocess.Popen(
        cluster.server_command(durable=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        cluster.wait_ready()
        cluster.create_database("bench")
        dsn = cluster.dsn("bench")

        async def migrate() -> None:
            connection = await asyncpg.connect(dsn)
            await apply_migrations(connection)
            await connection.close()

        asyncio.run(migrate())
        with HardhatNode(root / "hardhat.log") as node:
            asyncio.run(run(args, dsn, node.url))
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
