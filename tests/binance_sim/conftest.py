"""Fixtures for the Binance simulator tests: servers on free loopback ports, frozen clocks."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

# This folder is named like the package under test; once tests/ is on sys.path it would
# shadow binance_sim as a namespace package. A regular package anywhere on the path wins.
_SOURCE = str(Path(__file__).resolve().parents[2] / "data-collector")
if _SOURCE not in sys.path:
    sys.path.append(_SOURCE)
if getattr(sys.modules.get("binance_sim"), "__file__", "") is None:
    del sys.modules["binance_sim"]

import aiohttp  # noqa: E402 - after the path fix above
import pytest  # noqa: E402
import pytest_asyncio  # noqa: E402
from sim_support import ETH_CSV, frozen  # noqa: E402

from binance_sim import SimServer  # noqa: E402


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def sim() -> AsyncIterator[SimServer]:
    """A shared, read-only server: generated BTCUSDT/ETHUSDT, clock frozen at NOW_MS."""
    async with SimServer(frozen(weight_limit=1_000_000)) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def eth_csv() -> Path:
    if not ETH_CSV.is_file():
        pytest.skip(f"shared data not found at {ETH_CSV}")
    return ETH_CSV
