"""Order indexer catch-up from a private Hardhat node into PostgreSQL.

1. Deploys the contracts and mines an order flow through raw JSON-RPC batches, `--per-block`
   transactions per block (automine off, then `evm_mine`): the creates, then cancels, modifies
   and keeper executions (bench/indexer_workload.py); with `--wave N`, creates in waves of N mixed
   into the same blocks as the previous wave's later events, as on a live exchange; with
   `--close-all`, every order ends (the default leaves 70% of them pending). The chain shape
   (events per block) is printed with the results.
2. Times one raw `eth_getLogs` of the whole range (no decoding), then the processor's full
   catch-up from the deployment block, both ways: through OrderReader calls (the default: per
   block, up to 10 orders each) and one plain eth_call per order (BLOCK_ORDER_READS=false),
   alternated `--repeat` times, with the CPU time the node, the processor and its PostgreSQL
   backend each used; then once more from answers replayed from memory (the processor and
   PostgreSQL alone). PostgreSQL runs durable (fsync on) and Hardhat with its per-request log
   off.

    .venv/bin/python bench/bench_indexer.py [--creates 8000] [--modify-rounds 0]
        [--per-block 70] [--wave N] [--close-all] [--repeat 3] [--node hardhat|anvil]

Every CREATED event needs `getOrder` at its block; on Hardhat executing those calls, not the
processor, bounds catch-up. The CPU line shows the other bound: the three processes' CPU time
shared over the machine's cores. The order API's list latency is bench/bench_order_api.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from anvil_node import anvil_node
from cpu_use import group_cpu, own_cpu, process_cpu
from indexer_workload import MAX_PER_BLOCK, generate

from devstack.hardhat import HardhatNode
from devstack.ports import free_port
from devstack.postgres import PostgresServer
from linkora_core.migrations import apply_migrations
from order_system.deploy import Deployment, deploy
from order_system.events.chain import Chain
from order_system.events.decoding import TOPICS, EventKind
from order_system.events.processor import Processor
from order_system.rpc import JsonRpc
from order_system.settings import Tuning


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


@dataclass(frozen=True, slots=True)
class CatchUp:
    seconds: float
    events: int
    # CPU seconds each process used during the catch-up (the node's is 0 when not measured).
    node_cpu: float
    processor_cpu: float
    database_cpu: float


def cpu_line(runs: list[CatchUp]) -> str:
    """The CPU each process used (medians) and the rate those seconds allow at best, spread
    perfectly over the machine's cores."""
    node, processor, database = (
        statistics.median(getattr(run, name) for run in runs)
        for name in ("node_cpu", "processor_cpu", "database_cpu")
    )
    cores = os.cpu_count() or 1
    floor = (node + processor + database) / cores
    return (
        f"CPU per catch-up (medians): node {node:.2f} s, processor {processor:.2f} s, "
        f"PostgreSQL {database:.2f} s; over {cores} cores that allows at most "
        f"{runs[0].events / floor:,.0f} events/s"
    )


async def catch_up(
    dsn: str, rpc: JsonRpc, deployment: Deployment, node_group: int | None, reader: bool = True
) -> CatchUp:
    connection = await asyncpg.connect(dsn)
    backend = connection.get_server_pid()
    await connection.execute(
        "TRUNCATE orders, order_events, processed_events, block_hashes, system_state"
    )
    try:
        # A small first range: the sizer then aims at ~2,000 logs per range, so fetching the
        # next ranges overlaps writing this one.
        tuning = Tuning(start_block=deployment.block_number, confirmations=0, initial_range=10)
        chain = Chain(rpc, deployment.trading, reader=reader)
        processor = Processor(connection, chain, tuning, asyncio.Event())
        node = group_cpu(node_group) if node_group else 0.0
        cpu = own_cpu(), process_cpu(backend)
        began = time.perf_counter()
        await processor.prepare()
        await processor.sync()
        seconds = time.perf_counter() - began
        assert chain.reader_enabled is reader, "the node did not run OrderReader"
        return CatchUp(
            seconds,
            processor.events_applied,
            group_cpu(node_group) - node if node_group else 0.0,
            own_cpu() - cpu[0],
            process_cpu(backend) - cpu[1],
        )
    finally:
        await connection.close()


async def run(args: argparse.Namespace, dsn: str, node_url: str, node_group: int) -> None:
    from web3 import Web3

    deployment = deploy(Web3(Web3.HTTPProvider(node_url, request_kwargs={"timeout": 120})))
    async with JsonRpc(node_url, timeout=300) as rpc:
        began = time.perf_counter()
        await generate(
            rpc,
            deployment,
            args.creates,
            args.modify_rounds,
            args.per_block,
            args.wave,
            args.close_all,
        )
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
        runs: dict[bool, list[CatchUp]] = {True: [], False: []}
        for _ in range(args.repeat):  # alternated: a busy machine slows both alike
            for reader in ways:
                runs[reader].append(await catch_up(dsn, rpc, deployment, node_group, reader))
        for reader, how in ways.items():
            events = runs[reader][0].events
            seconds = statistics.median(run.seconds for run in runs[reader])
            each = ", ".join(f"{events / run.seconds:,.0f}" for run in runs[reader])
            print(
                f"catch-up, getOrder by {how}: {events} events in {seconds:.2f} s = "
                f"{events / seconds:,.0f} events/s, median of {args.repeat} (each: {each}); "
                f"{seconds / raw_seconds:.1f}x the raw eth_getLogs time"
            )
            print(f"  {cpu_line(runs[reader])}")
        cache = AnswerCache(node_url)
        cached_url = await cache.start()
        try:
            async with JsonRpc(cached_url, timeout=300) as replay:
                await catch_up(dsn, replay, deployment, None)  # fills the cache
                replayed = await catch_up(dsn, replay, deployment, None)
        finally:
            await cache.stop()
    print(
        f"catch-up with the node's answers replayed from memory: {replayed.seconds:.2f} s = "
        f"{replayed.events / replayed.seconds:,.0f} events/s (processor + PostgreSQL alone; "
        f"PostgreSQL CPU {replayed.database_cpu:.2f} s)"
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
        "--close-all",
        action="store_true",
        help="every order ends: the orders the flow leaves pending are cancelled after their "
        "modifications (default: 70%% of orders stay pending)",
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
            with anvil_node() as (url, group):
                asyncio.run(run(args, dsn, url, group))
        else:
            with HardhatNode(database.root / "hardhat.log") as node:
                assert node.pid is not None
                asyncio.run(run(args, dsn, node.url, node.pid))
    finally:
        database.remove()


if __name__ == "__main__":
    main()
