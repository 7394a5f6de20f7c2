"""The relay's side of RabbitMQ: one connection, one channel with publisher confirms, the
durable topic exchange, and `publish(rows)` pipelined through a `Window` in outbox order.

No robust (self-restoring) connection: after any failure the relay reconnects itself and
publishes again from the outbox, which is the only record of what was confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from linkora_core.outbox import Stored
from outbox_relay.window import Window

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/json"
CONNECT_TIMEOUT: Final = 10.0

# What means "the broker is away or refused us": a failed connect, a closed connection or
# channel, a confirmation that never came.
BROKER_DOWN = (aiormq.exceptions.AMQPError, ConnectionError, OSError, TimeoutError)


class BrokerUnavailable(Exception):
    """The broker could not be reached or dropped the connection (the cause is chained)."""


class PublishInterrupted(BrokerUnavailable):
    """A publish stopped at a row the broker did not confirm; `confirmed` holds the ids
    before it that it did (mark those, then reconnect and publish again from the outbox)."""

    def __init__(self, confirmed: list[int], reason: str) -> None:
        super().__init__(reason)
        self.confirmed = confirmed


def to_message(row: Stored) -> aio_pika.Message:
    """A persistent JSON message whose id is the row's deterministic message id."""
    return aio_pika.Message(
        row.body.encode(),
        message_id=row.message_id,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


Observer = Callable[[float], None]
"""Called with each confirmed message's seconds from publish to confirmation."""


class Broker:
    """A connected channel with confirms on the relay's exchange (`Broker.connect`)."""

    def __init__(
        self,
        connection: AbstractConnection,
        channel: AbstractChannel,
        exchange: AbstractExchange,
        *,
        window: int,
        confirm_timeout: float,
        observe: Observer | None = None,
    ) -> None:
        self.connection = connection
        self.channel = channel
        self.exchange = exchange
        self.window = window
        self.confirm_timeout = confirm_timeout
        self.observe = observe

    @classmethod
    async def connect(
        cls,
        url: str,
        exchange: str,
        *,
        window: int,
        confirm_timeout: float,
        observe: Observer | None = None,
    ) -> Broker:
        """Connect, open a channel with confirms and declare the exchange, or raise
        BrokerUnavailable."""
        try:
            connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT)
        except BROKER_DOWN as error:
            raise BrokerUnavailable(repr(error)) from error
        try:
            channel = await connection.channel(publisher_confirms=True)
            declared = await channel.declare_exchange(
                exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException as error:
            with contextlib.suppress(*BROKER_DOWN):
                await connection.close()
            if isinstance(error, BROKER_DOWN):
                raise BrokerUnavailable(repr(error)) from error
            raise
        return cls(
            connection, channel, declared,
            window=window, confirm_timeout=confirm_timeout, observe=observe,
        )  # fmt: skip

    @property
    def is_closed(self) -> bool:
        # A connection the broker closed is not `is_closed` (that means closed by us).
        connected = self.connection.connected.is_set() and not self.connection.is_closed
        return not connected or bool(self.channel.is_closed)

    async def close(self) -> None:
        # A broker that went away mid-close must not hold the relay up.
        with contextlib.suppress(*BROKER_DOWN):
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self.connection.close()

    async def publish(self, rows: Sequence[Stored]) -> list[int]:
        """Publish `rows` (in id order) with at most `window` unconfirmed; returns their ids
        once all are confirmed, or raises PublishInterrupted with the confirmed prefix."""
        if self.is_closed:
            raise PublishInterrupted([], "the broker connection is closed")
        window = Window(self.window)
        settled = asyncio.Event()
        tasks: list[asyncio.Task[object]] = []
        reasons: list[str] = []

        def on_done(row_id: int, started: float, task: asyncio.Task[object]) -> None:
            error = None if task.cancelled() else task.exception()
            ok = not task.cancelled() and error is None
            if ok and self.observe is not None:
                self.observe(time.perf_counter() - started)
            elif not ok:
                reasons.append("cancelled" if error is None else repr(error))
            window.settle(row_id, ok)
            settled.set()

        for row in rows:
            while window.full and not window.broken:
                settled.clear()
                await settled.wait()
            if window.broken:
                break
            # Tasks reach the channel's lock in creation order, so frames go out in id order.
            task = asyncio.create_task(self._publish_one(row))
            window.sent(row.id)
            started = time.perf_counter()
            task.add_done_callback(functools.partial(on_done, row.id, started))
            tasks.append(task)
        try:
            if tasks:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        confirmed = window.take_confirmed()
        if window.broken:
            raise PublishInterrupted(confirmed, reasons[0] if reasons else "not confirmed")
        return confirmed

    async def _publish_one(self, row: Stored) -> object:
        return await self.exchange.publish(
            to_message(row), row.routing_key, mandatory=False, timeout=self.confirm_timeout
        )
