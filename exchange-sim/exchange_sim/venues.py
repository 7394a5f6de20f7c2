"""The other exchanges' public market data, served beside Binance spot's on the same app: each
at its real paths (Binance USDⓈ-M under /fstream for its streams, being another host)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from exchange_sim.bybit import BybitVenue
from exchange_sim.futures import VENUE as FUTURES
from exchange_sim.futures import FuturesVenue
from exchange_sim.okx import OkxSettings, OkxVenue
from exchange_sim.state import SimState
from exchange_sim.whitebit import WhitebitVenue
from exchange_sim.whitebit.limits import Limits


@dataclass(eq=False)
class Venues:
    bybit: BybitVenue
    futures: FuturesVenue
    okx: OkxVenue
    whitebit: WhitebitVenue

    @classmethod
    def create(cls, state: SimState) -> Venues:
        """Each with the limits of `state.config` (by default its exchange's documented ones)."""
        cfg = state.config
        okx = OkxSettings(window_seconds=cfg.okx_window_seconds).limited(**dict(cfg.okx_limits))
        whitebit = Limits(
            kline=cfg.whitebit_kline_limit,
            public=cfg.whitebit_public_limit,
            window=cfg.whitebit_window_seconds,
        )
        return cls(
            BybitVenue(state),
            FuturesVenue(state),
            OkxVenue(state, okx),
            WhitebitVenue(state, whitebit),
        )

    def add_routes(self, app: web.Application) -> None:
        self.bybit.add_routes(app)
        self.futures.add_routes(app)
        app[FUTURES] = self.futures
        self.okx.add_routes(app)
        self.whitebit.add_routes(app)

        async def on_shutdown(_: web.Application) -> None:
            await self.bybit.hub.close_all()

        app.on_shutdown.append(on_shutdown)  # the others close their own sockets

    async def drop_connections(self) -> int:
        """Cut every WebSocket of these venues now (no close frame)."""
        hubs = (self.bybit.hub, self.futures.hub, self.okx.hub, self.whitebit.hub)
        return sum([await hub.drop_all() for hub in hubs])

    def reset(self) -> None:
        """Forget request counts, bans and stream faults."""
        for venue in (self.bybit, self.futures, self.okx, self.whitebit):
            venue.reset()
