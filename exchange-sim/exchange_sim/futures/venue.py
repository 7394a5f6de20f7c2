"""The USDⓈ-M side of one simulator: its weight limiter, books, REST and stream handlers.

Control endpoints (the simulator's own, like /_sim/*):
POST /_sim/fapi/faults  {"skip_diff_next": int, "weight_limit": int, "clear": true}
POST /_sim/fapi/reset   forget futures weights and bans, clear the stream faults
"""

from __future__ import annotations

import orjson
from aiohttp import web

from exchange_sim.futures.books import Books
from exchange_sim.futures.hub import FuturesHub, StreamFaults
from exchange_sim.futures.rest import FuturesRest
from exchange_sim.rest import json_body
from exchange_sim.state import SimState
from exchange_sim.weights import WeightLimiter

WEIGHT_LIMIT = 2400  # USDⓈ-M REQUEST_WEIGHT per minute per IP
KLINE_PUSH_INTERVAL = 0.25  # futures kline streams update every 250 ms
PING_INTERVAL = 180.0  # fstream pings every 3 minutes
PREFIX = "/fstream"  # where fstream.binance.com's paths live on the simulator's one port
MAX_MESSAGES_PER_SECOND = 10  # incoming, per connection


class FuturesVenue:
    def __init__(
        self,
        state: SimState,
        *,
        weight_limit: int = WEIGHT_LIMIT,
        kline_push_interval: float = KLINE_PUSH_INTERVAL,
        ping_interval: float = PING_INTERVAL,
        strict_routes: bool = False,
        max_messages_per_second: int = MAX_MESSAGES_PER_SECOND,
        prefix: str = PREFIX,
    ) -> None:
        cfg = state.config
        self.weight_limit = weight_limit
        self.prefix = prefix
        self.limiter = WeightLimiter(
            weight_limit,
            ban_base=cfg.ban_base_seconds,
            ban_max=cfg.ban_max_seconds,
            tolerated=cfg.tolerated_in_window,
        )
        self.books = Books(state.market)
        self.faults = StreamFaults()
        self.rest = FuturesRest(state, self.limiter, self.books)
        self.hub = FuturesHub(
            state,
            self.books,
            self.faults,
            kline_push_interval=kline_push_interval,
            ping_interval=ping_interval,
            strict_routes=strict_routes,
            max_messages_per_second=max_messages_per_second,
        )

    def add_routes(self, app: web.Application) -> None:
        self.rest.add_routes(app)
        self.hub.add_routes(app, self.prefix)
        app.router.add_post("/_sim/fapi/faults", self._set_faults)
        app.router.add_post("/_sim/fapi/reset", self._reset)
        app.on_shutdown.append(self._on_shutdown)

    def reset(self) -> None:
        self.limiter.reset()
        self.limiter.limit = self.weight_limit
        self.faults.clear()

    async def _on_shutdown(self, _: web.Application) -> None:
        await self.hub.close_all()

    async def _set_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if body.pop("clear", False):
                self.faults.clear()
            for key, value in body.items():
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer")
                if key == "skip_diff_next":
                    self.faults.skip_diff_next = value
                elif key == "weight_limit":
                    self.limiter.limit = value
                else:
                    raise ValueError(f"unknown fault {key!r}")
        except (orjson.JSONDecodeError, ValueError) as exc:
            return json_body({"error": str(exc)}, 400)
        return json_body(
            {"skip_diff_next": self.faults.skip_diff_next, "weight_limit": self.limiter.limit}
        )

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return json_body({})
