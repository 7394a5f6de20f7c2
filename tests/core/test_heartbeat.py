"""A service process's heartbeat: its row renewed every 3 s with its own pid, CPU, RSS, state
and backlog; a database that goes away skips beats without ending them; a clean stop writes
`stopped`."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import psutil
import pytest

from devstack.postgres import PostgresServer
from linkora_core import db
from linkora_core.heartbeat import STOPPED, Heartbeat, Report, one_decimal
from tests.polling import eventually


async def row(pool: asyncpg.Pool, service: str) -> dict[str, Any] | None:
    found = await pool.fetchrow("SELECT * FROM service_heartbeats WHERE service = $1", service)
    return None if found is None else dict(found)


def test_measured_figures_are_rounded_to_one_decimal_half_up() -> None:
    assert one_decimal(12.25) == Decimal("12.3")
    assert one_decimal(0.04) == Decimal("0.0")
    assert one_decimal(199.95) == Decimal("200.0")
    assert str(one_decimal(3.0)) == "3.0"


async def test_beats_every_three_seconds_with_the_process_figures(clean_db: asyncpg.Pool) -> None:
    reports = iter(range(100))

    def report() -> Report:
        n = next(reports)
        return Report("ok", backlog=n, detail={"n": n})

    heartbeat = Heartbeat(clean_db, "test-service", report)
    heartbeat.start()
    try:
        first = await eventually(lambda: row(clean_db, "test-service"), 5, what="a first beat")
        second = await eventually(
            lambda: _later(clean_db, first["beat_at"]), 6, every=0.05, what="a second beat"
        )
    finally:
        await heartbeat.close()
    gap = (second["beat_at"] - first["beat_at"]).total_seconds()
    assert 2.7 <= gap <= 3.6, gap
    me = psutil.Process()
    assert second["pid"] == os.getpid()
    assert second["instance"] == f"{socket.gethostname()}:{os.getpid()}"
    assert second["started_at"] == datetime.fromtimestamp(me.create_time(), UTC)
    assert second["state"] == "ok"
    assert (second["backlog"], json.loads(second["detail"])) == (1, {"n": 1})
    # This process's own resident memory, within what a few seconds of a test can move it.
    assert abs(second["rss_bytes"] - me.memory_info().rss) < 64 * 2**20
    assert second["rss_bytes"] > 10 * 2**20
    cpu = second["cpu_percent"]
    assert cpu >= 0 and cpu == cpu.quantize(Decimal("0.1"))
    stopped = await row(clean_db, "test-service")
    assert stopped is not None and stopped["state"] == STOPPED
    assert stopped["beat_at"] > second["beat_at"]


async def _later(pool: asyncpg.Pool, after: datetime) -> dict[str, Any] | None:
    current = await row(pool, "test-service")
    return current if current is not None and current["beat_at"] > after else None


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def test_the_cpu_figure_is_the_process_use_since_the_last_beat(
    clean_db: asyncpg.Pool,
) -> None:
    me = psutil.Process()
    heartbeat = Heartbeat(clean_db, "busy-service", interval=60)
    await heartbeat.beat()
    loop = asyncio.get_running_loop()
    started, used = loop.time(), _cpu_seconds(me)
    while loop.time() < started + 1.0:
        sum(range(10_000))  # busy on purpose: the beat must see it
    expected = (_cpu_seconds(me) - used) / (loop.time() - started) * 100
    await heartbeat.beat()
    busy = await row(clean_db, "busy-service")
    # What the test measured itself (less when other processes share the cores).
    assert busy is not None and abs(float(busy["cpu_percent"]) - expected) < 15, expected
    assert expected > 20
    await asyncio.sleep(1.0)
    await heartbeat.beat()
    idle = await row(clean_db, "busy-service")
    assert idle is not None and idle["cpu_percent"] < 10


async def test_a_failing_report_is_a_degraded_beat_not_a_dead_heartbeat(
    clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Report:
        raise KeyError("publisher")

    heartbeat = Heartbeat(clean_db, "broken-service", broken, interval=60)
    assert await heartbeat.beat()
    written = await row(clean_db, "broken-service")
    assert written is not None and written["state"] == "degraded"
    assert json.loads(written["detail"]) == {"report_error": "KeyError: 'publisher'"}
    assert "heartbeat report failed" in caplog.text


async def test_database_down_skips_beats_without_crashing_and_they_resume(
    restartable_postgres: PostgresServer,
) -> None:
    pool = await db.connect_pool(restartable_postgres.dsn, min_size=1, max_size=2)
    heartbeat = Heartbeat(pool, "outage-service", interval=0.2)
    heartbeat.start()
    try:
        await eventually(lambda: heartbeat.beats >= 2, 10, what="beats before the outage")
        restartable_postgres.stop()
        await eventually(lambda: heartbeat.skipped >= 3, 20, what="skipped beats")
        assert heartbeat.running
        written = heartbeat.beats
        restartable_postgres.start()
        await eventually(lambda: heartbeat.beats >= written + 2, 30, what="beats again")
        assert heartbeat.running
        fresh = await pool.fetchval(
            "SELECT now() - beat_at < interval '2 seconds' FROM service_heartbeats "
            "WHERE service = 'outage-service'"
        )
        assert fresh is True
        restartable_postgres.stop()
        # A clean stop while the database is away ends promptly (the `stopped` write skipped).
        async with asyncio.timeout(5):
            await heartbeat.close()
        assert not heartbeat.running
    finally:
        await heartbeat.close()
        await pool.close()


async def test_a_database_refusing_writes_skips_beats_and_they_resume(
    clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    # A read-only standby: every write fails with a server error that is not an outage.
    read_only = {"on": True}

    async def setup(connection: asyncpg.Connection) -> None:
        mode = "on" if read_only["on"] else "off"
        await connection.execute(f"SET default_transaction_read_only = {mode}")

    refusing = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1, setup=setup)
    heartbeat = Heartbeat(refusing, "standby-service", interval=0.2)
    heartbeat.start()
    try:
        await eventually(lambda: heartbeat.skipped >= 3, 10, what="refused beats skipped")
        assert heartbeat.running
        assert heartbeat.beats == 0
        assert await row(clean_db, "standby-service") is None
        read_only["on"] = False
        await eventually(lambda: heartbeat.beats >= 2, 10, what="beats once writable")
        assert heartbeat.running
        written = await row(clean_db, "standby-service")
        assert written is not None and written["state"] == "ok"
    finally:
        await heartbeat.close()
        await refusing.close()
