"""The simulator's own control endpoints under /_sim (not part of Binance's API).

GET  /_sim/stats               counters, used weight per client, current faults
POST /_sim/faults  {...}       FaultSettings keys, plus "weight_limit": int,
                               "drop_ws": true, "server_shutdown": true, "clear": true
POST /_sim/reset               forget weights, bans, counters and faults
POST /_sim/clock   {"now_ms": int, "speed": float}
"""

from __future__ import annotations

import orjson
from aiohttp import web

from exchange_sim.rest import json_body
from exchange_sim.state import SimState

_ACTIONS = ("weight_limit", "drop_ws", "server_shutdown", "clear")


class AdminApi:
    def __init__(self, state: SimState) -> None:
        self.state = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_sim/stats", self.stats)
        app.router.add_post("/_sim/faults", self.faults)
        app.router.add_post("/_sim/reset", self.reset)
        app.router.add_post("/_sim/clock", self.clock)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        return json_body(
            {
                **st.stats.snapshot(),
                "weight_limit": st.limiter.limit,
                "server_time": st.clock.now_ms(),
                "faults": st.faults.snapshot(),
            }
        )

    async def faults(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        st = self.state
        actions = {k: body.pop(k) for k in _ACTIONS if k in body}
        try:
            if actions.get("clear"):
                st.faults.clear()
            st.faults.update(body)
            limit = actions.get("weight_limit")
            if limit is not None:
                if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                    raise ValueError("weight_limit must be a positive integer")
                st.limiter.limit = limit
        except ValueError as exc:
            return json_body({"error": str(exc)}, 400)
        dropped = 0
        if actions.get("server_shutdown"):
            await st.hub.announce_shutdown()
        if actions.get("drop_ws"):
            dropped = await st.hub.drop_all()
        return json_body({"faults": st.faults.snapshot(), "dropped": dropped})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        st.limiter.reset()
        st.limiter.limit = st.config.weight_limit
        st.stats.reset()
        st.faults.clear()
        return json_body({})

    async def clock(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        now_ms, speed = body.get("now_ms"), body.get("speed")
        if now_ms is not None:
            if not isinstance(now_ms, int):
                return json_body({"error": "now_ms must be an integer"}, 400)
            self.state.clock.set(now_ms)
        if speed is not None:
            if not isinstance(speed, int | float) or speed < 0:
                return json_body({"error": "speed must be a non-negative number"}, 400)
            self.state.clock.set(self.state.clock.now_ms())
            self.state.clock.speed = float(speed)
        return json_body({"server_time": self.state.clock.now_ms()})


async def _json_object(request: web.Request) -> dict[str, object]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body
