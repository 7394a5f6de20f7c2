"""Order indexer catch-up from a private Hardhat node into PostgreSQL.

1. Deploys the contracts and mines an order flow through raw JSON-RPC batches, `--per-block`
   transactions per block (automine off, then `evm_mine`): the creates, then cancels, modifies
   and keeper executions; with `--wave N`, creates in waves of N mixed into the same blocks
   as the previous wave's later events, as on a live exchange. The chain shape (events per
   block) is printed with the results.
2. Times one raw `eth_getLogs` of the whole range (no decoding), then the processor's full
   catch-up from the deployment block, both ways: through OrderReader calls (the default: per
   block, up to 10 orders each) and one plain eth_call per order (BLOCK_ORDER_READS=false),
   alternated `--repeat` times; then once more from answers replayed from memory (the
   processor and PostgreSQL alone). PostgreSQL runs durable (fsync on) and Hardhat with its
   per-request log off.

    .venv/bin/python bench/bench_indexer.py [--creates 8000] [--modify-rounds 0]
        [--per-block 70] [--wave N] [--repeat 3] [--node hardhat|anvil]

Every CREATED event needs `getOrder` at its block; on Hardhat executing those calls, not the
processor, bounds catch-up. The order API's list latency is bench/bench_order_api.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from itertools import zip_longest
from typing import Any

import asyncpg
import orjson
from anvil_node import anvil_node

from devstack.hardhat import HardhatNode
from devstack.ports import free_port
from devstack.postgres import PostgresServer
from linkora_core.migrations import apply_migrations
from order_system.deploy import ETH, Deployment, deploy
from order_system.events.chain import Chain
from order_system.events.decoding import TOPICS, EventKind
from order_system.events.processor import Processor, Tuning
from order_system.events.rpc import JsonRpc

# A block takes transactions by gas limit: 70 x 400,000 fits Hardhat's 30M.
MAX_PER_BLOCK = 70


def _selector(signature: str) -> str:
    from eth_utils.crypto import keccak

    return "0x" + keccak(text=signature)[:4].hex()


CREATE = _selector("createOrder(address,address,uint256,uint256,uint256,uint8,bool,bool)")
CANCEL = _selector("cancelOrder(uint256)")
MODIFY = _selector("modifyOrder(uint256,uint256,uint256)")
EXECUTE = _selector("executeOrder(uint256)")


def _words(*values: int | str) -> str:
    return "".join(format(int(v, 16) if isinstance(v, str) else int(v), "064x") for v in values)


def _tx(sender: str, to: str, data: str, gas: int = 300_000, value: int = 0) -> dict[str, Any]:
    tx = {"from": sender, "to": to, "data": data, "gas": hex(gas)}
    return {**tx, "value": hex(value)} if value else tx


async def _send_all(rpc: JsonRpc, txs: list[dict[str, Any]], per_block: int) -> None:
    """Send with automine off, mining `per_block` transactions per block."""
    await rpc.call("evm_setAutomine", [False])
    for first in range(0, len(txs), per_block):
        answers = await rpc.batch(
            [("eth_sendTransaction", [tx]) for tx in txs[first : first + per_block]]
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


class Flow:
    """The benchmark's order flow: creations (ETH into USDC), then for each order its later
    events: every 10th executed by the keeper, every 5th of the rest cancelled, every 3rd of
    those left modified, and `modify_rounds` more modifications of every order left pending."""

    def __init__(self, deployment: Deployment, accounts: list[str], modify_rounds: int) -> None:
        self.deployment = deployment
        self.keeper, self.users = accounts[0], accounts[1:10]
        self.modify_rounds = modify_rounds

    def create(self, i: int) -> dict[str, Any]:
        amount = 10**15 + i  # tells which create an OrderCreated event belongs to
        executable = i % 10 == 0  # LIMIT long on USDC at 1.05: the keeper can execute it
        target = 105 * 10**16 if executable else 3 * 10**17 + i
        data = CREATE + _words(
            ETH,
            self.deployment.tokens["USDC"].address,
            amount,
            target,
            0,
            0 if executable else i % 2,
            1 if executable or i % 3 == 0 else 0,
            0,
        )
        sender = self.users[i % len(self.users)]
        return _tx(sender, self.deployment.trading, data, 400_000, value=amount)

    def later(self, i: int, order_id: int, user: str) -> list[dict[str, Any]]:
        trading = self.deployment.trading
        if i % 10 == 0:
            return [_tx(self.keeper, self.deployment.router, EXECUTE + _words(order_id), 400_000)]
        if i % 5 == 4:
            return [_tx(user, trading, CANCEL + _words(order_id))]
        modifications = [(5 * 10**17 + i + r, i + r) for r in range(self.modify_rounds)]
        if i % 3 == 1:
            modifications.insert(0, (4 * 10**17 + i, i))
        return [
            _tx(user, trading, MODIFY + _words(order_id, target, min_out))
            for target, min_out in modifications
        ]

    async def created(self, rpc: JsonRpc, start: int, end: int) -> list[tuple[int, int, str]]:
        """(create number, order id, owner) of the orders created in blocks [start, end].
        Transactions of one block are not mined in the order sent: the amount tells."""
        logs = await rpc.call(
            "eth_getLogs",
            [{"address": self.deployment.trading, "fromBlock": hex(start), "toBlock": hex(end),
              "topics": [TOPICS[EventKind.CREATED]]}],
        )  # fmt: skip
        return [
            (int(log["data"][130:194], 16) - 10**15, int(log["topics"][1], 16),
             "0x" + log["topics"][2][-40:])
            for log in logs
        ]  # fmt: skip


async def generate(
    rpc: JsonRpc,
    deployment: Deployment,
    creates: int,
    modify_rounds: int = 0,
    per_block: int = MAX_PER_BLOCK,
    wave: int | None = None,
) -> None:
    """Mine the flow. Without `wave`, every creation first and then every later event (all
    the getOrder reads at the start of the chain). With it, creations in waves of `wave`
    orders, each wave's blocks also carrying the later events of the wave before, as a live
    exchange's chain mixes them."""
    flow = Flow(deployment, await rpc.call("eth_accounts", []), modify_rounds)
    step = wave or creates
    later: list[dict[str, Any]] = []
    for first in range(0, creates, step):
        news = [flow.create(i) for i in range(first, min(creates, first + step))]
        start = int(await rpc.call("eth_blockNumber", []), 16) + 1
        # Alternated, so that each block holds creations and later events.
        mixed = [tx for pair in zip_longest(news, later) for tx in pair if tx is not None]
        await _send_all(rpc, mixed, per_block)
        end = int(await rpc.call("eth_blockNumber", []), 16)
        created = await flow.created(rpc, start, end)
        later = [tx for order in sorted(created) for tx in flow.later(*order)]
    await _send_all(rpc, later, per_block)


async def raw_get_logs(
    rpc: JsonRpc, trading: str, start: int, end: int
) -> tuple[float, list[dict[str, Any]]]:
    began = time.perf_counter()
    logs: list[dict[str, Any]] = await rpc.call(
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
    return time.perf_counter() - began, logs


def chain_shape(logs: list[dict[str, Any]], blocks: int) -> str:
    """How the events sit in blocks: the figure that decides what per-block reads save."""
    per_block = Counter(log["blockNumber"] for log in logs)
    created = Counter(
        log["blockNumber"] for log in logs if log["topics"][0] == TOPICS[EventKind.CREATED]
    )
    names = {topic: kind.name for kind, topic in TOPICS.items()}
    mix = Counter(names[log["topics"][0]] for log in logs)
    return (
        f"{len(logs)} events ({', '.join(f'{n} {k}' for k, n in mix.most_common())}) "
        f"in {len(per_block)} of {blocks} blocks: "
        f"{len(logs) / max(1, len(per_block)):.1f} events per block with events "
        f"(max {max(per_block.values(), default=0)}), "
        f"{sum(created.values()) / max(1, len(created)):.1f} OrderCreated per block with creates"
    )


async def get_order_rates(
    rpc: JsonRpc, trading: str, logs: list[dict[str, Any]]
) -> dict[bool, float]:
    """getOrder reads per second on this node, each at its event's block, both ways (keyed by
    whether OrderReader was used)."""
    wanted = [
        (int(log["topics"][1], 16), log["blockHash"])
        for log in logs
        if log["topics"][0] == TOPICS[EventKind.CREATED]
    ][:2000]
    rates = {}
    for reader in (False, True):
        chain = Chain(rpc, trading, reader=reader)
        began = time.perf_counter()
        await chain.orders(wanted)
        rates[reader] = len(wanted) / (time.perf_counter() - began)
        assert chain.reader_enabled is reader
    return rates


def read_bound(logs: list[dict[str, Any]], rates: dict[bool, float]) -> str:
    """The catch-up rate this chain could not exceed on this node even if the node did nothing
    but the getOrder reads (one per OrderCreated): the node's share of the ceiling."""
    created = sum(1 for log in logs if log["topics"][0] == TOPICS[EventKind.CREATED])
    bounds = {reader: len(logs) * rate / max(1, created) for reader, rate in rates.items()}
    return (
        f"{rates[False]:,.0f}/s one eth_call each, {rates[True]:,.0f}/s through OrderReader; "
        f"for this chain ({created} of {len(logs)} events need one) those reads alone bound "
        f"catch-up at {bounds[False]:,.0f} and {bounds[True]:,.0f} events/s"
    )


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


async def catch_up(
    dsn: str, rpc: JsonRpc, deployment: Deployment, reader: bool = True
) -> tuple[float, int]:
    connection = await asyncpg.connect(dsn)
    await connection.execute(
        "TRUNCATE orders, order_events, processed_events, block_hashes, system_state"
    )
    try:
        # A small first range: the sizer then aims at ~2,000 logs per range, so fetching the
        # next ranges overlaps writing this one.
        tuning = Tuning(start_block=deployment.block_number, confirmations=0, initial_range=10)
        chain = Chain(rpc, deployment.trading, reader=reader)
        processor = Processor(connection, chain, tuning, asyncio.Event())
        began = time.perf_counter()
        await processor.prepare()
        await processor.sync()
        seconds = time.perf_counter() - began
        assert chain.reader_enabled is reader, "the node did not run OrderReader"
        return seconds, processor.events_applied
    finally:
        await connection.close()


async def run(args: argparse.Namespace, dsn: str, node_url: str) -> None:
    from web3 import Web3

    deployment = deploy(Web3(Web3.HTTPProvider(node_url, request_kwargs={"timeout": 120})))
    async with JsonRpc(node_url, timeout=300) as rpc:
        began = time.perf_counter()
        await generate(rpc, deployment, args.creates, args.modify_rounds, args.per_block, args.wave)
        head = int(await rpc.call("eth_blockNumber", []), 16)
        print(f"chain: {head} blocks, flow mined in {time.perf_counter() - began:.1f} s")
        raw_seconds, logs = await raw_get_logs(
            rpc, deployment.trading, deployment.block_number, head
        )
        print(f"shape: {chain_shape(logs, head - deployment.block_number + 1)}")
        print(f"raw eth_getLogs: {len(logs)} logs in {raw_seconds * 1000:.0f} ms")
        rates = await get_order_rates(rpc, deployment.trading, logs)
        print(f"getOrder at the event's block on this node: {read_bound(logs, rates)}")
        ways = {
            True: "OrderReader (the default: <= 10 orders per call, per block)",
            False: "one eth_call per order (BLOCK_ORDER_READS=false)",
        }
        runs: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeat):  # alternated: a busy machine slows both alike
            for reader in ways:
                seconds, events = await catch_up(dsn, rpc, deployment, reader)
                runs[reader].append(seconds)
        for reader, how in ways.items():
            seconds = statistics.median(runs[reader])
            each = ", ".join(f"{events / s:,.0f}" for s in runs[reader])
            print(
                f"catch-up, getOrder by {how}: {events} events in {seconds:.2f} s = "
                f"{events / seconds:,.0f} events/s, median of {args.repeat} (each: {each}); "
                f"{seconds / raw_seconds:.1f}x the raw eth_getLogs time"
            )
        cache = AnswerCache(node_url)
        cached_url = await cache.start()
        try:
            async with JsonRpc(cached_url, timeout=300) as cached:
                await catch_up(dsn, cached, deployment)  # fills the cache
                cached_seconds, _ = await catch_up(dsn, cached, deployment)
        finally:
            await cache.stop()
    print(
        f"catch-up with the node's answers replayed from memory: {cached_seconds:.2f} s = "
        f"{events / cached_seconds:,.0f} events/s (processor + PostgreSQL alone)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=8000)
    parser.add_argument(
        "--modify-rounds",
        type=int,
        default=0,
        help="extra OrderModified events for every order left pending",
    )
    parser.add_argument(
        "--per-block",
        type=int,
        default=MAX_PER_BLOCK,
        help=f"transactions mined per block (at most {MAX_PER_BLOCK}: the block gas limit)",
    )
    parser.add_argument(
        "--wave",
        type=int,
        help="mix the flow: creations in waves of this many orders, each wave's blocks also "
        "carrying the later events of the wave before (default: every creation first)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="catch-ups timed each way (the median is shown)"
    )
    parser.add_argument(
        "--node",
        choices=("hardhat", "anvil"),
        default="hardhat",
        help="the local node (anvil: Foundry's, from npm, with a compiled EVM)",
    )
    args = parser.parse_args()
    database = PostgresServer(durable=True)  # fsync on, as in production
    try:
        database.start()
        database.cluster.create_database("bench")
        dsn = database.cluster.dsn("bench")

        async def migrate() -> None:
            connection = await asyncpg.connect(dsn)
            await apply_migrations(connection)
            await connection.close()

        asyncio.run(migrate())
        if args.node == "anvil":
            with anvil_node() as url:
                asyncio.run(run(args, dsn, url))
        else:
            with HardhatNode(database.root / "hardhat.log") as node:
                asyncio.run(run(args, dsn, node.url))
    finally:
        database.remove()


if __name__ == "__main__":
    main()
