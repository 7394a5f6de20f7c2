"""A real PostgreSQL restart under the running event processor: it reconnects by itself and
the index ends equal to a fresh one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from contract_driver import LIMIT, ContractDriver
from indexing import clear, dump, index

from devstack.postgres import PostgresServer
from linkora_core import db
from order_system.rpc import JsonRpc


def _create(flow: ContractDriver, n: int) -> None:
    amount = Decimal(f"0.{n + 1}")
    flow.create(flow.users[n % 3], "ETH", "USDC", amount, Decimal("1"), Decimal("0"), LIMIT, True)


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "order_system.events"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


async def test_database_restart_under_the_processor_heals_by_itself(
    flow: ContractDriver, rpc: JsonRpc, restartable_postgres: PostgresServer, tmp_path: Path
) -> None:
    target = urlsplit(restartable_postgres.dsn)
    pool = await db.connect_pool(restartable_postgres.dsn)  # migrates the fresh server
    env = {
        **os.environ,
        "DB_HOST": "127.0.0.1", "DB_PORT": str(target.port), "DB_NAME": "postgres",
        "DB_USER": "postgres", "DB_PASSWORD": "unused-with-trust-auth",
        "WEB3_PROVIDER": flow.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "TRADING_ADDRESS": flow.deployment.trading,
        "START_BLOCK": str(flow.deployment.block_number),
        "CONFIRMATIONS": "0", "POLL_INTERVAL": "0.1", "LOG_LEVEL": "INFO",
    }  # fmt: skip
    log = tmp_path / "events.log"
    service = _start(env, log)

    async def orders() -> int:
        try:
            return int(await pool.fetchval("SELECT count(*) FROM orders"))
        except db.DATABASE_DOWN:
            return -1

    async def until_orders(count: int) -> None:
        deadline = time.monotonic() + 60
        while await orders() != count:
            assert service.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)

    try:
        for n in range(3):
            _create(flow, n)
        await until_orders(3)

        restartable_postgres.stop()
        for n in range(3, 6):  # blocks keep coming while the database is away
            _create(flow, n)
        await asyncio.sleep(2)
        restartable_postgres.start()

        await until_orders(6)
        assert service.poll() is None
        service.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(service.wait, 30) == 0, log.read_text()[-3000:]
        assert "database unavailable" in log.read_text()
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    indexed = await dump(pool)
    await clear(pool)
    await index(pool, rpc, flow.deployment)
    assert indexed == await dump(pool)
    await pool.close()
