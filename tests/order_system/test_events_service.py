"""The order-events process: a halt stays halted (across restarts, alert kept) until an operator
runs `python -m order_system.events resume`; its health server's `/ready` is 503 while the
database or the node is unreachable, or the indexer is halted, stalled or not holding the
writer lock, and `/health` (always 200) carries the same verdict; its long-running tasks come
back when they end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from contract_driver import LIMIT, ContractDriver
from indexing import index
from rpc_proxy import RpcProxy

from devstack.ports import free_port
from devstack.postgres import PostgresServer
from order_system.events.service import WRITER_LOCK_KEY, EventService
from order_system.indexer_state import CHAIN_KEY
from order_system.rpc import JsonRpc
from order_system.settings import EventSettings


def _env(
    service_env: dict[str, str], flow: ContractDriver, rpc_url: str, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        **service_env,
        "WEB3_PROVIDER": rpc_url,
        "TRADING_ADDRESS": flow.deployment.trading,
        "START_BLOCK": str(flow.deployment.block_number),
        "CONFIRMATIONS": "0",
        "POLL_INTERVAL": "0.1",
        "METRICS_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }


async def _get(url: str) -> httpx.Response | None:
    async with httpx.AsyncClient(timeout=3) as client:
        try:
            return await client.get(url)
        except httpx.TransportError:
            return None


async def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {seconds} s: {what}")
        await asyncio.sleep(0.1)


async def _ready(port: int, status: int) -> dict[str, Any] | None:
    response = await _get(f"http://127.0.0.1:{port}/ready")
    return response.json() if response is not None and response.status_code == status else None


async def _halted(port: int) -> dict[str, Any] | None:
    """/ready's 503 body once it names the halt (before, while starting, it may be 503 for
    another reason: the processor not running yet)."""
    body = await _ready(port, 503)
    return body if body is not None and "halted" in body.get("problems", {}) else None


async def _halt_with_another_chain_id(pool: asyncpg.Pool) -> str:
    """What an index built on another chain looks like to the processor; returns the stored
    identity, to put back."""
    stored: str = await pool.fetchval(
        "SELECT value::text FROM system_state WHERE key = $1", CHAIN_KEY
    )
    await pool.execute(
        "UPDATE system_state SET value = jsonb_set(value, '{chain_id}', '1') WHERE key = $1",
        CHAIN_KEY,
    )
    return stored


def _settings(env: dict[str, str], **overrides: Any) -> EventSettings:
    """The settings a process started with `env` reads, with `overrides`."""
    fields = {k.lower(): v for k, v in env.items() if k.lower() in EventSettings.model_fields}
    return EventSettings.model_validate({**fields, **overrides})


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "order_system.events"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def test_a_halt_stays_halted_across_restarts_with_its_alert_until_resumed(
    flow: ContractDriver,
    clean_db: asyncpg.Pool,
    rpc: JsonRpc,
    service_env: dict[str, str],
    api: httpx.AsyncClient,
    hardhat_url: str,
    tmp_path: Path,
) -> None:
    flow.create(
        flow.users[0], "ETH", "USDC", Decimal("0.3"), Decimal("1"), Decimal("0"), LIMIT, True
    )
    await index(clean_db, rpc, flow.deployment)
    identity = await _halt_with_another_chain_id(clean_db)
    port = free_port()
    env = _env(service_env, flow, hardhat_url, port)
    log = tmp_path / "events.log"
    for _ in range(2):  # the second start finds the halt in the database
        process = _start(env, log)
        try:
            body = await _until(lambda: _halted(port), 30, "a halted /ready")
            assert "chain_id changed" in body["problems"]["halted"]
            health = await _get(f"http://127.0.0.1:{port}/health")
            assert health is not None and health.status_code == 200
            assert health.json()["verdict"] == "halted"
            await asyncio.sleep(1.0)
            assert process.poll() is None, log.read_text()[-2000:]  # up, not exiting
            alert = (await api.get("/health")).json()["components"]["indexer_alert"]
            assert "chain_id changed" in alert
        finally:
            assert _stop(process) == 0, log.read_text()[-2000:]
    assert log.read_text().count("python -m order_system.events resume") >= 2

    # The operator fixes the cause (here: the identity put back), then resumes.
    await clean_db.execute(
        "UPDATE system_state SET value = $1::jsonb WHERE key = $2", identity, CHAIN_KEY
    )
    process = _start(env, log)
    try:
        await _until(lambda: _halted(port), 30, "halted again after a restart")
        resumed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "order_system.events", "resume"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert "chain_id changed" in resumed.stdout
        body = await _until(lambda: _ready(port, 200), 30, "ready once resumed")
        assert body == {"ready": True, "problems": {}}
        assert (await api.get("/health")).json()["components"]["indexer_alert"] is None
        health = await _get(f"http://127.0.0.1:{port}/health")
        assert health is not None and health.json()["verdict"] == "healthy"
    finally:
        assert _stop(process) == 0, log.read_text()[-2000:]


@pytest.fixture
async def service(
    flow: ContractDriver, clean_db: asyncpg.Pool, service_env: dict[str, str], proxy: RpcProxy
) -> AsyncIterator[EventService]:
    """The process's service in this event loop, through the fault proxy."""
    env = _env(service_env, flow, proxy.url, free_port())
    running = EventService(_settings(env, watchdog_seconds=1.0), asyncio.Event())
    await running.start()
    try:
        yield running
    finally:
        running.stop.set()
        await running.close()


def _url(service: EventService, path: str) -> str:
    return f"http://127.0.0.1:{service.config.metrics_port}{path}"


async def _problems(service: EventService, status: int) -> dict[str, str] | None:
    response = await _get(_url(service, "/ready"))
    if response is None or response.status_code != status:
        return None
    problems: dict[str, str] = response.json()["problems"]
    return problems or {"": ""}  # truthy when ready too


async def _problem(service: EventService, name: str) -> dict[str, str] | None:
    """The problems once `name` is among them."""
    problems = await _problems(service, 503)
    return problems if problems is not None and name in problems else None


async def test_ready_is_503_while_the_node_does_not_answer(
    service: EventService, proxy: RpcProxy
) -> None:
    await _until(lambda: _problems(service, 200), 30, "ready")
    proxy.delay = 3600.0  # the node stops answering
    problems = await _until(lambda: _problem(service, "node"), 15, "node problem")
    assert problems["node"] == "unreachable"
    health = await _get(_url(service, "/health"))
    assert health is not None and health.status_code == 200
    assert health.json()["verdict"] == "unhealthy"
    proxy.delay = 0.0
    await _until(lambda: _problems(service, 200), 30, "ready again")


async def test_ready_is_503_while_another_processor_holds_the_writer_lock(
    flow: ContractDriver, clean_db: asyncpg.Pool, service_env: dict[str, str], proxy: RpcProxy
) -> None:
    async with clean_db.acquire() as holder:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", WRITER_LOCK_KEY)
        env = _env(service_env, flow, proxy.url, free_port())
        running = EventService(_settings(env), asyncio.Event())
        await running.start()
        try:
            problems = await _until(lambda: _problems(running, 503), 10, "lock problem")
            assert set(problems) == {"writer_lock"}
            await holder.execute("SELECT pg_advisory_unlock($1)", WRITER_LOCK_KEY)
            await _until(lambda: _problems(running, 200), 30, "ready with the lock")
        finally:
            running.stop.set()
            await running.close()


async def test_ready_is_503_while_the_indexer_is_stalled(
    service: EventService, flow: ContractDriver, clean_db: asyncpg.Pool
) -> None:
    await _until(lambda: _problems(service, 200), 30, "ready")
    async with clean_db.acquire() as blocker, blocker.transaction():
        # Every batch writes its checkpoint: holding the row keeps any write from committing.
        await blocker.execute("LOCK TABLE system_state IN EXCLUSIVE MODE")
        flow.create(
            flow.users[0], "ETH", "USDC", Decimal("0.2"), Decimal("1"), Decimal("0"), LIMIT, True
        )
        problems = await _until(lambda: _problems(service, 503), 15, "stalled")
        assert set(problems) == {"stalled"}, problems
    await _until(lambda: _problems(service, 200), 30, "ready once writes go through")


async def test_ready_is_503_while_the_database_is_unreachable(
    flow: ContractDriver, restartable_postgres: PostgresServer, proxy: RpcProxy
) -> None:
    dsn = urlsplit(restartable_postgres.dsn)
    database = {
        "DB_HOST": dsn.hostname or "127.0.0.1",
        "DB_PORT": str(dsn.port),
        "DB_NAME": dsn.path.lstrip("/"),
        "DB_USER": dsn.username or "postgres",
        "DB_PASSWORD": dsn.password or "unused-with-trust-auth",
    }
    config = _settings({**_env(database, flow, proxy.url, free_port()), **database})
    running = EventService(config, asyncio.Event())
    await running.start()
    try:
        await _until(lambda: _problems(running, 200), 30, "ready")
        restartable_postgres.stop()
        problems = await _until(lambda: _problem(running, "database"), 15, "database problem")
        assert problems["database"] == "unreachable"
        restartable_postgres.start()
        await _until(lambda: _problems(running, 200), 60, "ready once the database is back")
    finally:
        running.stop.set()
        await running.close()


class CountingRpc(JsonRpc):
    """The health checks' node client, counting what it asks."""

    calls = 0

    async def call(self, method: str, params: list[Any]) -> Any:
        self.calls += 1
        return await super().call(method, params)


async def test_health_and_ready_ask_the_node_about_once_a_second(
    flow: ContractDriver, clean_db: asyncpg.Pool, service_env: dict[str, str], proxy: RpcProxy
) -> None:
    running = EventService(
        _settings(_env(service_env, flow, proxy.url, free_port())), asyncio.Event()
    )
    await running.probe.close()
    running.probe = probe = CountingRpc(proxy.url, timeout=2, rate_limit_retries=0)
    await running.start()
    try:
        await _until(lambda: _problems(running, 200), 30, "ready")
        await asyncio.sleep(1.1)  # whatever was cached before has expired
        # One client for the whole loop: a client made per request costs tens of milliseconds
        # on a loaded machine, and 40 of them would span several seconds.
        async with httpx.AsyncClient(timeout=3) as client:
            before = probe.calls
            for _ in range(20):
                await client.get(_url(running, "/ready"))
                await client.get(_url(running, "/health"))
            assert 1 <= probe.calls - before <= 2  # two only if the loop crossed a second
    finally:
        running.stop.set()
        await running.close()


@pytest.mark.parametrize("task", ["indexer", "watchdog"])
async def test_each_long_running_task_that_ends_comes_back(
    service: EventService, flow: ContractDriver, task: str
) -> None:
    await _until(lambda: _problems(service, 200), 30, "ready")
    service.tasks.current(task).cancel()
    assert service.health is not None

    async def reported() -> dict[str, str] | None:
        assert service.health is not None
        problems = await service.health.problems()
        return problems if task in problems else None

    # Asked in-process: the task is down only for the restart delay (0.5 s).
    problems = await _until(reported, 5, f"{task} reported down")
    assert problems[task] == "was cancelled"
    await _until(lambda: _problems(service, 200), 30, f"{task} back")
    assert service.tasks.restarts[task] == 1
    # Still indexing after the restart.
    flow.create(
        flow.users[1], "ETH", "USDC", Decimal("0.1"), Decimal("1"), Decimal("0"), LIMIT, True
    )
    head = flow.w3.eth.block_number
    await _until(
        lambda: _processed_at_least(service, head), 30, "indexing continues after the restart"
    )


async def _processed_at_least(service: EventService, block: int) -> bool:
    processor = service.state.processor
    return processor is not None and processor.processed >= block
