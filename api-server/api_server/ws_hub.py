"""WebSocket clients of one process and what they subscribed to.

Broadcasting never waits on a client. A message is framed once however many clients receive
it, and written straight to each client's connection (or, under a server without the frame
writer, queued for an ASGI sender task). A client that has more than its limit of bytes left
unread is closed (1013) instead of slowing the others. While a new subscription is greeted
(`ws_greeting`: a replay read from the database) the client's broadcasts are held back, then
sent in order without those the greeting already covered."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from starlette.websockets import WebSocket

from api_server.ws_protocol import FrameWriter, text_frame
from linkora_core.markets import BINANCE_SPOT, Market, Venue

log = logging.getLogger(__name__)

ALL = "all"
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class Topic:
    """A subscription: `kind` is candles, orderbook, progress or system; only candle topics
    have a timeframe. `symbol` is one of the venue's, or `all` of them; a venue of None is
    every venue's (progress of every market, and the system stream)."""

    kind: str
    symbol: str
    timeframe: str = ""
    venue: Venue | None = BINANCE_SPOT

    def names(self, market: Market) -> bool:
        """Whether this topic is one of `market`'s own (not an `all`)."""
        return self.venue == market.venue and self.symbol == market.symbol


@dataclass(frozen=True, slots=True)
class Message:
    """A text message and its frame, built once for every client that receives it."""

    text: str
    frame: bytes

    @classmethod
    def of(cls, text: str) -> Message:
        return cls(text, text_frame(text))


class Client:
    """One connection. With a frame writer, frames go straight to its transport and closing
    starts the closing handshake at once; without one, they queue for the ASGI sender task
    and `done` tells the connection's handler to close."""

    __slots__ = (
        "closing",
        "covered",
        "done",
        "heard",
        "held",
        "held_bytes",
        "holds",
        "ip",
        "max_backlog",
        "queue",
        "queued_bytes",
        "topics",
        "websocket",
        "writer",
    )

    def __init__(
        self,
        websocket: WebSocket,
        ip: str,
        max_backlog: int,
        writer: FrameWriter | None = None,
    ) -> None:
        self.websocket = websocket
        self.ip = ip
        # Bytes the client may leave unread; beyond that it cannot keep up and is closed.
        self.max_backlog = max_backlog
        self.writer = writer
        self.topics: set[Topic] = set()
        self.closing: tuple[int, str] | None = None
        # When the client last sent anything (the event loop's clock).
        self.heard = 0.0
        # Without a frame writer: messages waiting for the sender task, and their size.
        self.queue: asyncio.Queue[Message] = asyncio.Queue() if writer is None else _NO_QUEUE
        self.queued_bytes = 0
        self.done = asyncio.Event() if writer is None else _NO_EVENT
        # While a subscription is greeted (a replay read from the database): the broadcasts
        # held back for after it, and how many greetings are running.
        self.held: list[Message] = []
        self.held_bytes = 0
        self.holds = 0
        self.covered: list[Callable[[Message], bool]] = []

    @property
    def backlog(self) -> int:
        return self.writer.backlog if self.writer is not None else self.queued_bytes

    @property
    def unsent(self) -> int:
        """What the server holds for the client, the kernel's queue not asked (no system call)."""
        return self.writer.buffered if self.writer is not None else self.queued_bytes

    def offer(self, message: Message) -> bool:
        """Send or queue a message; False when the client is closing or cannot keep up (and
        is then marked for closing)."""
        if self.closing is not None:
            return False
        writer = self.writer
        if writer is not None:
            if writer.over(self.max_backlog):
                self.close_soon(TRY_AGAIN_LATER, "Client too slow: send buffer full")
                return False
            return writer.write(message.frame)
        if self.queued_bytes > self.max_backlog:
            self.close_soon(TRY_AGAIN_LATER, "Client too slow: send buffer full")
            return False
        self.queue.put_nowait(message)
        self.queued_bytes += len(message.frame)
        return True

    def hold(self) -> None:
        """Hold broadcasts back (until as many `release` calls) while a greeting is sent."""
        self.holds += 1

    def keep(self, message: Message) -> bool:
        """Hold a broadcast back; False (and closing) past the client's backlog limit."""
        if self.closing is not None:
            return False
        self.held_bytes += len(message.frame)
        if self.held_bytes > self.max_backlog:
            self.held.clear()
            self.close_soon(TRY_AGAIN_LATER, "Client too slow: send buffer full")
            return False
        self.held.append(message)
        return True

    def release(self, covered: Callable[[Message], bool] | None = None) -> int:
        """End one hold, naming what its greeting already sent (`covered`); after the last,
        the broadcasts held back go out, oldest first, but those some greeting covered.
        Returns how many went out."""
        if covered is not None:
            self.covered.append(covered)
        self.holds -= 1
        if self.holds > 0:
            return 0
        held, covers = self.held, self.covered
        self.held, self.held_bytes, self.covered = [], 0, []
        sent = 0
        for message in held:
            if not any(cover(message) for cover in covers) and self.offer(message):
                sent += 1
        return sent

    def close_soon(self, code: int, reason: str) -> None:
        """Close with this code: at once with a frame writer, else by asking the connection's
        handler to; what is queued is dropped."""
        if self.closing is None:
            self.closing = (code, reason)
            if self.writer is not None:
                self.writer.close(code, reason)
            else:
                self.done.set()

    async def send_loop(self) -> None:
        """Drain the queue through ASGI (only used without a frame writer)."""
        while True:
            message = await self.queue.get()
            await self.websocket.send_text(message.text)
            self.queued_bytes -= len(message.frame)
            self.queue.task_done()  # `queue.join()` waits for what is queued before a close


# Stand-ins for what only a client without a frame writer uses (shared, never touched).
_NO_QUEUE: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
_NO_EVENT = asyncio.Event()


class Hub:
    """Every client of the process, indexed by topic and by IP."""

    def __init__(self) -> None:
        self._by_topic: dict[Topic, set[Client]] = defaultdict(set)
        self._by_ip: dict[str, int] = defaultdict(int)
        # Kept as clients come and go, so `status` counts them without a pass over every IP;
        # a set, so a client removed twice is counted out once.
        self._clients: set[Client] = set()
        self.sent = 0
        self.dropped_slow = 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def pending_bytes(self) -> int:
        """Bytes sent to subscribed clients that the server still holds, not yet handed to
        their sockets (the api-server's heartbeat backlog). The kernel's queues are not asked:
        one system call per client every beat would stall the loop with 10,000 clients."""
        subscribed = {client for clients in self._by_topic.values() for client in clients}
        return sum(client.unsent for client in subscribed)

    def connections(self, ip: str) -> int:
        return self._by_ip.get(ip, 0)

    def add(self, client: Client) -> None:
        if client in self._clients:
            return
        self._clients.add(client)
        self._by_ip[client.ip] += 1

    def remove(self, client: Client) -> None:
        for topic in list(client.topics):
            self.unsubscribe(client, topic)
        if client not in self._clients:
            return
        self._clients.discard(client)
        self._by_ip[client.ip] -= 1
        if self._by_ip[client.ip] <= 0:
            del self._by_ip[client.ip]

    def subscribe(self, client: Client, topic: Topic) -> None:
        client.topics.add(topic)
        self._by_topic[topic].add(client)

    def unsubscribe(self, client: Client, topic: Topic) -> None:
        client.topics.discard(topic)
        subscribers = self._by_topic.get(topic)
        if subscribers is not None:
            subscribers.discard(client)
            if not subscribers:
                del self._by_topic[topic]

    def followed(self, topic: Topic) -> bool:
        return topic in self._by_topic

    def subscribers(self, topic: Topic) -> set[Client]:
        """The clients following exactly this topic (not those following `all`)."""
        return set(self._by_topic.get(topic, ()))

    def wanted_timeframes(self, market: Market) -> set[str]:
        """Candle timeframes some client follows for this market (directly or via its venue's
        `all`)."""
        return {
            topic.timeframe
            for topic in self._by_topic
            if topic.kind == "candles"
            and topic.venue == market.venue
            and topic.symbol in (market.symbol, ALL)
        }

    def publish(self, kind: str, market: Market, timeframe: str, text: str) -> int:
        """Send `text` to the subscribers of the market and of its venue's `all`; returns how
        many."""
        subscribers = [
            client
            for name in (market.symbol, ALL)
            for client in self._by_topic.get(Topic(kind, name, timeframe, market.venue), ())
        ]
        return self._send(subscribers, text)

    def deliver(self, topics: Iterable[Topic], text: str) -> int:
        """Send `text` once to every client following any of `topics`; returns how many."""
        subscribers = {client for topic in topics for client in self._by_topic.get(topic, ())}
        return self._send(subscribers, text)

    def _send(self, subscribers: Collection[Client], text: str) -> int:
        if not subscribers:
            return 0
        message = Message.of(text)
        delivered = 0
        for client in subscribers:
            if client.holds:
                if client.keep(message):
                    delivered += 1
            elif client.offer(message):
                delivered += 1
            elif client.closing is not None and client.closing[0] == TRY_AGAIN_LATER:
                self.dropped_slow += 1
        self.sent += delivered
        return delivered

    def drop_market(self, market: Market, message: Message) -> list[Client]:
        """End every subscription to `market`'s own topics (those to its venue's `all` stay):
        each client that had one gets `message` once. Answers the clients left with none."""
        followers: dict[Client, list[Topic]] = defaultdict(list)
        for topic, clients in self._by_topic.items():
            if topic.names(market):
                for client in clients:
                    followers[client].append(topic)
        for client, topics in followers.items():
            client.offer(message)
            for topic in topics:
                self.unsubscribe(client, topic)
        return [client for client in followers if not client.topics]
