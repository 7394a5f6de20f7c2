"""Real services for the whole suite: a private PostgreSQL, Redis and RabbitMQ started once per
session when first used (or existing ones named by LINKORA_TEST_PG_DSN / LINKORA_TEST_REDIS_URL /
LINKORA_TEST_AMQP_URL), one migrated database, and helpers to point a service's settings at
them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from redis.asyncio import Redis

from devstack.hardhat import HardhatNode
from devstack.ports import free_port, wait_listening
from devstack.postgres import PostgresServer, db_env
from devstack.rabbitmq import RabbitMQServer
from devstack.redis import server_command as redis_command
from linkora_core import db
from linkora_core.migrations import apply_migrations

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LINKORA_SHARED_DIR") or REPO.parent / "shared")

# Tables holding data (not schema history): emptied by the `clean_db` fixture.
DATA_TABLES = (
    "candles",
    "candle_rollups",
    "candle_changes",
    "orderbook_data",
    "collector_state",
    "candle_gaps",
    "venue_status",
    "orders",
    "order_events",
    "block_hashes",
    "token_decimals",
    "system_state",
    "control_markets",
    "control_exchanges",
    "control_settings",
    "admin_audit",
    "service_heartbeats",
    "outbox",
    "collector_instances",
    "market_leases",
)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _existing_or(
    variable: str, private: Callable[[], contextlib.AbstractContextManager[str]]
) -> Iterator[str]:
    """The server named by environment variable `variable`, else a private one."""
    existing = os.environ.get(variable)
    if existing:
        yield existing
        return
    with private() as address:
        yield address


@contextlib.contextmanager
def _postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def _postgres_dsn() -> Iterator[str]:
    with _postgres() as server:
        yield server.dsn


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="linkora-test-redis-"))
    process = subprocess.Popen(
        redis_command(port, work),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if not wait_listening(port, 20):
            raise RuntimeError("private Redis did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with HardhatNode(tmp_path_factory.mktemp("hardhat") / "node.log") as node:
        yield node.url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """DSN of a server's maintenance database (`postgres`)."""
    yield from _existing_or("LINKORA_TEST_PG_DSN", _postgres_dsn)


@pytest.fixture
def restartable_postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL only this test uses, so it can restart it; migrated."""
    with _postgres() as server:
        yield server


@pytest.fixture(scope="session")
async def pg_dsn(pg_server: str) -> str:
    """A fresh, migrated database for this session."""
    dsn = await db.recreate_database(pg_server, f"linkora_test_{os.getpid()}")
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    return dsn


@pytest.fixture
async def empty_database(pg_server: str) -> str:
    """A brand-new database with nothing applied, for migration tests."""
    return await db.recreate_database(pg_server, f"linkora_empty_{os.getpid()}")


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    # The services' own pool: its connections report a lost server as an outage.
    created = await db.connect_pool(pg_dsn, min_size=1, max_size=5, migrate=False)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def clean_db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session database with every data table emptied first."""
    await pool.execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY")
    return pool


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    yield from _existing_or("LINKORA_TEST_REDIS_URL", _redis)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.contextmanager
def _rabbitmq() -> Iterator[str]:
    work = Path(tempfile.mkdtemp(prefix="linkora-test-rabbitmq-"))
    try:
        with RabbitMQServer(work) as server:
            yield server.url
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A private RabbitMQ (guest on loopback), started on first use, or LINKORA_TEST_AMQP_URL."""
    yield from _existing_or("LINKORA_TEST_AMQP_URL", _rabbitmq)


@pytest.fixture
def restartable_rabbitmq(tmp_path: Path) -> Iterator[RabbitMQServer]:
    """A running RabbitMQ only this test uses, so it can stop and start it."""
    with RabbitMQServer(tmp_path / "rabbitmq") as server:
        yield server


@pytest.fixture(scope="session")
def service_env(pg_dsn: str, redis_url: str) -> dict[str, str]:
    """Environment variables pointing a service process at the test database and Redis."""
    cache = urlsplit(redis_url)
    return {
        **db_env(pg_dsn),
        "REDIS_HOST": cache.hostname or "127.0.0.1",
        "REDIS_PORT": str(cache.port or 6379),
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def hardhat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Hardhat node (chain id 31337, nothing deployed), started on first use."""
    yield from _existing_or("LINKORA_TEST_HARDHAT_URL", lambda: _hardhat(tmp_path_factory))


@pytest.fixture(scope="session")
def running_platform() -> Iterator[dict[str, Any]]:
    """The whole platform, offline (`python -m devstack up --offline`), once per session.

    Yields the stack description devstack writes: `endpoints` (name -> URL, e.g. "api-server",
    "order-api", "websocket") and `env` (what the services were started with)."""
    run_dir = Path(tempfile.mkdtemp(prefix="linkora-platform-"))
    run_dir.chmod(0o755)  # the private PostgreSQL runs as the postgres user
    env = {**os.environ, "DEVSTACK_RUN_DIR": str(run_dir), "API_PORT": str(free_port()),
           "ORDER_API_PORT": str(free_port())}  # fmt: skip
    log = (run_dir / "devstack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up", "--offline"], cwd=REPO, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    description = run_dir / "stack.json"
    try:
        deadline = time.monotonic() + 180
        while not description.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (run_dir / "devstack.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"devstack up --offline did not come up:\n{tail}")
            time.sleep(0.5)
        stack = json.loads(description.read_text())
        _wait_collecting(stack["endpoints"]["api-server"], deadline + 60, run_dir)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait_collecting(api: str, deadline: float, run_dir: Path) -> None:
    """Until the platform serves what a client asks for first: the stack is up once its
    services answer, but the collector's backfill and first book take a few seconds more."""
    wanted = (f"{api}/orderbook?symbol=BTCUSDT&levels=5", f"{api}/candles?symbol=BTCUSDT&limit=1")
    while True:
        try:
            if all(_non_empty(url) for url in wanted):
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            tail = (run_dir / "devstack.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the offline platform serves no book or candle yet:\n{tail}")
        time.sleep(0.5)


def _non_empty(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bool(json.loads(response.read()))
