"""The outbox table and its functions against the real PostgreSQL; the routing keys and ids."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aio_pika
import asyncpg

from linkora_core import broker_messages, outbox
from linkora_core.markets import parse_market
from linkora_core.timeframes import Timeframe


def _message(n: int, held: bool = False) -> outbox.Message:
    return outbox.Message(
        f"m{n}", "crypto.kline.updated.binance.spot.BTCUSDT.1", f'{{"n":{n}}}', held
    )


async def test_added_messages_are_pending_in_order_once(clean_db: asyncpg.Pool) -> None:
    async with clean_db.acquire() as connection:
        assert await outbox.add(connection, [_message(1), _message(2), _message(3, held=True)]) == 3
        assert await outbox.add(connection, [_message(2), _message(4)]) == 1
        found = await outbox.pending(connection, 10)
        assert [m.message_id for m in found] == ["m1", "m2", "m4"]
        assert found[0].body == '{"n":1}'
        assert await outbox.backlog(connection) == 3
        await outbox.mark_published(connection, [found[0].id])
        assert [m.message_id for m in await outbox.pending(connection, 10)] == ["m2", "m4"]
        assert await outbox.prune(connection, timedelta(hours=1)) == 0
        assert await outbox.prune(connection, timedelta(0)) == 1
        assert await connection.fetchval("SELECT count(*) FROM outbox") == 3


async def test_a_message_rolled_back_with_its_data_is_not_in_the_outbox(
    clean_db: asyncpg.Pool,
) -> None:
    async with clean_db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        await outbox.add(connection, [_message(1)])
        await transaction.rollback()
        assert await outbox.pending(connection, 10) == []


async def test_a_committed_write_wakes_a_listener_once(clean_db: asyncpg.Pool) -> None:
    woken: asyncio.Queue[str] = asyncio.Queue()
    async with clean_db.acquire() as listener, clean_db.acquire() as writer:

        def wake(_connection: object, _pid: int, channel: str, _payload: object) -> None:
            woken.put_nowait(channel)

        await listener.add_listener(outbox.NOTIFY_CHANNEL, wake)
        async with writer.transaction():
            await outbox.add(writer, [_message(1)])
            await outbox.add(writer, [_message(2)])
        assert await asyncio.wait_for(woken.get(), 5) == outbox.NOTIFY_CHANNEL
        await asyncio.sleep(0.2)
        assert woken.empty()  # one wake for the whole transaction
        await listener.remove_listener(outbox.NOTIFY_CHANNEL, wake)


def test_routing_keys_name_the_market_and_timeframe() -> None:
    okx = parse_market("okx:swap:BTC-USDT-SWAP")
    assert (
        broker_messages.market_key(broker_messages.KLINE, okx, Timeframe.HOUR_1)
        == "crypto.kline.updated.okx.swap.BTC-USDT-SWAP.1H"
    )
    binance = parse_market("BTCUSDT")
    assert broker_messages.market_key(broker_messages.PRICE, binance) == (
        "crypto.price.updated.binance.spot.BTCUSDT"
    )
    assert broker_messages.candle_id(binance, Timeframe.MINUTE_1, 60_000) == (
        "kline:binance:spot:BTCUSDT:1:60000"
    )
    assert broker_messages.order_event_id(31337, "0xAB", 3) == "order:31337:0xab:3"


async def test_the_private_broker_routes_by_topic(rabbitmq_url: str) -> None:
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            "linkora-test", aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange, "crypto.kline.updated.#")
        for key in ("crypto.kline.updated.binance.spot.BTCUSDT.1", "orders.created"):
            await exchange.publish(aio_pika.Message(key.encode(), message_id=key), routing_key=key)
        got = await queue.get(timeout=5)
        assert got.message_id == "crypto.kline.updated.binance.spot.BTCUSDT.1"
        await got.ack()
        assert await queue.get(fail=False) is None
    finally:
        await connection.close()
