"""One rollup maintainer at a time, observable and handed on: the replicas that do not hold the
lock wait for it inside PostgreSQL, so the holder's session ending hands it on at once (no
polling); `/health` (`rollups`) and `/metrics` (`linkora_rollup_maintainer`) say which
process holds it."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx
from api_helpers import settings_for

from api_server.app import create_app
from api_server.rollups import LOCK_KEY, RollupMaintainer
from tests.http_checks import running
from tests.polling import eventually

# pg_locks shows a bigint advisory key as its two halves, objsubid 1.
_LOCK_ROWS = """
SELECT pid, granted FROM pg_locks
WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1
"""


async def lock_rows(db: asyncpg.Pool) -> list[tuple[int, bool]]:
    rows = await db.fetch(_LOCK_ROWS, LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF)
    return [(row["pid"], row["granted"]) for row in rows]


def gauge(text: str, name: str) -> float:
    (value,) = [line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(value)


async def test_the_lock_passes_to_a_waiter_as_soon_as_the_holders_session_ends(
    clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    # The default interval: a waiter that polled would retry only every 10 s.
    replicas = [RollupMaintainer(pg_dsn) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(m.run(stop)) for m in replicas]
    try:
        await eventually(lambda: any(m.maintainer for m in replicas), 10, what="a maintainer")
        rows = await eventually(lambda: _two_rows(clean_db), 10, what="the waiter queued")
        assert rows is not None
        (holder_pid,) = [pid for pid, granted in rows if granted]
        holder = next(m for m in replicas if m.maintainer)
        waiter = next(m for m in replicas if not m.maintainer)
        await clean_db.execute("SELECT pg_terminate_backend($1)", holder_pid)
        killed = time.monotonic()
        await eventually(lambda: waiter.maintainer, 2, every=0.01, what="a prompt takeover")
        print(f"takeover after {time.monotonic() - killed:.3f} s")
        # The old holder may learn of its lost session a moment after the waiter wins.
        await eventually(lambda: not holder.maintainer, 1, every=0.01, what="the old one out")
        assert waiter.since is not None and holder.since is None
        await eventually(lambda: waiter.cycles > 0, 5, what="the new maintainer working")
        (granted,) = [pid for pid, ok in await lock_rows(clean_db) if ok]
        assert granted != holder_pid
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _two_rows(db: asyncpg.Pool) -> list[tuple[int, bool]] | None:
    rows = await lock_rows(db)
    return rows if sorted(granted for _, granted in rows) == [False, True] else None


async def _health_and_gauge(client: httpx.AsyncClient) -> tuple[dict[str, Any], float]:
    health = (await client.get("/health")).json()["rollups"]
    return health, gauge((await client.get("/metrics")).text, "linkora_rollup_maintainer")


async def test_health_and_metrics_say_which_replica_maintains_the_rollups(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> None:
    async with AsyncExitStack() as stack:
        clients = []
        for index, maintain in enumerate((True, True, False)):
            app = create_app(settings_for(service_env), maintain_rollups=maintain)
            clients.append(await stack.enter_async_context(running(app, f"http://api{index}")))

        async def one_maintainer() -> list[tuple[dict[str, Any], float]] | None:
            seen = [await _health_and_gauge(client) for client in clients]
            return seen if sum(h["maintainer"] for h, _ in seen) == 1 else None

        seen = await eventually(one_maintainer, 10, what="one replica holding the lock")
        for health, value in seen:
            assert value == int(health["maintainer"])
            assert (health["since"] is None) != health["maintainer"]
        assert [h["enabled"] for h, _ in seen] == [True, True, False]
        assert seen[2][0]["maintainer"] is False
        assert sorted(granted for _, granted in await lock_rows(clean_db)) == [False, True]
        metrics = (await clients[0].get("/metrics")).text
        assert "linkora_rollup_cycles_total" in metrics


async def test_a_replica_waiting_for_the_lock_shuts_down_at_once(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> None:
    holder = create_app(settings_for(service_env), maintain_rollups=True)
    async with running(holder, "http://holder") as holding:
        await eventually(lambda: _maintains(holding), 10, what="the first replica holding the lock")
        waiter = create_app(settings_for(service_env), maintain_rollups=True)
        async with running(waiter, "http://waiter") as waiting:
            await eventually(lambda: _two_rows(clean_db), 10, what="the second one waiting")
            assert not await _maintains(waiting)
            leaving = time.monotonic()
        assert time.monotonic() - leaving < 3
        assert [granted for _, granted in await lock_rows(clean_db)] == [True]


async def _maintains(client: httpx.AsyncClient) -> bool:
    return bool((await client.get("/health")).json()["rollups"]["maintainer"])
