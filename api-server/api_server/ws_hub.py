"""WebSocket clients of one process and what they subscribed to.

Broadcasting never waits on a client: each client has a bounded send queue drained by its own
task, and a client whose queue is full is closed (1013) instead of slowing the others."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

ALL = "all"
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class Topic:
    """A subscription: `kind` is candles or orderbook; orderbook topics have no timeframe."""

    kind: str
    symbol: str
    timeframe: str = ""


@dataclass(eq=False)
class Client:
    websocket: WebSocket
    ip: str
    queue_size: int
    topics: set[Topic] = field(default_factory=set)
    queue: asyncio.Queue[str] = field(init=False)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    closing: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)

    def offer(self, message: str) -> bool:
        """Queue a message; False (and the client marked for closing) when it cannot keep up."""
        if self.closing is not None:
            return False
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close_soon(TRY_AGAIN_LATER, "Client too slow: send queue full")
            return False
        return True

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the connection's handler to close with this code; what is queued is dropped."""
        if self.closing is None:
            self.closing = (code, reason)
            self.done.set()

    async def send_loop(self) -> None:
        while True:
            await self.websocket.send_text(await self.queue.get())


class Hub:
    """Every client of the process, indexed by topic and by IP."""

    def __init__(self) -> None:
        self._by_topic: dict[Topic, set[Client]] = defaultdict(set)
        self._by_ip: dict[str, int] = defaultdict(int)
        self.sent = 0
        self.dropped_slow = 0

    @property
    def clients(self) -> int:
        return sum(self._by_ip.values())

    def connections(self, ip: str) -> int:
        return self._by_ip.get(ip, 0)

    def add(self, client: Client) -> None:
        self._by_ip[client.ip] += 1

    def remove(self, client: Client) -> None:
        for topic in list(client.topics):
            self.unsubscribe(client, topic)
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

    def wanted_timeframes(self, symbol: str) -> set[str]:
        """Candle timeframes some client follows for this symbol (directly or via `all`)."""
        return {
            topic.timeframe
            for topic in self._by_topic
            if topic.kind == "candles" and topic.symbol in (symbol, ALL)
        }

    def publish(self, kind: str, symbol: str, timeframe: str, message: str) -> int:
        """Queue `message` for the subscribers of the symbol and of `all`; returns how many."""
        delivered = 0
        for name in (symbol, ALL):
            for client in tuple(self._by_topic.get(Topic(kind, name, timeframe), ())):
                if client.offer(message):
                    delivered += 1
                else:
                    self.dropped_slow += 1
        self.sent += delivered
        return delivered
