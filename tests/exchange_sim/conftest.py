"""Fixtures for the Binance simulator tests: servers on free loopback ports, frozen clocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sim_support import ETH_CSV, frozen

from exchange_sim import SimServer


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
        pytest.fail(f"shared data not found at {ETH_CSV} (set LINKORA_SHARED_DIR)")
    return ETH_CSV
