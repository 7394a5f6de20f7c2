"""Order indexer catch-up into PostgreSQL, posed as ratios measured on one chain in one run.

For each node (`--node hardhat`, `anvil` or `both`, one after the other):

1. Deploys the contracts and mines an order flow through raw JSON-RPC batches, `--per-block`
   transactions per block (automine off, then `evm_mine`): the creates, then cancels, modifies
   and keeper executions (bench/indexer_workload.py); with `--wave N`, creates in waves of N mixed
   into the same blocks as the previous wave's later events, as on a live exchange; with
   `--close-all`, every order ends (the default leaves 70% of them pending). The chain shape
   (events per block) is printed with the results.
2. Times one raw `eth_getLogs` of the whole range (no decoding).
3. Records one catch-up's requests and the node's answers (bench/replay_rpc.py), then, alternated
   `--repeat` times so that a busy machine slows each alike:
   - `node bound`: the catch-up's order reads alone (its `eth_call`s, one OrderReader call per
     block's creations, batched and in flight as the processor sent them) sent to the node
     again: every OrderCreated needs one, so catch-up cannot be faster. Measured here rather
     than on a sample: Hardhat reads older blocks' state more slowly, and warms up;
   - `node, every request`: the recorded requests sent to the node again (as many in flight as
     the processor fetches), nothing done with the answers: the whole of the node's share;
   - `processor alone`: a catch-up from the answers replayed from memory (no node, no HTTP;
     the JSON is parsed again, the PostgreSQL writes are real);
   - `catch-up`: the processor's real catch-up from the node, with the CPU time the node, the
     processor and its PostgreSQL backend each used.
4. Prints one table: events/s of each (medians), and catch-up / min(node bound, processor alone).

PostgreSQL runs durable (fsync on) and Hardhat with its per-request log off.

    .venv/bin/python bench/bench_indexer.py [--node both] [--creates 8000] [--wave N]
        [--close-all] [--modify-rounds 0] [--per-block 70] [--repeat 3] [--plain-reads]

`--fetch-concurrency N` sets the ranges fetched in flight (the setting FETCH_CONCURRENCY).
`--plain-reads` adds catch-ups with one plain eth_call per order (BLOCK_ORDER_READS=false).
`--only-processor` measures only the processor alone (for iterating on it; no table).
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
from anvil_node import anvil_node
from cpu_use import group_cpu, own_cpu, process_cpu
from indexer_workload import MAX_PER_BLOCK, generate
from replay_rpc import RecordingRpc, ReplayRpc, node_alone, order_reads

from devstack.hardhat import HardhatNode
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


async def _empty_index(connection: asyncpg.Connection) -> None:
    """Empty the indexer's tables (those that are tables: processed_events is a view since
    migration 0010, a table before)."""
    tables = await connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' AND table_name = ANY($1::text[])",
        ["orders", "order_events", "processed_events", "block_hashes", "system_state", "outbox"],
    )
    await connection.execute(f"TRUNCATE {', '.join(row[0] for row in tables)}")


async def catch_up(
    dsn: str,
    rpc: JsonRpc,
    deployment: Deployment,
    node_group: int | None,
    reader: bool = True,
    fetch_concurrency: int = Tuning(start_block=0).fetch_concurrency,
) -> CatchUp:
    connection = await asyncpg.connect(dsn)
    backend = connection.get_server_pid()
    await _empty_index(connection)
    try:
        # A small first range: the sizer then aims at ~2,000 logs per range, so fetching the
        # next ranges overlaps writing this one.
        tuning = Tuning(
            start_block=deployment.block_number,
            confirmations=0,
            initial_range=10,
            fetch_concurrency=fetch_concurrency,
        )
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


async def node_answering(
    url: str, requests: list[Any], concurrency: int, group: int
) -> tuple[float, float]:
    """Seconds the node takes to answer these recorded requests alone, and the CPU seconds it
    used meanwhile (more than the seconds: the node answered on more than one core)."""
    before = group_cpu(group)
    seconds = await node_alone(url, requests, concurrency)
    return seconds, group_cpu(group) - before


def _answering(events: int, runs: list[tuple[float, float]]) -> str:
    cpu = statistics.median(c for _, c in runs)
    return f"{_rates(events, [s for s, _ in runs])} events/s; node CPU (median) {cpu:.2f} s"


@dataclass(frozen=True, slots=True)
class NodeResult:
    node: str
    events: int
    raw_seconds: float
    read_bound: float  # events/s the catch-up's order reads alone allow
    node_alone: float  # events/s at which the node answers every request of the catch-up
    processor: float  # events/s from answers replayed from memory
    catch_up: float  # events/s from the node


def _rates(events: int, seconds: list[float]) -> str:
    return ", ".join(f"{events / s:,.0f}" for s in seconds)


async def run(
    args: argparse.Namespace, dsn: str, name: str, node_url: str, node_group: int
) -> NodeResult:
    from web3 import Web3

    print(f"--- {name}")
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
    recording = RecordingRpc(node_url, timeout=300)
    try:
        await catch_up(dsn, recording, deployment, None, fetch_concurrency=args.fetch_concurrency)
    finally:
        await recording.close()
    concurrency = args.fetch_concurrency
    alone: list[tuple[float, float]] = []
    reading: list[tuple[float, float]] = []
    reads = order_reads(recording.requests)
    replayed: list[CatchUp] = []
    runs: dict[bool, list[CatchUp]] = {True: [], False: []}
    ways = (True, False) if args.plain_reads else (True,)
    replay = ReplayRpc("memory", answers=recording.answers, logs=logs)
    async with JsonRpc(node_url, timeout=300) as rpc:
        for _ in range(args.repeat):  # alternated: a busy machine slows each alike
            if args.only_processor:
                replayed.append(await catch_up(dsn, replay, deployment, None))
                continue
            alone.append(
                await node_answering(node_url, recording.requests, concurrency, node_group)
            )
            reading.append(await node_answering(node_url, reads, concurrency, node_group))
            replayed.append(await catch_up(dsn, replay, deployment, None))
            for reader in ways:
                runs[reader].append(
                    await catch_up(dsn, rpc, deployment, node_group, reader, concurrency)
                )
    events = replayed[0].events
    if args.only_processor:
        print(
            f"processor alone, answers replayed from memory: "
            f"{_rates(events, [r.seconds for r in replayed])} events/s; CPU (medians): "
            f"processor {statistics.median(r.processor_cpu for r in replayed):.2f} s, "
            f"PostgreSQL {statistics.median(r.database_cpu for r in replayed):.2f} s"
        )
        median = statistics.median(r.seconds for r in replayed)
        return NodeResult(name, events, raw_seconds, 0.0, 0.0, events / median, 0.0)
    assert all(run.events == events for run in replayed), "the replay applied other events"
    created = sum(1 for log in logs if log["topics"][0] == TOPICS[EventKind.CREATED])
    print(
        f"node, the catch-up's order reads alone ({created} orders in {len(reads)} requests, "
        f"{concurrency} in flight): {_answering(events, reading)}"
    )
    print(
        f"node, every request of the catch-up ({len(recording.requests)} requests, "
        f"{concurrency} in flight): {_answering(events, alone)}"
    )
    print(
        f"processor alone, answers replayed from memory: "
        f"{_rates(events, [r.seconds for r in replayed])} events/s; CPU (medians): "
        f"processor {statistics.median(r.processor_cpu for r in replayed):.2f} s, "
        f"PostgreSQL {statistics.median(r.database_cpu for r in replayed):.2f} s"
    )
    for reader in ways:
        how = "OrderReader (the default)" if reader else "one eth_call per order"
        seconds = [run.seconds for run in runs[reader]]
        print(
            f"catch-up, getOrder through {how}: {_rates(events, seconds)} events/s; "
            f"{statistics.median(seconds) / raw_seconds:.1f}x the raw eth_getLogs time"
        )
        print(f"  {cpu_line(runs[reader])}")
    return NodeResult(
        name,
        events,
        raw_seconds,
        events / statistics.median(s for s, _ in reading),
        events / statistics.median(s for s, _ in alone),
        events / statistics.median(r.seconds for r in replayed),
        events / statistics.median(r.seconds for r in runs[True]),
    )


def table(results: list[NodeResult], repeat: int) -> str:
    header = (
        "| node | events | raw eth_getLogs | node bound: order reads alone | "
        "node: every request | processor alone (replayed) | catch-up | "
        "catch-up / min(node bound, processor) | catch-up / min(every request, processor) |"
    )
    rows = [header, "|" + "---|" * 9]
    for r in results:
        rows.append(
            f"| {r.node} | {r.events} | {r.raw_seconds * 1000:.0f} ms | {r.read_bound:,.0f}/s | "
            f"{r.node_alone:,.0f}/s | {r.processor:,.0f}/s | {r.catch_up:,.0f}/s | "
            f"{r.catch_up / min(r.read_bound, r.processor):.2f} | "
            f"{r.catch_up / min(r.node_alone, r.processor):.2f} |"
        )
    return (
        f"events/s, medians of {repeat}. node bound: the catch-up's order reads alone (one "
        "OrderReader call per block's creations, as the processor sent them); every request: "
        "the node answering all the catch-up asks (logs, headers, reads), nothing done with "
        "the answers; processor alone: the same catch-up from the node's answers replayed "
        "from memory\n" + "\n".join(rows)
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
        "--repeat", type=int, default=3, help="runs of each measure (the median is shown)"
    )
    parser.add_argument(
        "--plain-reads",
        action="store_true",
        help="also catch up with one plain eth_call per order (BLOCK_ORDER_READS=false)",
    )
    parser.add_argument(
        "--node",
        choices=("hardhat", "anvil", "both"),
        default="hardhat",
        help="the local node (anvil: Foundry's, from npm, with a compiled EVM; both: Hardhat "
        "then anvil, each on a chain of its own mined the same way)",
    )
    parser.add_argument(
        "--only-processor",
        action="store_true",
        help="measure the processor alone (replayed answers) and skip the node's timings, "
        "while iterating on the processor; the table is then left out",
    )
    parser.add_argument(
        "--fetch-concurrency",
        type=int,
        default=Tuning(start_block=0).fetch_concurrency,
        help="ranges fetched in flight (FETCH_CONCURRENCY; default: the setting's default)",
    )
    args = parser.parse_args()
    database = PostgresServer(durable=True)  # fsync on, as in production
    results: list[NodeResult] = []
    try:
        database.start()
        database.cluster.create_database("bench")
        dsn = database.cluster.dsn("bench")

        async def migrate() -> None:
            connection = await asyncpg.connect(dsn)
            await apply_migrations(connection)
            await connection.close()

        asyncio.run(migrate())
        if args.node in ("hardhat", "both"):
            with HardhatNode(database.root / "hardhat.log") as node:
                assert node.pid is not None
                results.append(asyncio.run(run(args, dsn, "Hardhat", node.url, node.pid)))
        if args.node in ("anvil", "both"):
            with anvil_node() as (url, group):
                results.append(asyncio.run(run(args, dsn, "anvil", url, group)))
    finally:
        database.remove()
    if not args.only_processor:
        print(table(results, args.repeat))


if __name__ == "__main__":
    main()
