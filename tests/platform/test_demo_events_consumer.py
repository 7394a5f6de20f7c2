"""demo/events_consumer.py against a real RabbitMQ: it binds the keys it is given, prints each
matching message once (a re-delivered id is dropped) and nothing of other keys."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import aio_pika

REPO = Path(__file__).resolve().parents[2]


async def test_the_consumer_prints_bound_messages_once(rabbitmq_url: str) -> None:
    exchange_name = f"test.events.{uuid.uuid4().hex}"  # this test's own: no other publisher
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "demo" / "events_consumer.py"),
        "crypto.kline.updated.#", "orders.created",
        "--amqp", rabbitmq_url, "--exchange", exchange_name, "--count", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        ready = await asyncio.wait_for(process.stderr.readline(), 30)
        assert ready.startswith(b"bound "), ready
        connection = await aio_pika.connect(rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            sent = [
                ("crypto.kline.updated.binance.spot.BTCUSDT.1", "kline:a", b'{"close":"1.5"}'),
                ("crypto.kline.updated.binance.spot.BTCUSDT.1", "kline:a", b'{"close":"1.5"}'),
                ("crypto.price.updated.binance.spot.BTCUSDT", "price:a", b'{"price":"2"}'),
                ("orders.created", "order:1", b'{"order_id":1}'),
                ("crypto.kline.updated.okx.swap.BTC-USDT-SWAP.1H", "kline:b", b'{"close":"3"}'),
            ]
            for key, message_id, body in sent:
                message = aio_pika.Message(body, message_id=message_id)
                await exchange.publish(message, routing_key=key)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert out.decode().splitlines() == [
        'crypto.kline.updated.binance.spot.BTCUSDT.1 kline:a {"close":"1.5"}',
        'orders.created order:1 {"order_id":1}',
        'crypto.kline.updated.okx.swap.BTC-USDT-SWAP.1H kline:b {"close":"3"}',
    ]
    async with await aio_pika.connect(rabbitmq_url) as cleanup:
        await (await cleanup.channel()).exchange_delete(exchange_name)
