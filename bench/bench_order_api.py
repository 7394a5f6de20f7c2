"""Order API list latency over real HTTP, with `--orders` orders in PostgreSQL.

Starts a private PostgreSQL, loads synthetic orders (a third each PENDING, EXECUTED and
CANCELLED, 1,000 users, 8 token pairs, 20 executors, one order a second), runs
`python -m order_system.api` as its own process (one uvicorn worker, rate limit off, no node
behind it) and times sequential requests from one keep-alive HTTP/1.1 connection: the list
endpoints at page depths reached by keyset cursor (a cursor is
an order id, so a page at depth D is one request, exactly as after D / limit pages of
`next_cursor`), the first page by offset, and `/health` (one `SELECT 1`, the indexer state and
a refused node connection) as the ceiling the ratios compare against.

Before them, each filter and sort of 0009 (token pair, creation and execution time ranges, creating
and executing transaction hash, executor, oldest first) at cursor depths 0, 10%, 50% and 99%
of its own list: the cursor is the `next_cursor` the API would have given there (built by the
API's own code from the order at that depth), and the p99 is checked against 10 ms.

    .venv/bin/python bench/bench_order_api.py [--orders 1000000] [--requests 1000]
        [--only-filters]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import orjson
from cpu_use import process_cpu
from starlette.datastructures import QueryParams
from support import concurrent_load, server_env, start_server

from devstack.ports import free_port
from devstack.postgres import PostgresServer
from linkora_core.migrations import apply_migrations
from order_system.api import listing, queries

USERS = 1000
PAIRS = 8
EXECUTORS = 20
LIMIT = 100
TARGET_P99 = 0.010
REPO = Path(__file__).resolve().parent.parent


async def load_orders(dsn: str, count: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
        await connection.execute("TRUNCATE orders, order_events")
        await connection.execute(
            """
            INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price,
                min_amount_out, order_type, is_long, self_executable, status, created_at,
                executed_at, updated_at, tx_hash, block_number, executor_address, amount_out,
                execution_tx_hash)
            SELECT i, '0x' || lpad(to_hex(i % $2), 40, '0'), '0x' || lpad(to_hex(i % $3), 40, '0'),
                '0x' || lpad(to_hex(100 + i % $3 / 2), 40, '0'), 0.05, 0.8944299, 0, 'LIMIT',
                i % 2 = 0, false, (ARRAY['PENDING', 'EXECUTED', 'CANCELLED'])[1 + i % 3],
                now() - make_interval(secs => $1 - i),
                CASE WHEN i % 3 = 1 THEN now() - make_interval(secs => $1 - i - i % 5000) END,
                now(), '0x' || lpad(to_hex(i), 64, '0'), i,
                CASE WHEN i % 3 = 1 THEN '0x' || lpad(to_hex(5000 + i % $4), 40, '0') END,
                CASE WHEN i % 3 = 1 THEN 1.5 END,
                CASE WHEN i % 3 = 1 THEN '0x' || lpad(to_hex(i), 60, '0') || 'eeee' END
            FROM generate_series(1, $1) AS i
            """,
            count,
            USERS,
            PAIRS,
            EXECUTORS,
            timeout=3600,
        )
        await connection.execute("VACUUM ANALYZE orders")
    finally:
        await connection.close()


class KeepAlive:
    """One HTTP/1.1 connection, requests one after another (little client CPU per request)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._reader, self._writer
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def timed(
    client: KeepAlive, paths: Callable[[], str], requests: int, rows: int = 0
) -> tuple[float, float]:
    """(p50, p99) in seconds; every answer must be 200 with at least `rows` orders."""
    await client.get(paths())  # warm-up
    samples = []
    for _ in range(requests):
        path = paths()
        began = time.perf_counter()
        status, body = await client.get(path)
        samples.append(time.perf_counter() - began)
        assert status == 200, f"{path}: {status} {body[:200]!r}"
        if rows:
            found = len(orjson.loads(body)["orders"])
            assert found >= rows, f"{path}: {found} orders"
    samples.sort()
    return statistics.median(samples), _percentile(samples, 0.99)


async def measure(port: int, dsn: str, count: int, requests: int, only_filters: bool) -> None:
    rng = random.Random(7)
    client = KeepAlive(port)
    try:
        health = await timed(client, lambda: "/health", requests)
        print(f"{'case':58} {'p50 ms':>7} {'p99 ms':>7} {'p50/p99 vs /health':>19}")

        def show(name: str, result: tuple[float, float], target: bool = False) -> None:
            p50, p99 = result
            verdict = ("  p99 <= 10 ms" if p99 <= TARGET_P99 else "  p99 > 10 ms") if target else ""
            print(
                f"{name:58} {p50 * 1000:7.2f} {p99 * 1000:7.2f} "
                f"{p50 / health[0]:8.1f}x {p99 / health[1]:8.1f}x{verdict}",
                flush=True,
            )

        show("/health (ceiling)", health)
        await measure_filters(client, dsn, count, requests, rng, show)
        if only_filters:
            return
        # Depth as a fraction of the endpoint's rows: the cursor is the id below which it lists.
        depths = {"top": 0.0, "10%": 0.1, "50%": 0.5, "99%": 0.99}
        # A user's executed orders are every 3,000th id: this many ids below the cursor fill a
        # page (with fewer orders loaded, pages are only checked to be non-empty).
        margin = min(3 * USERS * LIMIT, count // 2)
        full = LIMIT if margin == 3 * USERS * LIMIT else 1
        for path, extra in (
            ("/orders/all", ""),
            ("/orders/pending", ""),
            ("/users/{user}/orders", "&status=executed"),
        ):
            for label, fraction in depths.items():
                top = count - int((count - margin) * fraction)

                def page(path: str = path, extra: str = extra, top: int = top) -> str:
                    user = "0x" + format(rng.randrange(USERS), "040x")
                    cursor = top - rng.randrange(1000)
                    return f"{path.format(user=user)}?limit={LIMIT}&cursor={cursor}{extra}"

                show(f"{path} cursor at {label} depth", await timed(client, page, requests, full))

            def random_depth(path: str = path, extra: str = extra) -> str:
                user = "0x" + format(rng.randrange(USERS), "040x")
                cursor = rng.randrange(margin, count)
                return f"{path.format(user=user)}?limit={LIMIT}&cursor={cursor}{extra}"

            show(
                f"{path} cursor at random depth", await timed(client, random_depth, requests, full)
            )
        first = await timed(client, lambda: f"/orders/all?limit={LIMIT}&offset=0", requests, LIMIT)
        show("/orders/all first page by offset", first)
        deep = await timed(
            client,
            lambda: f"/orders/all?limit={LIMIT}&offset={count // 10}",
            max(10, requests // 20),
            LIMIT,
        )
        show(f"/orders/all offset {count // 10:,} (keyset's alternative)", deep)
    finally:
        await client.close()


def _address(n: int) -> str:
    return f"0x{n:040x}"


def _time(count: int, fraction: float) -> str:
    """The block time `fraction` of the way through the orders (one a second up to now)."""
    return (datetime.now(UTC) - timedelta(seconds=count * (1 - fraction))).isoformat()


def filter_cases(count: int) -> list[tuple[str, str, dict[str, str]]]:
    """(label, path, query) of each new filter and sort; time windows span a fifth of the
    orders."""
    pair = {"token_in": _address(3), "token_out": _address(101)}
    created = {"created_from": _time(count, 0.4), "created_to": _time(count, 0.6)}
    executed = {"executed_from": _time(count, 0.4), "executed_to": _time(count, 0.6)}
    executor = {"executor": _address(5007)}
    user = f"/users/{_address(3)}/orders"  # user 3's orders are all of pair 3
    return [
        ("pair", "/orders/all", pair),
        ("pair, oldest", "/orders/all", {**pair, "sort": "oldest"}),
        ("pair, pending", "/orders/pending", pair),
        ("created range", "/orders/all", created),
        ("created range, oldest", "/orders/all", {**created, "sort": "oldest"}),
        ("executed range, newest executed", "/orders/all", {**executed, "sort": "newest_executed"}),
        ("executed range, oldest executed", "/orders/all", {**executed, "sort": "oldest_executed"}),
        ("newest executed", "/orders/all", {"sort": "newest_executed"}),
        ("executor", "/orders/all", executor),
        ("executor, newest executed", "/orders/executed", {**executor, "sort": "newest_executed"}),
        ("oldest first", "/orders/all", {"sort": "oldest"}),
        ("user, pair", user, pair),
        ("user, created range", user, created),
    ]


def _list_query(path: str, query: dict[str, str]) -> listing.ListQuery:
    """What the API reads from this request (the cursor binds to it)."""
    status = {"/orders/pending": "PENDING", "/orders/executed": "EXECUTED"}.get(path)
    user = path.split("/")[2] if path.startswith("/users/") else None
    return listing.read(QueryParams(query), status, user)


async def measure_filters(
    client: KeepAlive,
    dsn: str,
    count: int,
    requests: int,
    rng: random.Random,
    show: Callable[..., None],
) -> None:
    """Each new filter at cursor depths of its own list; then both transaction hashes."""
    connection = await asyncpg.connect(dsn)
    try:
        for label, path, query in filter_cases(count):
            found = _list_query(path, query)
            # The list's size, then a window of 200 orders at each depth to draw cursors from.
            size_sql, size_args = queries.select(
                found.filter, found.sort, queries.Page(count, 0), "id"
            )
            size = await connection.fetchval(f"SELECT count(*) FROM ({size_sql}) AS l", *size_args)
            for depth in (0.0, 0.1, 0.5, 0.99):
                skip = int(max(0, size - LIMIT - 200) * depth)
                sql, args = queries.select(
                    found.filter, found.sort, queries.Page(199, skip), queries.DETAIL_FIELDS
                )
                window = await connection.fetch(sql, *args)
                if depth == 0.0:
                    window = window[:0]  # the first page: no cursor
                rows = LIMIT if size >= LIMIT + 200 else 0  # a short list may end at the cursor

                def page(
                    window: list[asyncpg.Record] = window,
                    found: listing.ListQuery = found,
                    query: dict[str, str] = query,
                    path: str = path,
                ) -> str:
                    params = {**query, "limit": str(LIMIT)}
                    if window:
                        params["cursor"] = listing.encode(found, rng.choice(window))
                    return f"{path}?{urlencode(params)}"

                name = f"{label} ({size:,}) at {'first page' if not window else f'{depth:.0%}'}"
                show(name, await timed(client, page, requests, rows), target=True)
        hashes = [
            ("creating tx hash", lambda: f"0x{rng.randrange(1, count):064x}"),
            ("executing tx hash", lambda: f"0x{3 * rng.randrange(count // 3) + 1:060x}eeee"),
        ]
        for label, tx in hashes:
            lookup = lambda tx=tx: f"/orders/all?{urlencode({'tx_hash': tx(), 'limit': LIMIT})}"  # noqa: E731
            show(label, await timed(client, lookup, requests, 1), target=True)
    finally:
        await connection.close()


THROUGHPUT_CONCURRENCY = 32


async def measure_throughput(port: int, api_pid: int, seconds: float) -> None:
    """Requests/s at concurrency 32 and per CPU second of the API process, per endpoint."""
    user = f"/users/{_address(3)}/orders"
    pair = urlencode({"token_in": _address(3), "token_out": _address(101)})
    cases = [
        ("/health", "/health"),
        ("/orders/all first page", f"/orders/all?limit={LIMIT}"),
        ("/orders/pending first page", f"/orders/pending?limit={LIMIT}"),
        ("/orders/all by token pair", f"/orders/all?limit={LIMIT}&{pair}"),
        ("a user's orders", f"{user}?limit={LIMIT}"),
        ("one order by id", "/orders/4242"),
    ]
    print(
        f"{'case':28} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} "
        f"{'API CPU':>8} {'req/CPU-s':>10}"
    )
    for name, path in cases:
        cpu, wall = process_cpu(api_pid), time.perf_counter()
        result = await concurrent_load(port, path, THROUGHPUT_CONCURRENCY, seconds)
        used = (process_cpu(api_pid) - cpu) / (time.perf_counter() - wall)
        errors = f"  errors={result['errors']:.0f}" if result["errors"] else ""
        print(
            f"{name:28} {THROUGHPUT_CONCURRENCY:>4} {result['p50']:>8.2f} {result['p99']:>8.2f} "
            f"{result['rps']:>8.0f} {used:>7.0%} {result['rps'] / used:>10.0f}{errors}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000, help="per case")
    parser.add_argument(
        "--only-filters", action="store_true", help="skip the lists of before 0009 and offsets"
    )
    parser.add_argument(
        "--throughput", action="store_true", help="requests/s at concurrency 32 per API core"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput case")
    args = parser.parse_args()
    database = PostgresServer()
    api: subprocess.Popen[bytes] | None = None
    try:
        database.start()
        database.cluster.create_database("bench")
        dsn = database.cluster.dsn("bench")
        began = time.perf_counter()
        asyncio.run(load_orders(dsn, args.orders))
        print(f"{args.orders:,} orders loaded in {time.perf_counter() - began:.1f} s")
        port = free_port()
        env = server_env(dsn, port) | {
            "ORDER_API_PORT": str(port),
            "WEB3_PROVIDER": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "PYTHONPATH": os.pathsep.join(
                str(REPO / folder) for folder in ("core", "order_system", ".")
            ),
        }
        api = start_server([sys.executable, "-m", "order_system.api"], env, port)
        if args.throughput:
            print(f"order API: `python -m order_system.api` (pid {api.pid}), one worker")
            asyncio.run(measure_throughput(port, api.pid, args.seconds))
            return
        print(
            f"order API: `python -m order_system.api` (pid {api.pid}), sequential requests on one "
            f"keep-alive connection, limit {LIMIT}, {args.requests} requests per case"
        )
        asyncio.run(measure(port, dsn, args.orders, args.requests, args.only_filters))
    finally:
        if api is not None:
            api.terminate()
            api.wait(15)
        database.remove()


if __name__ == "__main__":
    main()
