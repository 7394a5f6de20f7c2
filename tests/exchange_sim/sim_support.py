"""Constants and helpers shared by the simulator tests (importable as a plain module)."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from exchange_sim import SimConfig
from exchange_sim.state import SimState
from exchange_sim.stepped_book import Diff
from exchange_sim.venues import Venues

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LINKORA_SHARED_DIR") or REPO_ROOT.parent / "shared")
ETH_CSV = SHARED / "data" / "binance" / "ethusdt_2020-01" / "ETHUSDT_1m.csv"

START_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 1000
# A frozen "now" 34.567 s into a minute, 70 days after the data starts.
NOW_MS = int(datetime(2024, 3, 11, 12, 34, tzinfo=UTC).timestamp()) * 1000 + 34_567
MINUTE = 60_000


def frozen(**overrides: object) -> SimConfig:
    """A config whose clock stands still at NOW_MS."""
    base: dict[str, object] = {
        "symbols": ("BTCUSDT", "ETHUSDT"),
        "start": "2024-01-01",
        "seed": 7,
        "clock_origin_ms": NOW_MS,
        "clock_speed": 0.0,
    }
    base.update(overrides)
    return SimConfig(**base)  # type: ignore[arg-type]


def with_venue(state: SimState, **replaced: Any) -> Venues:
    """The venues `build_app` serves, some replaced by ones a test configured
    (`bybit=`, `futures=`, `okx=`, `whitebit=`)."""
    return dataclasses.replace(Venues.create(state), **replaced)


async def collect(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Any]:
    """The JSON frames received within `seconds` (fewer if the socket closes)."""
    out: list[Any] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        out.append(orjson.loads(msg.data))
    return out


def apply(book: tuple[dict[int, int], dict[int, int]], diff: Diff) -> None:
    """Apply a diff of (price, quantity) levels to (bids, asks) dicts; 0 removes."""
    for side, levels in ((book[0], diff.bids), (book[1], diff.asks)):
        for price, qty in levels:
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
