"""Pages rendered by PostgreSQL are byte-for-byte the pages rendered in Python."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import orjson
import pytest
from api_helpers import spot, store_minutes

from api_server import candle_store
from api_server.wire import rest_candle
from linkora_core.candles import Candle
from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS, Timeframe

BASE = int(datetime(2024, 1, 31, 22, tzinfo=UTC).timestamp()) * 1000
AWKWARD = ["0E-8", "5E-8", "1E+3", "131.30000000", "0.000000000003663159", "42", "7.10"]


@pytest.mark.parametrize("timeframe", list(Timeframe))
async def test_database_rendering_equals_python_rendering(
    clean_db: asyncpg.Pool, timeframe: Timeframe
) -> None:
    minutes = []
    for i in range(600):
        low = Decimal(AWKWARD[i % len(AWKWARD)])
        high = low + Decimal(AWKWARD[(i + 3) % len(AWKWARD)])
        minutes.append(
            Candle(
                BASE + i * 7 * MINUTE_MS,
                low,
                high,
                low,
                high,
                Decimal(AWKWARD[(i + 1) % 7]),
                Decimal(AWKWARD[(i + 2) % 7]),
                i % 3,
                Decimal("0E-8"),
                Decimal(AWKWARD[(i + 4) % 7]),
            )
        )
    await store_minutes(clean_db, "RNDRUSDT", minutes)
    await roll_market(clean_db, spot("RNDRUSDT"))
    for newest_first in (True, False):
        candles = await candle_store.read_page(
            clean_db, spot("RNDRUSDT"), timeframe, None, None, 5000, newest_first=newest_first
        )
        text, count, last, newest = await candle_store.render_page(
            clean_db, spot("RNDRUSDT"), timeframe, None, None, 5000, newest_first=newest_first
        )
        assert f"[{text}]".encode() == orjson.dumps([rest_candle(c) for c in candles])
        assert count == len(candles)
        if candles:
            assert last == candles[-1].open_time_ms
            assert newest == max(c.open_time_ms for c in candles)
