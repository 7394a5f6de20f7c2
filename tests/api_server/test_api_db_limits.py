"""API queries run under the server-side statement timeout, and a request that cannot get a
database connection in time answers 503 instead of waiting for ever."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from starlette.applications import Starlette

from tests.http_checks import ONE_CONNECTION, assert_a_busy_pool_answers_503


@pytest.fixture
async def one_connection_app(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> AsyncIterator[Starlette]:
    application = make_app(
        rate_limit_per_second=0,
        candle_cache_seconds=0,
        candle_live_cache_seconds=0,
        **ONE_CONNECTION,
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_api_queries_carry_the_statement_timeout(one_connection_app: Starlette) -> None:
    assert await one_connection_app.state.pool.fetchval("SHOW statement_timeout") == "2500ms"


async def test_a_request_that_waits_too_long_for_a_connection_answers_503(
    one_connection_app: Starlette,
) -> None:
    await assert_a_busy_pool_answers_503(
        one_connection_app, "http://api", "/candles?symbol=BTCUSDT"
    )
