"""Filling the chunk cache ahead of a benchmark, on every core (worker side is pure).

Generating and serializing a day costs a few milliseconds; a year of five symbols is
1825 days, so a collector benchmark that should measure the collector calls
`await sim.source.prewarm(...)` first.
"""

from __future__ import annotations

import asyncio
import os
from array import array
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from exchange_sim.candle import Candle, rows_json
from exchange_sim.intervals import DAY_MS, MINUTE_MS
from exchange_sim.walk import Walk, WalkParams

_walks: dict[WalkParams, Walk] = {}


def pack(candles: Sequence[Candle], width_ms: int) -> tuple[array[int], array[int], bytes]:
    """(open times, row offsets, blob of rows each followed by b",")."""
    rows = rows_json(candles, width_ms)
    offsets = array("q", [0])
    total = 0
    for row in rows:
        total += len(row) + 1
        offsets.append(total)
    rows.append(b"")
    return array("q", [c.open_ms for c in candles]), offsets, b",".join(rows)


def pack_day(
    params: WalkParams, gaps: tuple[tuple[int, int], ...], day: int
) -> tuple[int, bytes, bytes, bytes]:
    """Worker: one generated day of 1m klines, packed (arrays as bytes to pickle cheaply)."""
    walk = _walks.get(params)
    if walk is None:
        walk = _walks[params] = Walk(params)
    candles = walk.day(day)
    lo, hi = day * DAY_MS, (day + 1) * DAY_MS
    for start, end in gaps:
        if start < hi and end >= lo:
            candles = [c for c in candles if not start <= c.open_ms <= end]
    opens, offsets, blob = pack(candles, MINUTE_MS)
    return day, opens.tobytes(), offsets.tobytes(), blob


async def pack_days(
    params: WalkParams, gaps: tuple[tuple[int, int], ...], days: range, workers: int | None = None
) -> list[tuple[int, array[int], array[int], bytes]]:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = [loop.run_in_executor(pool, pack_day, params, gaps, d) for d in days]
        out = []
        for day, opens, offsets, blob in await asyncio.gather(*futures):
            a, b = array("q"), array("q")
            a.frombytes(opens)
            b.frombytes(offsets)
            out.append((day, a, b, blob))
    return out
