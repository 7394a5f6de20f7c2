"""The simulator as an aiohttp application, runnable in-process on a free port.

async with SimServer(SimConfig(symbols=("BTCUSDT",), seed=7)) as sim:
    sim.rest_url, sim.stream_url      # http://127.0.0.1:<port>, ws://127.0.0.1:<port>
    sim.faults.set(error_next=3)      # the next three REST responses are 5xx
    sim.stats.rate_limited            # 429s sent so far
    sim.venues.bybit.faults.set(skip_u_next=1)  # Bybit: the next book delta skips a `u`
    sim.source.klines("BTCUSDT", start_ms, end_ms)
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from exchange_sim.admin import AdminApi
from exchange_sim.config import SimConfig
from exchange_sim.rest import RestApi
from exchange_sim.state import SimState
from exchange_sim.venues import Venues


def build_app(state: SimState, venues: Venues | None = None) -> web.Application:
    """Binance spot's API, the /_sim control endpoints and the other venues' public APIs
    (Binance USDⓈ-M, Bybit, OKX, WhiteBIT) on one app."""
    app = web.Application()
    RestApi(state).add_routes(app)
    AdminApi(state).add_routes(app)
    # Before Binance's /ws/{streams}: OKX's /ws/v5/... are literal paths.
    (venues or Venues.create(state)).add_routes(app)
    app.router.add_get("/ws", state.hub.handle_raw)
    app.router.add_get("/ws/{streams:.+}", state.hub.handle_raw)
    app.router.add_get("/stream", state.hub.handle_combined)

    async def on_shutdown(_: web.Application) -> None:
        await state.hub.announce_shutdown()
        await state.hub.close_all()

    app.on_shutdown.append(on_shutdown)
    return app


class SimServer:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.state = state = SimState.create(self.config)
        # The parts tests and benchmarks reach for (a state never swaps them).
        self.source, self.clock, self.limiter = state.market, state.clock, state.limiter
        self.faults, self.stats = state.faults, state.stats
        self.venues = Venues.create(state)  # their limiters, stream faults and handlers
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def rest_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(
            build_app(self.state, self.venues), handle_signals=False, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def drop_connections(self) -> int:
        """Cut every WebSocket connection now (no close frame)."""
        return await self.state.hub.drop_all() + await self.venues.drop_connections()

    async def announce_shutdown(self) -> None:
        await self.state.hub.announce_shutdown()

    def reset_limits(self) -> None:
        """Forget used weights and bans (e.g. between tests)."""
        self.state.limiter.reset()
        self.state.limiter.limit = self.config.weight_limit
        self.venues.reset()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _url_host(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", ""):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host
