"""`GET /system`: the host's CPU, memory and disk, the database's size in total and per table,
the api-server's uptime, and every service process from its heartbeat (up while it beat
within `DOWN_AFTER_SECONDS` and did not stop). Sizes are integers (bytes); percents and ages
plain decimal strings with one decimal at most; no float reaches the wire.

`SystemView` keeps the latest snapshot for whoever reads it (the route, `/metrics`, the
WebSocket `system` subscription), each saying how old a snapshot it accepts. `/system` is
public, so what it costs is bounded whoever calls it: a snapshot up to the WebSocket interval
old is good enough for it, heartbeat rows are pruned about once a minute and the database's
sizes (pg_database_size, one figure per table) measured about every 30 s."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import asyncpg
import psutil
from starlette.requests import Request
from starlette.responses import Response

from api_server import system_store
from linkora_core.db import DATABASE_DOWN
from linkora_core.decimals import to_plain
from linkora_core.heartbeat import STOPPED, one_decimal
from linkora_core.http import JSON

Snapshot = dict[str, Any]

# A process whose last beat is older than this is shown as down (it beats every 3 s).
DOWN_AFTER_SECONDS: Final = Decimal(10)
# How old a snapshot `/system` may answer: calls in a burst share one, and a process silent
# for 10 s is still shown down within about 10 s (the sizes and the prune have slower clocks).
ROUTE_MAX_AGE: Final = 0.5
# Heartbeat rows silent for an hour are pruned at most this often.
PRUNE_EVERY: Final = 60.0
# The database's sizes are measured again at most this often (they change slowly).
SIZES_EVERY: Final = 30.0
_UNAVAILABLE = (*DATABASE_DOWN, asyncpg.QueryCanceledError)


def percent(value: float) -> str:
    return to_plain(one_decimal(value))


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def is_up(age_seconds: Decimal, state: str) -> bool:
    return age_seconds <= DOWN_AFTER_SECONDS and state != STOPPED


def service_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One heartbeat row as `/system` shows it (pure)."""
    age = Decimal(row["age"])
    detail = row["detail"]
    return {
        "service": row["service"],
        "instance": row["instance"],
        "pid": row["pid"],
        "state": row["state"],
        "up": is_up(age, row["state"]),
        "age_seconds": to_plain(age),
        "started_at": _time(row["started_at"]),
        "beat_at": _time(row["beat_at"]),
        "cpu_percent": to_plain(Decimal(row["cpu_percent"]).quantize(Decimal("0.1"))),
        "rss_bytes": row["rss_bytes"],
        "backlog": row["backlog"],
        "detail": json.loads(detail) if isinstance(detail, str) else dict(detail),
    }


def _disk(data_directory: str | None) -> dict[str, Any]:
    """The filesystem of the database's files when they are on this machine, else `/`."""
    path = "/"
    if data_directory is not None and os.path.isdir(data_directory):
        path = data_directory
    usage = psutil.disk_usage(path)
    return {
        "path": path,
        "total_bytes": usage.total,
        "free_bytes": usage.free,
        "used_bytes": usage.used,
    }


def _host() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "cpu": {"percent": percent(psutil.cpu_percent(None)), "count": os.cpu_count() or 1},
        "memory": {
            "total_bytes": memory.total,
            "available_bytes": memory.available,
            "used_bytes": memory.used,
            "percent": percent(memory.percent),
        },
    }


def compose(
    now: datetime,
    started_at: datetime,
    figures: system_store.DatabaseFigures | None,
    rows: list[dict[str, Any]],
) -> Snapshot:
    """Everything `/system` shows, from the database's figures (None: it is away, so no sizes
    and no services) and the heartbeat rows; the host's figures are measured here."""
    return {
        "time": _time(now),
        "started_at": _time(started_at),
        "uptime_seconds": max(0, int((now - started_at).total_seconds())),
        **_host(),
        "disk": _disk(None if figures is None else figures.data_directory),
        "database": {
            "up": figures is not None,
            "size_bytes": None if figures is None else figures.size_bytes,
            "tables": []
            if figures is None
            else [{"name": name, "size_bytes": size} for name, size in figures.tables],
        },
        "services": [service_entry(row) for row in rows],
    }


class SystemView:
    """The latest snapshot, taken again once older than a caller accepts; concurrent callers
    share one. `taken` counts the snapshots, `measured` the size measurements and `pruned`
    the prunes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        started_at: datetime,
        *,
        prune_every: float = PRUNE_EVERY,
        sizes_every: float = SIZES_EVERY,
    ) -> None:
        self.pool = pool
        self.started_at = started_at
        self.prune_every = prune_every
        self.sizes_every = sizes_every
        self.latest: Snapshot | None = None
        self.taken = 0
        self.measured = 0
        self.pruned = 0
        self._at = float("-inf")
        self._figures: system_store.DatabaseFigures | None = None
        self._measured_at = float("-inf")
        self._pruned_at = float("-inf")
        self._lock = asyncio.Lock()
        # The first call only starts psutil's host CPU measurement; each snapshot's covers the
        # time since the one before.
        psutil.cpu_percent(None)

    def _fresh(self, max_age: float) -> bool:
        return self.latest is not None and time.monotonic() - self._at < max_age

    async def get(self, max_age: float) -> Snapshot:
        if self._fresh(max_age):
            assert self.latest is not None
            return self.latest
        async with self._lock:
            if not self._fresh(max_age):
                self.latest = await self._take()
                self._at = time.monotonic()
                self.taken += 1
            assert self.latest is not None
            return self.latest

    async def _take(self) -> Snapshot:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        try:
            async with self.pool.acquire() as connection:
                if time.monotonic() - self._pruned_at >= self.prune_every:
                    await system_store.prune_heartbeats(connection)
                    self._pruned_at = time.monotonic()
                    self.pruned += 1
                if (
                    self._figures is None
                    or time.monotonic() - self._measured_at >= self.sizes_every
                ):
                    self._figures = await system_store.database_figures(connection)
                    self._measured_at = time.monotonic()
                    self.measured += 1
                rows = await system_store.heartbeats(connection)
        except _UNAVAILABLE:
            # Measured afresh once the database is back: it may have been restored meanwhile.
            self._figures, rows = None, []
        return compose(now, self.started_at, self._figures, rows)


async def system(request: Request) -> Response:
    view: SystemView = request.app.state.system
    return JSON(await view.get(ROUTE_MAX_AGE))
