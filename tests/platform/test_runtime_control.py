"""Runtime control end to end (issue 17), with every piece a real process: the exchange
simulator, `python -m api_server` and `python -m data_collector`. A market added through
/admin while they run is backfilled (its progress reaching a WebSocket client), served, kept
across a collector restart and, once removed, no longer collected, its subscribers told."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from devstack.ports import free_port
from tests.polling import eventually
from tests.service_processes import ServiceProcesses
from tests.simulator_process import simulator

TOKEN = "test-admin-token-3f9a1c"
ADDED = {"exchange": "binance", "kind": "spot", "symbol": "ETHUSDT"}
ADDED_NAME = "binance:spot:ETHUSDT"


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d")


@pytest.fixture
def exchange() -> Iterator[str]:
    with simulator(("BTCUSDT", "ETHUSDT"), _days_ago(4), seed=17) as address:
        yield address


class Services(ServiceProcesses):
    """The api-server and the collector as processes, restartable one at a time."""

    def __init__(self, env: dict[str, str], simulator: str, logs: Path) -> None:
        self.api_port, self.metrics_port = free_port(), free_port()
        super().__init__(logs, {
            **env,
            "ADMIN_TOKEN": TOKEN, "API_PORT": str(self.api_port), "API_HOST": "127.0.0.1",
            "BINANCE_BASE_URL": f"http://{simulator}", "BINANCE_STREAM_URL": f"ws://{simulator}",
            "SYMBOLS": "BTCUSDT", "START_DATE": _days_ago(1), "AUDIT_INTERVAL": "0",
            "METRICS_HOST": "127.0.0.1",
        })  # fmt: skip
        self.start("api-server", "api_server")
        self.start_collector()

    @property
    def collector(self) -> subprocess.Popen[bytes]:
        return self.processes["collector"]

    def start_collector(self) -> None:
        self.start("collector", "data_collector", METRICS_PORT=str(self.metrics_port))

    def stop_collector(self) -> None:
        self.stop("collector")


@pytest.fixture
async def services(
    exchange: str, service_env: dict[str, str], clean_db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Services]:
    with Services(service_env, exchange, tmp_path) as running:
        yield running


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return 0


async def _phase(pool: asyncpg.Pool, symbol: str) -> str | None:
    phase: str | None = await pool.fetchval(
        "SELECT phase FROM collector_state WHERE venue = 'binance-spot' AND symbol = $1", symbol
    )
    return phase


async def _newest_update(pool: asyncpg.Pool, symbol: str) -> datetime | None:
    value: datetime | None = await pool.fetchval(
        "SELECT max(updated_at) FROM candles WHERE venue = 'binance-spot' AND symbol = $1", symbol
    )
    return value


async def _progress_until_done(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Progress reports of the added market, with when each arrived, up to its `done`."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(120):
        while True:
            message = await ws.receive_json()
            if message.get("type") != "progress" or message["data"]["market"] != ADDED_NAME:
                continue
            seen.append({**message["data"], "at": time.monotonic()})
            if message["data"]["status"] in ("done", "error"):
                return seen


@pytest.mark.slow
async def test_a_market_added_at_runtime_is_backfilled_served_kept_and_removed(
    services: Services, clean_db: asyncpg.Pool
) -> None:
    api = f"http://127.0.0.1:{services.api_port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    pool = clean_db
    async with aiohttp.ClientSession() as session:
        await eventually(
            lambda: _status(session, f"{api}/ready"), 60, every=0.5, what="the api-server ready"
        )
        await eventually(lambda: _phase_is(pool, "BTCUSDT", "realtime"), 90, what="BTCUSDT live")
        collector_pid = services.collector.pid

        # Refused without the token or with a wrong one; nothing changes.
        async with session.post(f"{api}/admin/markets", json=ADDED) as response:
            assert response.status == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        async with session.post(f"{api}/admin/markets", json=ADDED, headers=wrong) as response:
            assert response.status == 403
        assert await pool.fetchval(
            "SELECT count(*) FROM control_markets WHERE symbol = 'ETHUSDT'"
        ) == 0  # fmt: skip

        async with session.ws_connect(f"{api}/ws?type=progress") as progress:
            added_at = time.monotonic()
            body = {**ADDED, "start_date": _days_ago(3)}
            async with session.post(f"{api}/admin/markets", json=body, headers=auth) as response:
                assert response.status == 201, await response.text()
            reports = await _progress_until_done(progress)
        assert reports[-1]["status"] == "done", reports[-1]
        running = [r for r in reports if r["status"] == "running"]
        assert running, "no progress while the backfill ran"
        assert running[0]["at"] - added_at < 5, "the collector took the change up late"
        assert reports[-1]["percent"] == "100.0" and reports[-1]["done"] == reports[-1]["total"]
        gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(reports)]
        assert all(gap <= 1.5 for gap in gaps), gaps  # at least once a second while it ran

        # Served: three days of ETHUSDT in every timeframe, without any process restarted.
        async with session.get(f"{api}/candles?symbol=ETHUSDT&timeframe=1H&limit=48") as response:
            assert response.status == 200
            candles = await response.json()
        assert len(candles) == 48
        assert services.collector.poll() is None and services.collector.pid == collector_pid

        # The change is in the audit log, with the client's address.
        async with session.get(f"{api}/admin/audit?limit=5", headers=auth) as response:
            assert response.status == 200
            audit = await response.json()
        rows = audit["entries"] if isinstance(audit, dict) else audit
        newest = rows[0]
        assert ADDED_NAME in newest["target"] or "ETHUSDT" in newest["target"]
        assert newest["address"] == "127.0.0.1"

        # A collector restarted with the same environment (SYMBOLS=BTCUSDT) keeps collecting it.
        services.stop_collector()
        stopped = await _newest_update(pool, "ETHUSDT")
        services.start_collector()
        assert await eventually(
            lambda: _updated_after(pool, "ETHUSDT", stopped), 90, what="ETHUSDT collected again"
        )

        # Removed: its subscribers are told and closed, its collection stops, its data stays.
        async with session.ws_connect(f"{api}/ws?type=candles&symbol=ETHUSDT") as live:
            first = await live.receive_json(timeout=15)  # its live candles flow
            assert first.get("symbol") == "ETHUSDT", first
            url = f"{api}/admin/markets/binance/spot/ETHUSDT"
            async with session.delete(url, headers=auth) as response:
                assert response.status == 200, await response.text()
            removed = await _first_of_type(live, "market_removed")
            assert removed["market"] in (ADDED_NAME, "ETHUSDT")
            closing = await live.receive(timeout=10)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert await eventually(lambda: _phase_is(pool, "ETHUSDT", "removed"), 10)
        quiet_from = await _newest_update(pool, "ETHUSDT")
        btc_from = await _newest_update(pool, "BTCUSDT")
        await asyncio.sleep(5)
        assert await _newest_update(pool, "ETHUSDT") == quiet_from
        assert await eventually(lambda: _updated_after(pool, "BTCUSDT", btc_from), 30)
        assert await pool.fetchval(
            "SELECT count(*) FROM candles WHERE venue = 'binance-spot' AND symbol = 'ETHUSDT'"
        ) >= 3 * 1440  # fmt: skip
        assert services.collector.poll() is None, services.log("collector")


async def _phase_is(pool: asyncpg.Pool, symbol: str, phase: str) -> bool:
    return await _phase(pool, symbol) == phase


async def _updated_after(pool: asyncpg.Pool, symbol: str, moment: datetime | None) -> bool:
    newest = await _newest_update(pool, symbol)
    return newest is not None and (moment is None or newest > moment)


async def _first_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            message = await ws.receive_json()
            if message.get("type") == kind:
                return dict(message)
