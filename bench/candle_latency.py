"""`/candles?limit=1000` latency of every timeframe while something else runs (a rollup build,
a backfill), for the benchmarks that measure it: one request at a time on one keep-alive
connection, the timeframes in turn and the symbols in rotation, then the same for a few
seconds once it is over; printed as p50/p99/max per timeframe, during and after.

`probe_process` runs the requests in a process of its own, so the work measured alongside
(the collector's backfill in the benchmark's own event loop) does not delay the client."""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.synchronize import Event

from support import keep_alive_get

from linkora_core.timeframes import Timeframe

Latencies = dict[str, list[float]]  # timeframe value -> milliseconds


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    return f"{statistics.median(values):>8.1f} {p99(values):>8.1f} {max(values):>8.1f}"


async def measure(
    port: int,
    symbols: Sequence[str],
    timeframes: Sequence[Timeframe],
    over: Callable[[], Awaitable[bool]],
    after: float,
) -> tuple[Latencies, Latencies, int]:
    """Requests until `over()` says so, then for `after` seconds: (during, after, non-200s)."""
    during: Latencies = {tf.value: [] for tf in timeframes}
    later: Latencies = {tf.value: [] for tf in timeframes}
    errors, n = 0, 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def one_round(into: Latencies) -> None:
        nonlocal errors, n
        for i, timeframe in enumerate(timeframes):
            symbol = symbols[(n + i) % len(symbols)]
            path = f"/candles?symbol={symbol}&timeframe={timeframe.value}&limit=1000"
            sent = time.perf_counter()
            status = await keep_alive_get(reader, writer, path)
            into[timeframe.value].append((time.perf_counter() - sent) * 1000)
            errors += status != 200
        n += 1

    try:
        while not await over():
            await one_round(during)
        deadline = time.perf_counter() + after
        while time.perf_counter() < deadline:
            await one_round(later)
    finally:
        writer.close()
    return during, later, errors


def print_table(during: Latencies, later: Latencies, errors: int, what: str) -> None:
    print(
        f"{'/candles limit=1000':20} {what:>35}   {'after it':>26}\n"
        f"{'':20} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}   "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for timeframe, values in during.items():
        print(
            f"{'timeframe=' + timeframe:20} {len(values):>8} {_stats(values)}   "
            f"{_stats(later[timeframe])}"
        )
    every = [v for values in during.values() for v in values]
    every_later = [v for values in later.values() for v in values]
    print(
        f"{'every timeframe':20} {len(every):>8} {_stats(every)}   {_stats(every_later)}"
        + (f"  errors={errors}" if errors else "")
    )


def _probe(
    port: int,
    symbols: list[str],
    timeframes: list[str],
    ready: Event,
    done: Event,
    after: float,
    results: multiprocessing.Queue[tuple[Latencies, Latencies, int]],
) -> None:
    ready.set()  # imported: what is measured may start

    async def over() -> bool:
        await asyncio.sleep(0)
        return done.is_set()

    found = asyncio.run(measure(port, symbols, [Timeframe(t) for t in timeframes], over, after))
    results.put(found)


class ProbeProcess:
    """`measure` in a process of its own until `finish()` (then `after` seconds more)."""

    def __init__(
        self, port: int, symbols: Sequence[str], timeframes: Sequence[Timeframe], after: float
    ) -> None:
        context = multiprocessing.get_context("spawn")
        ready, self._done = context.Event(), context.Event()
        self._results: multiprocessing.Queue[tuple[Latencies, Latencies, int]] = context.Queue()
        self._process = context.Process(
            target=_probe,
            args=(
                port,
                list(symbols),
                [tf.value for tf in timeframes],
                ready,
                self._done,
                after,
                self._results,
            ),
        )
        self._process.start()
        if not ready.wait(60):
            raise RuntimeError("the probe process did not start")

    def finish(self, timeout: float = 120.0) -> tuple[Latencies, Latencies, int]:
        self._done.set()
        found = self._results.get(timeout=timeout)
        self._process.join(10)
        return found
