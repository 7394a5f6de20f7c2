"""API queries run under the server-side statement timeout, and a request that cannot get a
database connection in time answers 503 instead of waiting for ever."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.http_checks import ONE_CONNECTION, assert_a_busy_pool_answers_503


@pytest.fixture
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    """The folder's `app`, with a single connection."""
    return {**app_settings, **ONE_CONNECTION}


async def test_api_queries_carry_the_statement_timeout(app: Starlette) -> None:
    assert await app.state.pool.fetchval("SHOW statement_timeout") == "2500ms"


async def test_a_request_that_waits_too_long_for_a_connection_answers_503(app: Starlette) -> None:
    await assert_a_busy_pool_answers_503(app, "http://api", "/candles?symbol=BTCUSDT")
