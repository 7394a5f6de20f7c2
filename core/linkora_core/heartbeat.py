"""Each service process's heartbeat: its row in `service_heartbeats` (migration 0015) upserted
every `BEAT_SECONDS` with its state, CPU, RSS and backlog, so the api-server's `/system` can
show every process and, once a row goes unrenewed for more than 10 s, the process as down.

A beat the database cannot take is skipped (logged once per outage); the next one tries again.
That covers any database error (a read-only standby, a full disk), not only an outage: the
beat task must outlive them all.
A clean stop writes the state `stopped`, so the view shows the process down at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import asyncpg
import psutil

from linkora_core.db import DATABASE_DOWN, Executor

__all__ = ["BEAT_SECONDS", "STOPPED", "Heartbeat", "Report", "one_decimal"]

log = logging.getLogger(__name__)

BEAT_SECONDS: Final = 3.0
STOPPED: Final = "stopped"
# Writing `stopped` on the way out must not hold a shutdown up when the database is away.
STOP_WRITE_SECONDS: Final = 2.0
# What a beat may not get through: the database away, too busy to answer in time, or refusing
# the write (read-only standby, disk full: asyncpg.PostgresError covers every server error).
_SKIPPED = (*DATABASE_DOWN, asyncpg.PostgresError)

_UPSERT = """
INSERT INTO service_heartbeats AS h
    (service, instance, pid, started_at, beat_at, state, cpu_percent, rss_bytes, backlog, detail)
VALUES ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (service, instance) DO UPDATE SET
    pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, beat_at = now(),
    state = EXCLUDED.state, cpu_percent = EXCLUDED.cpu_percent,
    rss_bytes = EXCLUDED.rss_bytes, backlog = EXCLUDED.backlog, detail = EXCLUDED.detail
"""


@dataclass(frozen=True, slots=True)
class Report:
    """What a service says about itself at each beat."""

    state: str = "ok"
    backlog: int = 0
    detail: Mapping[str, object] = field(default_factory=dict)


Reporter = Callable[[], Report]


def one_decimal(value: float) -> Decimal:
    """A measured figure (psutil's float) as a Decimal rounded to one decimal place."""
    return Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _fine() -> Report:
    return Report()


class Heartbeat:
    """`start()` beats every `interval` seconds in a task of its own; `close()` ends it and
    writes the state `stopped`."""

    def __init__(
        self,
        pool: Executor,
        service: str,
        report: Reporter = _fine,
        *,
        interval: float = BEAT_SECONDS,
    ) -> None:
        self.pool = pool
        self.service = service
        self.report = report
        self.interval = interval
        self.process = psutil.Process()
        self.instance = f"{socket.gethostname()}:{self.process.pid}"
        self.started_at = datetime.fromtimestamp(self.process.create_time(), UTC)
        self.beats = 0
        self.skipped = 0
        self._down = False
        self._task: asyncio.Task[None] | None = None
        # The first call only starts psutil's measurement; each beat's covers the time since.
        self.process.cpu_percent(None)

    async def beat(self, report: Report | None = None) -> bool:
        """Write one beat; False (and nothing raised) when the database did not take it."""
        if report is None:
            report = self._report()
        rss = self.process.memory_info().rss
        cpu = one_decimal(self.process.cpu_percent(None))
        detail = json.dumps(dict(report.detail), default=str)
        try:
            async with asyncio.timeout(max(self.interval, 1.0)):
                await self.pool.execute(
                    _UPSERT, self.service, self.instance, self.process.pid, self.started_at,
                    report.state, cpu, rss, max(0, report.backlog), detail,
                )  # fmt: skip
        except _SKIPPED as error:
            self.skipped += 1
            if not self._down:
                log.warning("%s: heartbeat skipped, not written: %r", self.service, error)
            self._down = True
            return False
        if self._down:
            log.info("%s: heartbeat written again", self.service)
        self._down = False
        self.beats += 1
        return True

    async def run(self) -> None:
        """Beat every `interval` seconds, on a fixed schedule, until cancelled."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            await self.beat()
            due += self.interval
            # A beat that took longer than the interval starts the schedule afresh.
            due = max(due, loop.time())
            await asyncio.sleep(due - loop.time())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"{self.service}-heartbeat")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Stop beating and record the clean stop (skipped if the database is away)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_WRITE_SECONDS):
                await self.beat(Report(STOPPED))

    def _report(self) -> Report:
        try:
            return self.report()
        # The service's own callback: a bug there must show as a degraded process, not stop
        # the beats (which would show it down).
        except Exception as error:
            log.exception("%s: heartbeat report failed", self.service)
            return Report("degraded", detail={"report_error": f"{type(error).__name__}: {error}"})
