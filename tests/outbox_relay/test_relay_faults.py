"""The issue's fault tests: a writer adds outbox rows in transactions over several routing
keys while the relay process is killed with SIGKILL at random points, RabbitMQ is restarted,
or PostgreSQL is restarted; a counting consumer then has every message at least once,
duplicates only with the same id and body, none missing, each key's order kept, and the
outbox has nothing pending."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest
from relay_harness import (
    CountingConsumer,
    RelayProcess,
    Started,
    Writer,
    backlog,
    check_deliveries,
)

from devstack.postgres import PostgresServer
from devstack.rabbitmq import RabbitMQServer
from linkora_core import db
from tests.polling import eventually

COUNT = 3000
# Seconds between the writer's transactions: the stream outlasts the faults.
PACE = 0.03


async def _published_some(relay: RelayProcess, more_than: int = 0) -> bool:
    assert relay.alive, relay.tail()
    health = await asyncio.to_thread(relay.health)
    return bool(health and health["active"] and health["published"] > more_than)


async def _settled(
    writer: Writer, consumer: CountingConsumer, dsn: str, relay: RelayProcess
) -> dict[str, int]:
    await eventually(lambda: writer.ids <= consumer.seen(), 120, every=0.5,
                     what=f"every message at the consumer; relay log:\n{relay.tail()}")  # fmt: skip
    assert await backlog(dsn) == 0
    return check_deliveries(writer, consumer.deliveries)


async def test_relay_killed_with_sigkill_at_random_points_loses_nothing(
    clean_db: asyncpg.Pool,
    pg_dsn: str,
    rabbitmq_url: str,
    started: Started,
) -> None:
    consumer, relay = await started(pg_dsn, rabbitmq_url, "kill")
    writer = Writer(pg_dsn)
    writing = asyncio.create_task(writer.write(COUNT, seed=1, pace=PACE))
    rng = random.Random(18)
    kills = 0
    while not writing.done() and kills < 6:
        # Killed while it publishes: after its first confirmations, at a random moment.
        await eventually(lambda: _published_some(relay), 60, every=0.05)
        await asyncio.sleep(rng.uniform(0, 0.4))
        relay.kill()
        kills += 1
        relay.start()
    await writing
    counts = await _settled(writer, consumer, pg_dsn, relay)
    assert kills >= 3, "the writer finished before the relay was killed three times"
    assert counts["distinct"] == COUNT
    assert relay.alive


@pytest.mark.parametrize("kill", [False, True], ids=["clean-stop", "sigkill"])
async def test_rabbitmq_restarted_mid_stream_loses_nothing(
    kill: bool,
    clean_db: asyncpg.Pool,
    pg_dsn: str,
    restartable_rabbitmq: RabbitMQServer,
    started: Started,
) -> None:
    consumer, relay = await started(pg_dsn, restartable_rabbitmq.url, "broker")
    writer = Writer(pg_dsn)
    writing = asyncio.create_task(writer.write(COUNT, seed=2, pace=PACE))
    await eventually(lambda: len(consumer.seen()) > 300, 60, what="the stream under way")

    # SIGKILL loses what the broker had not yet written to disk (never what it confirmed).
    await asyncio.to_thread(restartable_rabbitmq.stop, kill)
    await asyncio.sleep(1.0)  # the broker stays away while rows keep being written
    await asyncio.to_thread(restartable_rabbitmq.start)

    await writing
    assert not writing.exception()
    await _settled(writer, consumer, pg_dsn, relay)
    health: dict[str, Any] | None = await asyncio.to_thread(relay.health)
    assert health is not None and health["reconnects"] >= 1
    assert consumer.connections >= 2
    assert relay.starts == 1 and relay.alive


async def test_postgres_restarted_mid_stream_loses_nothing(
    restartable_postgres: PostgresServer,
    rabbitmq_url: str,
    started: Started,
) -> None:
    dsn = restartable_postgres.dsn
    pool = await db.connect_pool(dsn, min_size=1, max_size=1)  # migrates the fresh server
    await pool.close()
    consumer, relay = await started(dsn, rabbitmq_url, "database")
    writer = Writer(dsn)
    writing = asyncio.create_task(writer.write(COUNT, seed=3, pace=PACE))
    await eventually(lambda: len(consumer.seen()) > 300, 60, what="the stream under way")

    await asyncio.to_thread(restartable_postgres.stop)
    await asyncio.sleep(1.0)  # the database stays away; the writer retries its transaction
    await asyncio.to_thread(restartable_postgres.start)

    await writing
    await _settled(writer, consumer, dsn, relay)
    assert writer.retries >= 1
    assert relay.starts == 1 and relay.alive
    assert "database unavailable" in relay.tail() or "reconnecting" in relay.tail()
