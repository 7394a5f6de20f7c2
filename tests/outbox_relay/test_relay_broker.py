"""The relay's broker side against the real RabbitMQ: what it returns as confirmed is what
the broker took, and a publish the broker refuses returns no row as confirmed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import aio_pika
import pytest

from linkora_core.outbox import Stored
from outbox_relay.broker import Broker, PublishInterrupted

KEY = "orders.created"


def _rows(first: int, count: int) -> list[Stored]:
    return [Stored(n, f"b:{n}", KEY, f'{{"n":{n}}}') for n in range(first, first + count)]


@contextlib.asynccontextmanager
async def _queued(url: str, exchange: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """An exclusive queue bound to `#` on `exchange`, on a connection closed afterwards."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_exchange(
            exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(declared, "#")
        yield queue


async def _drain(queue: aio_pika.abc.AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got = []
    while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
        got.append(message)
    return got


async def test_a_confirmed_publish_returns_every_row_in_order(rabbitmq_url: str) -> None:
    exchange = f"test.broker.ok.{os.getpid()}"
    async with _queued(rabbitmq_url, exchange) as queue:
        broker = await Broker.connect(rabbitmq_url, exchange, window=16, confirm_timeout=10)
        try:
            rows = _rows(1, 200)
            assert await broker.publish(rows) == [row.id for row in rows]
        finally:
            await broker.close()
        got = await _drain(queue)
    assert [m.message_id for m in got] == [row.message_id for row in rows]
    assert {(m.delivery_mode, m.content_type, m.routing_key) for m in got} == {
        (aio_pika.DeliveryMode.PERSISTENT, "application/json", KEY)
    }
    assert got[0].body == b'{"n":1}'


async def test_a_refused_publish_confirms_no_row(rabbitmq_url: str) -> None:
    exchange = f"test.broker.refused.{os.getpid()}"
    async with _queued(rabbitmq_url, exchange) as queue:
        broker = await Broker.connect(rabbitmq_url, exchange, window=16, confirm_timeout=10)
        try:
            assert await broker.publish(_rows(1, 50)) == list(range(1, 51))
            # The exchange gone, the broker closes the channel at the first publish: nothing
            # after it may be marked published.
            await queue.channel.exchange_delete(exchange)
            with pytest.raises(PublishInterrupted) as interrupted:
                await broker.publish(_rows(51, 100))
            assert interrupted.value.confirmed == []
            assert broker.is_closed
        finally:
            await broker.close()
