"""/symbols, /orderbook, /price, and a database that goes away under the server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx
from api_helpers import minute, moment, spot, store_minutes
from starlette.applications import Starlette

from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS
from tests.http_checks import running

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


async def test_symbols_lists_every_stored_symbol_sorted(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    for symbol in ("ETHUSDT", "BTCUSDT", "BNBUSDT"):
        await store_minutes(clean_db, symbol, [minute(BASE, "1", "1", "1", "1")])
    await clean_db.execute("INSERT INTO collector_state (symbol) VALUES ('ADAUSDT')")
    response = await client.get("/symbols")
    assert response.json() == {"symbols": ["ADAUSDT", "BNBUSDT", "BTCUSDT", "ETHUSDT"]}


async def test_orderbook_answers_the_newest_snapshot_cut_to_levels(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    bids = [Decimal("100.50000000") - i for i in range(20)]
    asks = [Decimal("101.5") + i for i in range(20)]
    for at, update in ((BASE, 7), (BASE + 1000, 8)):
        await clean_db.execute(
            "INSERT INTO orderbook_data VALUES ('BTCUSDT', $1, $2, $3, $4, $5, $6)",
            moment(at),
            update,
            bids,
            [Decimal("0E-8")] * 20,
            asks,
            [Decimal("5E-8")] * 20,
        )
    body = (await client.get("/orderbook?symbol=btcusdt&levels=5")).json()
    assert body["symbol"] == "BTCUSDT" and body["timestamp"] == BASE + 1000
    assert body["last_update_id"] == 8
    assert body["bids"][:2] == [
        {"price": "100.5", "quantity": "0"},
        {"price": "99.5", "quantity": "0"},
    ]
    assert body["asks"][0] == {"price": "101.5", "quantity": "0.00000005"}
    assert (len(body["bids"]), len(body["asks"])) == (5, 5)
    assert len((await client.get("/orderbook?symbol=BTCUSDT")).json()["bids"]) == 20
    missing = await client.get("/orderbook?symbol=ETHUSDT")
    assert missing.status_code == 404
    assert missing.json() == {"error": "No orderbook data available for this symbol"}


async def test_price_compares_the_open_bucket_with_the_one_before(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    closes = ["10"] * 60 + ["8"] * 30
    await store_minutes(
        clean_db,
        "BTCUSDT",
        [minute(BASE + i * MINUTE_MS, c, c, c, c) for i, c in enumerate(closes)],
        open_from=BASE + 89 * MINUTE_MS,
    )
    await roll_market(clean_db, spot("BTCUSDT"))
    body = (await client.get("/price?symbol=BTCUSDT&timeframe=1H")).json()
    assert body == {
        "symbol": "BTCUSDT",
        "timeframe": "1H",
        "current_price": "8",
        "previous_price": "10",
        "change_absolute": "-2",
        "change_percent": "-20",
        "trend": "down",
        "timestamp": BASE + 3_600_000,
        "volume": "30",
    }
    assert (await client.get("/price?symbol=NOPEUSDT")).status_code == 404


async def test_database_loss_answers_503_json_and_recovers_without_restart(
    app: Starlette, client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await store_minutes(clean_db, "BTCUSDT", [minute(BASE, "1", "1", "1", "1")])
    assert (await client.get("/candles?symbol=BTCUSDT")).status_code == 200
    real_pool = app.state.pool
    # A server that refuses connections, as while PostgreSQL restarts.
    app.state.pool = await asyncpg.create_pool("postgresql://nobody@127.0.0.1:9/none", min_size=0)
    try:
        for path in (
            "/candles?symbol=BTCUSDT",
            "/symbols",
            "/price?symbol=BTCUSDT",
            "/orderbook?symbol=BTCUSDT",
        ):
            response = await client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {"error": "Database unavailable"}
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded" and health["database"] == "unhealthy"
        assert set(health) >= {"timestamp", "redis", "live_feed", "websocket_clients"}
    finally:
        await app.state.pool.close()
        app.state.pool = real_pool
    # Every server connection of the real pool killed, as by a restart: answers come back.
    await clean_db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    statuses = [(await client.get("/candles?symbol=BTCUSDT")).status_code for _ in range(3)]
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}


async def test_rest_requests_are_rate_limited_per_client_ip(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    application = make_app(rate_limit_per_second=0.001, rate_limit_burst=3)
    async with running(application, "http://api") as client:
        statuses = [(await client.get("/symbols")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert int((await client.get("/symbols")).headers["retry-after"]) > 0
