"""Backfill progress from the bus (`bus.PROGRESS`) to the WebSocket `progress` subscribers,
as `{"type":"progress","data":<progress_messages.payload>}`.

A subscriber follows one market, every market of a venue, or every market. The newest report
of each running market is kept to greet a new subscriber with. Running reports of one market
go out at most once per `min_gap` seconds (a collector may report on every page it stores);
a report whose status is not `running` always goes out at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from api_server.ws_hub import ALL, Client, Hub, Message, Topic
from linkora_core import progress_messages
from linkora_core.markets import Market

STREAM = "progress"
EVERY_MARKET = Topic(STREAM, ALL, "", None)
# Running reports of one market are relayed at most this often.
MIN_GAP = 0.25
# A running report not renewed for this long (the collector reports every second) is from a
# collector that stopped: a new subscriber is not greeted with it.
STALE_AFTER = 30.0


def topics_of(market: Market) -> tuple[Topic, Topic, Topic]:
    """The topics whose subscribers get `market`'s reports."""
    venue = market.venue
    return Topic(STREAM, market.symbol, "", venue), Topic(STREAM, ALL, "", venue), EVERY_MARKET


@dataclass(frozen=True, slots=True)
class _Kept:
    received: float
    message: Message


class ProgressRelay:
    def __init__(
        self, hub: Hub, *, min_gap: float = MIN_GAP, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._hub = hub
        self._min_gap = min_gap
        self._clock = clock
        self._running: dict[Market, _Kept] = {}  # the newest report of each running market
        self._relayed: dict[Market, float] = {}  # when its last running report went out

    @property
    def running(self) -> int:
        """Markets backfilling, as last reported (stale ones included until pruned)."""
        return len(self._running)

    def handle(self, raw: bytes | str) -> bool:
        """Relay one report from the bus; False when it was held back by the throttle.
        ValueError when `raw` is no progress message."""
        report = progress_messages.decode(raw)
        text = orjson.dumps({"type": STREAM, "data": progress_messages.payload(report)}).decode()
        market, now = report.market, self._clock()
        if report.status != "running":
            self._running.pop(market, None)
            self._relayed.pop(market, None)
            self._hub.deliver(topics_of(market), text)
            return True
        self._running[market] = _Kept(now, Message.of(text))
        last = self._relayed.get(market)
        if last is not None and now - last < self._min_gap:
            return False
        self._relayed[market] = now
        self._hub.deliver(topics_of(market), text)
        return True

    def greet(self, client: Client, topic: Topic) -> int:
        """Send `client`, who just subscribed to `topic`, the newest report of each running
        market the topic covers; answers how many."""
        now, sent = self._clock(), 0
        for market, kept in list(self._running.items()):
            if now - kept.received > STALE_AFTER:
                del self._running[market]
                self._relayed.pop(market, None)
            elif topic in topics_of(market) and client.offer(kept.message):
                sent += 1
        return sent
