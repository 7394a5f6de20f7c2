"""A relay started before its database and its broker: its health says what it waits for,
and once both are there it relays without a restart."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
from relay_harness import ConsumerFactory, RelayFactory, RelayProcess, Writer, backlog

from devstack.postgres import PostgresServer
from devstack.rabbitmq import RabbitMQServer
from linkora_core import db
from tests.polling import eventually


async def _health(relay: RelayProcess) -> dict[str, Any] | None:
    assert relay.alive, relay.tail()
    return await asyncio.to_thread(relay.health)


async def test_a_relay_started_before_database_and_broker_waits_and_then_relays(
    restartable_postgres: PostgresServer,
    restartable_rabbitmq: RabbitMQServer,
    relays: RelayFactory,
    consumers: ConsumerFactory,
) -> None:
    dsn = restartable_postgres.dsn
    pool = await db.connect_pool(dsn, min_size=1, max_size=1)  # migrates the fresh server
    await pool.close()
    restartable_postgres.stop()
    restartable_rabbitmq.stop()
    relay = relays(dsn, restartable_rabbitmq.url, f"test.startup.{os.getpid()}")
    relay.start()

    async def waiting_for(problem: str) -> bool:
        health = await _health(relay)
        return bool(health and problem in health["problems"] and health["status"] == "degraded")

    await eventually(lambda: waiting_for("database"), 30, what="health naming the database")
    await asyncio.to_thread(restartable_postgres.start)
    await eventually(lambda: waiting_for("broker"), 30, what="health naming the broker")

    await asyncio.to_thread(restartable_rabbitmq.start)
    consumer = consumers(restartable_rabbitmq.url, f"test.startup.{os.getpid()}")
    await consumer.start()
    writer = Writer(dsn)
    await writer.write(200, seed=6, pace=0)
    await eventually(lambda: writer.ids <= consumer.seen(), 60, what=relay.tail())
    assert await backlog(dsn) == 0
    health = await _health(relay)
    assert health is not None and health["status"] == "ok" and health["problems"] == {}
    assert relay.starts == 1
    # SIGTERM: a clean stop, recorded in its heartbeat as stopped.
    assert await asyncio.to_thread(relay.terminate) == 0, relay.tail()
    connection = await asyncpg.connect(dsn)
    try:
        state = await connection.fetchval(
            "SELECT state FROM service_heartbeats WHERE service = 'outbox-relay'"
        )
    finally:
        await connection.close()
    assert state == "stopped"
