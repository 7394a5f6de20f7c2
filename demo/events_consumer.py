"""Follow the platform's events on RabbitMQ: bind a queue to the routing keys given, print
each message once (a message id seen again, a re-delivery after a relay restart, is dropped).

    python demo/events_consumer.py 'crypto.kline.updated.#'
    python demo/events_consumer.py 'crypto.kline.updated.binance.spot.BTCUSDT.*' 'orders.#'
    python demo/events_consumer.py '#' --amqp amqp://user:pass@host:5672/ --count 10
    python demo/events_consumer.py 'orders.#' --queue back-office   # durable: survives restarts

AMQP_URL (else --amqp) names the broker, OUTBOX_EXCHANGE (else --exchange) the topic exchange
the outbox relay publishes to. Each line printed is `<routing key> <message id> <JSON body>`.
The routing keys and bodies are described by the api-server's GET /asyncapi.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections import OrderedDict

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
SEEN_IDS = 100_000  # ids remembered for dropping duplicates (re-deliveries come soon after)


class Seen:
    """The most recent message ids, oldest forgotten first."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first_time(self, message_id: str) -> bool:
        if message_id in self._ids:
            self._ids.move_to_end(message_id)
            return False
        self._ids[message_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


async def consume(
    url: str, exchange: str, keys: list[str], queue: str | None, count: int | None
) -> int:
    """Print messages until `count` distinct ones were printed (None: until interrupted);
    returns how many were."""
    seen, printed = Seen(), 0
    done = asyncio.Event()
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        # The relay declares it the same way; declaring here lets the consumer start first.
        topic = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        if queue is None:
            bound = await channel.declare_queue(exclusive=True, auto_delete=True)
        else:
            bound = await channel.declare_queue(queue, durable=True)
        for key in keys:
            await bound.bind(topic, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal printed
            async with message.process():
                message_id = message.message_id or ""
                if done.is_set() or not seen.first_time(message_id):
                    return
                print(message.routing_key, message_id, message.body.decode(), flush=True)
                printed += 1
                if count is not None and printed >= count:
                    done.set()

        tag = await bound.consume(on_message)
        print(f"bound {', '.join(keys)} on {exchange}", file=sys.stderr, flush=True)
        try:
            await done.wait()
        finally:
            await bound.cancel(tag)
    return printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("keys", nargs="+", help="routing keys to bind (topic patterns: * and #)")
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URL", DEFAULT_URL))
    parser.add_argument("--exchange", default=os.environ.get("OUTBOX_EXCHANGE", "linkora.events"))
    parser.add_argument("--queue", help="a durable queue of this name (default: a private one)")
    parser.add_argument("--count", type=int, help="exit after this many distinct messages")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops following
        asyncio.run(consume(args.amqp, args.exchange, args.keys, args.queue, args.count))


if __name__ == "__main__":
    main()
