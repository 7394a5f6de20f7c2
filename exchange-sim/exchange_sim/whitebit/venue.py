"""The WhiteBIT side of one simulator: its limiter, depth faults, REST, WebSocket and controls."""

from __future__ import annotations

from aiohttp import web

from exchange_sim.state import SimState
from exchange_sim.whitebit.control import WhitebitControl
from exchange_sim.whitebit.faults import DepthFaults
from exchange_sim.whitebit.limits import EndpointLimiter, Limits
from exchange_sim.whitebit.rest import WhitebitRest
from exchange_sim.whitebit.streams import WhitebitHub, WsSettings

# api.whitebit.com/ws is another host in reality; here it is namespaced beside Binance's /ws.
WS_PATH = "/whitebit/ws"


class WhitebitVenue:
    """`limits` and `ws` default to WhiteBIT's documented figures; tests set them low."""

    def __init__(
        self,
        state: SimState,
        limits: Limits | None = None,
        ws: WsSettings | None = None,
        ws_path: str = WS_PATH,
    ) -> None:
        self.state = state
        self.limiter = EndpointLimiter(limits or Limits())
        self.faults = DepthFaults()
        self.rest = WhitebitRest(state, self.limiter)
        self.hub = WhitebitHub(state, self.faults, ws or WsSettings())
        self.ws_path = ws_path

    def add_routes(self, app: web.Application) -> None:
        self.rest.add_routes(app)
        app.router.add_get(self.ws_path, self.hub.handle)
        WhitebitControl(self).add_routes(app)
        app[VENUE] = self

        async def on_shutdown(_: web.Application) -> None:
            await self.hub.close_all()

        app.on_shutdown.append(on_shutdown)

    async def drop_connections(self) -> int:
        """Cut every WhiteBIT WebSocket now (no close frame)."""
        return await self.hub.drop_all()

    def reset(self) -> None:
        """Forget request counts and 429 counters; clear the depth faults."""
        self.limiter.reset()
        self.faults.clear()


VENUE = web.AppKey("whitebit", WhitebitVenue)
