"""What every WebSocket connection of the process reaches: one object, made in the app's
lifespan, so that a parked connection holds a single reference to it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from api_server import progress_relay, system_feed
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

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started

    def subscribe(self, client: Client, topic: Topic) -> None:
        """Subscribe `client`, greeting it with what the stream already knows: the running
        markets' progress, the newest system snapshot."""
        self.hub.subscribe(client, topic)
        if topic.kind == progress_relay.STREAM:
            self.feed.progress.greet(client, topic)
        elif topic.kind == system_feed.STREAM:
            self.system.greet(client)
