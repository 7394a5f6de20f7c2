"""The Bybit side of one simulator: its limiter, stream faults, REST and WebSocket handlers.

Control endpoints (the simulator's own, like /_sim/*):
POST /_sim/bybit/faults  {"skip_u_next": int, "restart_next": int, "clear": true}
POST /_sim/bybit/reset   forget per-IP counts and bans, clear stream faults
"""

from __future__ import annotations

import orjson
from aiohttp import web

from exchange_sim.bybit.faults import BookFaults
from exchange_sim.bybit.limits import IpLimiter
from exchange_sim.bybit.rest import BybitRest
from exchange_sim.bybit.streams import BybitHub
from exchange_sim.state import SimState


class BybitVenue:
    def __init__(self, state: SimState) -> None:
        cfg = state.config
        self.limiter = IpLimiter(
            cfg.bybit_ip_limit, cfg.bybit_ip_window_seconds, ban_seconds=cfg.bybit_ban_seconds
        )
        self.faults = BookFaults()
        self.rest = BybitRest(state, self.limiter)
        self.hub = BybitHub(state, self.faults)

    def add_routes(self, app: web.Application) -> None:
        self.rest.add_routes(app)
        self.hub.add_routes(app)
        app.router.add_post("/_sim/bybit/faults", self._set_faults)
        app.router.add_post("/_sim/bybit/reset", self._reset)

    def reset(self) -> None:
        self.limiter.reset()
        self.faults.clear()

    async def _set_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if body.pop("clear", False):
                self.faults.clear()
            self.faults.set(**body)
        except (orjson.JSONDecodeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"faults": self.faults.snapshot()})

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({})
