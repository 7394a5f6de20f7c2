"""The live feed, fed the collector's minute messages directly: for random minute series the
last message of every bucket equals the reference aggregation (what REST serves)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import asyncpg
import orjson
from api_helpers import collector_message, db_examples, minute_series, reference_candles
from hypothesis import given
from starlette.websockets import WebSocket

from api_server.live_feed import LiveFeed
from api_server.ws_hub import Client, Hub, Topic
from linkora_core.candles import Candle
from linkora_core.timeframes import Timeframe

SYMBOL = "LIVEUSDT"


def listener(hub: Hub, timeframe: Timeframe) -> Client:
    client = Client(cast(WebSocket, None), "test", max_backlog=10**9)  # never "too slow"
    hub.subscribe(client, Topic("candles", SYMBOL, timeframe.value))
    return client


def drain(client: Client) -> list[dict[str, Any]]:
    out = []
    while not client.queue.empty():
        out.append(orjson.loads(client.queue.get_nowait().text))
    return out


@db_examples(10)
@given(series=minute_series())
async def test_last_live_message_of_every_bucket_equals_the_reference(
    clean_db: asyncpg.Pool, series: list[Candle]
) -> None:
    hub = Hub()
    feed = LiveFeed("redis://unused", hub, clean_db, update_interval=0)
    clients = {tf: listener(hub, tf) for tf in Timeframe}
    for m in series:
        half = Candle(
            m.open_time_ms,
            m.open,
            m.open,
            m.open,
            m.open,
            m.volume / 2,
            m.quote_volume,
            max(0, (m.trades or 0) - 1),
            Decimal(0),
            Decimal(0),
        )
        await feed.handle("candles:all", collector_message(SYMBOL, half, closed=False))
        await feed.handle("candles:all", collector_message(SYMBOL, m, closed=False))
        await feed.handle("candles:all", collector_message(SYMBOL, m, closed=True))
    for timeframe, client in clients.items():
        messages = drain(client)
        stamps = [m["timestamp"] for m in messages]
        assert stamps == sorted(stamps), timeframe
        closed = [m["timestamp"] for m in messages if m["closed"]]
        assert len(closed) == len(set(closed)), timeframe
        last = {m["timestamp"]: m for m in messages}
        expected = reference_candles(series, timeframe.value)
        assert [
            (
                m["timestamp"],
                Decimal(m["open"]),
                Decimal(m["high"]),
                Decimal(m["low"]),
                Decimal(m["close"]),
                Decimal(m["volume"]),
                m["trades"],
            )
            for m in last.values()
        ] == [
            (
                c["timestamp"],
                c["open_price"],
                c["high_price"],
                c["low_price"],
                c["close_price"],
                c["volume"],
                c["trades"],
            )
            for c in expected
        ], timeframe
