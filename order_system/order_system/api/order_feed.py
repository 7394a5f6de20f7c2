"""The live order feed behind `/ws/orders`: the released `orders.*` rows of the outbox, in id
order, fanned out to the WebSocket clients following all orders or one user's.

Why the outbox and not RabbitMQ: these are the very rows the relay publishes (the same
events, bodies and retractions as the broker), the order API already holds a database
connection and needs no broker account or queue of its own, and the feed keeps working while
the broker is down. The feed LISTENs on `linkora_outbox` (one NOTIFY per writing or releasing
transaction) and reads the rows past its cursor (the last id sent); it also reads every
`poll_interval` seconds, so a notification lost while it reconnected delays nothing for long.

Ordering guaranteed: clients get the released order messages in outbox id order, which is
chain order with each retraction before the fork's replacements, and in confirmed delivery
a message appears only once released. That holds because released order messages only ever
gain ids above those already released (order_system.events.order_outbox explains why), so a
cursor over ids skips none. A client sees what was released after it connected; the feed
starts at the newest released order message, and after a database outage it resumes at its
cursor (messages pruned meanwhile, past the relay's retention, are not replayed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg
import orjson

from linkora_core import db
from linkora_core.backoff import RetryPolicy
from linkora_core.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RECONNECT = RetryPolicy(first=0.5, cap=5.0)
READ_LIMIT = 500

_READ = """
SELECT id, routing_key, body FROM outbox
WHERE id > $1 AND NOT held AND routing_key LIKE 'orders.%'
ORDER BY id LIMIT $2
"""
_NEWEST = "SELECT coalesce(max(id), 0) FROM outbox WHERE NOT held AND routing_key LIKE 'orders.%'"


def frame(routing_key: str, body: str) -> str:
    """The WebSocket message of an outbox row: `{"type": <routing key>, "data": <body>}` (the
    body is already JSON, sent as stored)."""
    return f'{{"type":{orjson.dumps(routing_key).decode()},"data":{body}}}'


def owner(body: str) -> str:
    """The lowercase address of the user whose order the message is about (pure)."""
    return str(orjson.loads(body)["user_address"]).lower()


@dataclass(eq=False)
class Subscriber:
    """One client: what it follows (`user` lowercase; None: every order) and its queue of
    frames. A client that falls `limit` frames behind is marked `overflowed` and gets nothing
    more (its endpoint closes it): one slow client never delays the others."""

    user: str | None
    limit: int
    address: str = ""  # the client's (X-Forwarded-For from TRUSTED_PROXIES), for the caps
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, text: str) -> None:
        if self.overflowed.is_set():
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed.set()
            return
        self.queue.put_nowait(text)


class OrderFeed:
    """Tails the outbox for its subscribers until `stop` is set (module doc)."""

    def __init__(self, dsn: str, *, poll_interval: float = 1.0, queue_limit: int = 1000) -> None:
        self.dsn = dsn
        self.poll_interval = poll_interval
        self.queue_limit = queue_limit
        self.subscribers: set[Subscriber] = set()
        self.cursor: int | None = None  # the last id sent; None: not started
        self.ready = asyncio.Event()  # set once the cursor is known
        self._wake = asyncio.Event()

    def subscribe(self, user: str | None, address: str = "") -> Subscriber:
        subscriber = Subscriber(None if user is None else user.lower(), self.queue_limit, address)
        self.subscribers.add(subscriber)
        return subscriber

    def connections(self, address: str) -> int:
        """Subscribers from `address`."""
        return sum(1 for s in self.subscribers if s.address == address)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def deliver(self, routing_key: str, body: str) -> None:
        """Hands one message to every subscriber following it."""
        if not self.subscribers:
            return
        text, user = frame(routing_key, body), owner(body)
        for subscriber in list(self.subscribers):
            if subscriber.user is None or subscriber.user == user:
                subscriber.push(text)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = RECONNECT.backoff()
        while not stop.is_set():
            try:
                await self._follow(stop)
            except db.DATABASE_DOWN as error:
                log.warning("order feed: database unavailable (%r); reconnecting", error)
                if not await backoff.wait(stop):
                    return
            except asyncpg.PostgresError:
                # Not an outage (the outbox not migrated yet, a query cancelled): the feed
                # must not end for it while clients stay connected, so it retries, loudly.
                log.exception("order feed: query failed; retrying")
                if not await backoff.wait(stop):
                    return
            else:
                backoff.reset()

    async def _follow(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.add_listener(NOTIFY_CHANNEL, self._notified)
            connection.add_termination_listener(self._notified)  # a lost server: read now
            if self.cursor is None:
                self.cursor = int(await connection.fetchval(_NEWEST))
                self.ready.set()
            while not stop.is_set():
                self._wake.clear()
                await self._read(connection)
                waiter = asyncio.ensure_future(self._wake.wait())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    [waiter, stopping],
                    timeout=self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiter.cancel()
                stopping.cancel()
        except asyncpg.InterfaceError:
            # asyncpg reports a use of a connection the server closed as this generic error.
            if connection.is_closed():
                raise asyncpg.ConnectionDoesNotExistError("connection is closed") from None
            raise
        finally:
            connection.terminate()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _read(self, connection: asyncpg.Connection) -> None:
        assert self.cursor is not None
        while True:
            rows = await connection.fetch(_READ, self.cursor, READ_LIMIT)
            for row in rows:
                self.deliver(row["routing_key"], row["body"])
                self.cursor = row["id"]
            if len(rows) < READ_LIMIT:
                return
