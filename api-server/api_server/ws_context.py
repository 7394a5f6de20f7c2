"""What every WebSocket connection of the process reaches: one object, made in the app's
lifespan, so that a parked connection holds a single reference to it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from api_server import progress_relay, system_feed, ws_greeting
from api_server.control_watch import ControlWatch
from api_server.live_feed import LiveFeed
from api_server.settings import ApiSettings
from api_server.system_feed import SystemFeed
from api_server.ws_hub import Client, Hub, Topic


@dataclass(frozen=True, eq=False)
class WsContext:
    hub: Hub
    settings: ApiSettings
    feed: LiveFeed
    system: SystemFeed
    control: ControlWatch
    started: float = field(default_factory=time.monotonic)
    # Greetings being sent (kept referenced while they run).
    greetings: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started

    def subscribe(self, client: Client, topic: Topic, since: int | None = None) -> None:
        """Subscribe `client`, greeting it with what the stream already knows: the running
        markets' progress, the newest system snapshot, one market's current open bucket or
        book, and for a resume (`since`) the closed candles missed (`ws_greeting`)."""
        if ws_greeting.greets(topic):
            ws_greeting.start(client, self.feed, topic, since, self.greetings)
        self.hub.subscribe(client, topic)
        if topic.kind == progress_relay.STREAM:
            self.feed.progress.greet(client, topic)
        elif topic.kind == system_feed.STREAM:
            self.system.greet(client)
