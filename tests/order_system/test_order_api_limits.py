"""Cost limits of the order API: queries run under the server-side statement timeout, a request
that cannot get a database connection in time answers 503 instead of waiting for ever, and
`/statistics` counts the last 24 hours at most once per cache period, not on every call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from order_system.api.app import create_app
from order_system.settings import OrderSettings
from tests.http_checks import ONE_CONNECTION, asgi_client, assert_a_busy_pool_answers_503

ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
ETH = "0x" + "00" * 20
TOKEN = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"


def _settings(service_env: dict[str, str], hardhat_url: str, **overrides: Any) -> OrderSettings:
    fields: dict[str, Any] = {name.lower(): value for name, value in service_env.items()}
    return OrderSettings(**{**fields, "web3_provider": hardhat_url, **overrides})


@pytest.fixture
async def one_connection_app(
    service_env: dict[str, str], hardhat_url: str, clean_db: asyncpg.Pool
) -> AsyncIterator[Starlette]:
    application = create_app(
        _settings(
            service_env,
            hardhat_url,
            rate_limit_per_second=0,
            **ONE_CONNECTION,
        )
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_order_api_queries_carry_the_statement_timeout(
    one_connection_app: Starlette,
) -> None:
    assert await one_connection_app.state.pool.fetchval("SHOW statement_timeout") == "2500ms"


async def test_a_request_that_waits_too_long_for_a_connection_answers_503(
    one_connection_app: Starlette,
) -> None:
    await assert_a_busy_pool_answers_503(one_connection_app, "http://orders", "/orders/all")


async def _add_order(pool: asyncpg.Pool, order_id: int) -> None:
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, updated_at, "
        "tx_hash, block_number) VALUES ($1, $2, $3, $4, $5, $5, $5, 'LIMIT', true, false, "
        "'PENDING', $6, $6, $7, $1)",
        order_id, ALICE, ETH, TOKEN, Decimal("1"), now, f"0x{order_id:064x}",
    )  # fmt: skip


async def _pending_last_day(client: httpx.AsyncClient) -> int:
    response = await client.get("/statistics")
    assert response.status_code == 200
    return int(response.json()["statistics"]["PENDING"]["last_24h"])


@pytest.mark.parametrize("cache_seconds", [3600.0, 0.0], ids=["cached", "uncached"])
async def test_statistics_scan_the_last_day_once_per_cache_period(
    clean_db: asyncpg.Pool, hardhat_url: str, cache_seconds: float
) -> None:
    app = create_app(
        OrderSettings(
            web3_provider=hardhat_url,
            rate_limit_per_second=0,
            statistics_cache_seconds=cache_seconds,
        )
    )
    app.state.pool = clean_db
    async with asgi_client(app, "http://orders") as client:
        await _add_order(clean_db, 1)
        assert await _pending_last_day(client) == 1
        await _add_order(clean_db, 2)
        # Within the cache period the counts are not computed again (no scan per call).
        assert await _pending_last_day(client) == (1 if cache_seconds else 2)
