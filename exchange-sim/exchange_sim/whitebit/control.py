"""The simulator's own WhiteBIT controls (not WhiteBIT's API), beside /_sim/*:

GET  /_sim/whitebit/stats    429s per endpoint group, idle closes, skipped deltas, limits
POST /_sim/whitebit/faults   {"skip_delta_next": int, "clear": true, "drop_ws": true}
POST /_sim/whitebit/limits   {"kline": int, "orderbook": int, "public": int, "window": float}
POST /_sim/whitebit/reset    forget request counts and 429 counters, clear stream faults
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from exchange_sim.whitebit.limits import Limits

if TYPE_CHECKING:
    from exchange_sim.whitebit.venue import WhitebitVenue


class WhitebitControl:
    def __init__(self, venue: WhitebitVenue) -> None:
        self.venue = venue

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_sim/whitebit/stats", self.stats)
        app.router.add_post("/_sim/whitebit/faults", self.faults)
        app.router.add_post("/_sim/whitebit/limits", self.limits)
        app.router.add_post("/_sim/whitebit/reset", self.reset)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        v = self.venue
        return web.json_response(
            {
                "rejected": dict(v.limiter.rejected),
                "limits": asdict(v.limiter.limits),
                "ws_open": len(v.hub.connections),
                "idle_closed": v.hub.idle_closed,
                "deltas_skipped": v.hub.deltas_skipped,
                "throttled": v.hub.throttled,
                "faults": v.faults.snapshot(),
            }
        )

    async def faults(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _object(request)
            if body.pop("clear", False):
                self.venue.faults.clear()
            drop = bool(body.pop("drop_ws", False))
            self.venue.faults.set(**body)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        dropped = await self.venue.drop_connections() if drop else 0
        return web.json_response({"faults": self.venue.faults.snapshot(), "dropped": dropped})

    async def limits(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _object(request)
            values: dict[str, float] = asdict(self.venue.limiter.limits)
            for key, value in body.items():
                if key not in values:
                    raise ValueError(f"unknown limit {key!r}")
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ValueError(f"{key} must be a positive number")
                values[key] = value
            self.venue.limiter.limits = Limits(
                kline=int(values["kline"]),
                orderbook=int(values["orderbook"]),
                public=int(values["public"]),
                window=float(values["window"]),
            )
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"limits": asdict(self.venue.limiter.limits)})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.venue.reset()
        return web.json_response({})


async def _object(request: web.Request) -> dict[str, object]:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise ValueError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body
