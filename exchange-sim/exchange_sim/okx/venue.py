"""The OKX side of one simulator: its limiter, book switches, REST and WebSocket handlers.

Control endpoints (the simulator's own, like /_sim/*):
POST /_sim/okx/book   {"checksum": bool, "quiet": bool, "skip_next": int, ..., "clear": true}
POST /_sim/okx/reset  forget per-IP counts and refusals, clear the book switches
GET  /_sim/okx/stats  {"rejected": {path: count}, "book": {switches}}
"""

from __future__ import annotations

import orjson
from aiohttp import web

from exchange_sim.okx.faults import BookSwitches
from exchange_sim.okx.limits import EndpointLimiter
from exchange_sim.okx.rest import OkxRest
from exchange_sim.okx.settings import OkxSettings
from exchange_sim.okx.streams import OkxHub
from exchange_sim.state import SimState


class OkxVenue:
    def __init__(self, state: SimState, settings: OkxSettings | None = None) -> None:
        self.settings = settings = settings or OkxSettings()
        self.limiter = EndpointLimiter(settings.limits, settings.window_seconds)
        self.book = BookSwitches()
        self.rest = OkxRest(state, settings, self.limiter)
        self.hub = OkxHub(state, settings, self.book)

    def add_routes(self, app: web.Application) -> None:
        """OKX's paths, the control endpoints and a shutdown hook; `app[OKX_VENUE]` = self.

        aiohttp (3.10+) resolves the longest literal path first, so /ws/v5/public wins over
        Binance's /ws/{streams} whichever was registered first.
        """
        self.rest.add_routes(app)
        self.hub.add_routes(app)
        app.router.add_post("/_sim/okx/book", self._set_book)
        app.router.add_post("/_sim/okx/reset", self._reset)
        app.router.add_get("/_sim/okx/stats", self._stats)
        app[OKX_VENUE] = self

        async def on_shutdown(_: web.Application) -> None:
            await self.hub.close_all()

        app.on_shutdown.append(on_shutdown)

    def reset(self) -> None:
        self.limiter.reset()
        self.book.clear()

    async def _set_book(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if body.pop("clear", False):
                self.book.clear()
            self.book.set(**body)
        except (orjson.JSONDecodeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"book": self.book.snapshot()})

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({})

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"rejected": dict(self.limiter.rejected), "book": self.book.snapshot()}
        )


OKX_VENUE = web.AppKey("okx_venue", OkxVenue)


def add_routes(app: web.Application, state: SimState, venue: OkxVenue | None = None) -> None:
    """Serve OKX v5 public market data from `state` on `app` (a new venue unless given)."""
    (venue or OkxVenue(state)).add_routes(app)
