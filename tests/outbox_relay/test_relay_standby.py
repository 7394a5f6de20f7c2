"""One active relay per database: a second one stands by and takes over when the active one
is killed; nothing is lost across the takeover."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import Any

import asyncpg
from relay_harness import ConsumerFactory, RelayFactory, RelayProcess, Started, Writer, backlog
from relay_harness import check_deliveries as check

from tests.polling import eventually


async def _equal(found: Awaitable[list[str]], expected: list[str]) -> bool:
    return await found == expected


async def _states(relays: list[RelayProcess]) -> list[dict[str, Any] | None]:
    return [await asyncio.to_thread(relay.health) for relay in relays]


async def test_a_standby_relay_takes_over_when_the_active_one_is_killed(
    clean_db: asyncpg.Pool,
    pg_dsn: str,
    rabbitmq_url: str,
    relays: RelayFactory,
    consumers: ConsumerFactory,
) -> None:
    exchange = f"test.standby.{os.getpid()}"
    consumer = consumers(rabbitmq_url, exchange)
    await consumer.start()
    pair = [relays(pg_dsn, rabbitmq_url, exchange) for _ in range(2)]
    for relay in pair:
        relay.start()

    async def one_active() -> list[dict[str, Any]] | None:
        states = await _states(pair)
        if any(s is None for s in states):
            return None
        up = [s for s in states if s is not None]
        return up if sorted(s["status"] for s in up) == ["ok", "standby"] else None

    states = await eventually(one_active, 60, every=0.2, what="one relay active, one standby")

    async def beats() -> list[str]:
        rows = await clean_db.fetch(
            "SELECT state FROM service_heartbeats WHERE service = 'outbox-relay' ORDER BY state"
        )
        return [row["state"] for row in rows]

    # /system shows both processes: the one publishing and the one standing by.
    await eventually(lambda: _equal(beats(), ["ok", "standby"]), 30, what="both heartbeats")
    writer = Writer(pg_dsn)
    await writer.write(300, seed=4, pace=0)
    await eventually(lambda: writer.ids <= consumer.seen(), 60, what="the first messages")

    active = next(r for r, s in zip(pair, states, strict=True) if s["active"])
    standby = next(r for r in pair if r is not active)
    assert (await asyncio.to_thread(standby.health) or {}).get("published") == 0
    writing = asyncio.create_task(writer.write(600, seed=5, pace=0.01))
    await asyncio.sleep(0.3)
    active.kill()

    async def took_over() -> bool:
        health = await asyncio.to_thread(standby.health)
        return bool(health and health["active"] and health["published"] > 0)

    await eventually(took_over, 60, what=f"the standby active\n{standby.tail()}")
    await writing
    await eventually(lambda: writer.ids <= consumer.seen(), 60, what="every message")
    assert await backlog(pg_dsn) == 0
    assert check(writer, consumer.deliveries)["distinct"] == 900


async def test_held_rows_wait_until_released(
    clean_db: asyncpg.Pool,
    pg_dsn: str,
    rabbitmq_url: str,
    started: Started,
) -> None:
    consumer, relay = await started(pg_dsn, rabbitmq_url, "held")
    await clean_db.execute(
        "INSERT INTO outbox (message_id, routing_key, body, held) VALUES "
        "('held:1', 'orders.created', '{\"n\":1}', true), "
        "('free:2', 'orders.created', '{\"n\":2}', false)"
    )
    await eventually(lambda: "free:2" in consumer.seen(), 60, what="the released row")
    assert "held:1" not in consumer.seen()
    published = await clean_db.fetchval(
        "SELECT published_at FROM outbox WHERE message_id = 'held:1'"
    )
    assert published is None

    await clean_db.execute("UPDATE outbox SET held = false WHERE message_id = 'held:1'")
    await eventually(lambda: "held:1" in consumer.seen(), 60, what="the row once released")
    assert [d.body for d in consumer.deliveries if d.message_id == "held:1"] == ['{"n":1}']

    metrics = await asyncio.to_thread(relay.metrics)
    assert "outbox_relay_published_total 2.0" in metrics
    assert "outbox_relay_confirm_seconds_count 2.0" in metrics
    assert "outbox_relay_backlog" in metrics and "outbox_relay_reconnects_total 0.0" in metrics


async def test_published_rows_are_pruned_after_the_retention(
    clean_db: asyncpg.Pool,
    pg_dsn: str,
    rabbitmq_url: str,
    started: Started,
) -> None:
    consumer, relay = await started(
        pg_dsn, rabbitmq_url, "prune", OUTBOX_RETENTION_SECONDS="1", OUTBOX_PRUNE_SECONDS="0.2"
    )
    await clean_db.execute(
        "INSERT INTO outbox (message_id, routing_key, body, held) VALUES "
        "('p:1', 'orders.created', '{}', false), ('p:2', 'orders.created', '{}', true)"
    )
    await eventually(lambda: "p:1" in consumer.seen(), 60, what="the published row")

    async def left() -> list[str]:
        rows = await clean_db.fetch("SELECT message_id FROM outbox ORDER BY id")
        return [row["message_id"] for row in rows]

    # The confirmed row goes once older than the retention; the held one is kept.
    await eventually(lambda: _equal(left(), ["p:2"]), 30, what="the published row pruned")
    metrics = await asyncio.to_thread(relay.metrics)
    assert "outbox_relay_pruned_total 1.0" in metrics
