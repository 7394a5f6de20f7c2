"""The OpenAPI document matches the app: every HTTP route documented, every documented path a
route, and schemathesis finds no 5xx and no response outside the document."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from api_helpers import minute, settings_for, store_minutes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from starlette.applications import Starlette
from starlette.routing import Route

from api_server.app import create_app
from api_server.openapi import DOCUMENT

SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
CASES = st.one_of([SCHEMA.as_strategy(mode) for mode in GenerationMode])
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def http_routes(app: Starlette) -> dict[str, set[str]]:
    return {
        route.path: {m.lower() for m in route.methods or ()} - {"head"}
        for route in app.routes
        if isinstance(route, Route)
    }


def test_every_http_route_is_documented_and_every_documented_path_is_a_route(
    service_env: dict[str, str],
) -> None:
    app = create_app(settings_for(service_env), maintain_rollups=False)
    routes = http_routes(app)
    documented = {path: set(item) for path, item in DOCUMENT["paths"].items()}
    assert routes == documented


@pytest.fixture
async def seeded_app(
    service_env: dict[str, str], clean_db: asyncpg.Pool
) -> AsyncIterator[Starlette]:
    """Three hours of BTCUSDT minutes up to now and one order book snapshot."""
    now = int(time.time()) // 60 * 60_000
    minutes = [
        minute(now - i * 60_000, "100.5", "101.25", "99.00000001", str(100 + i % 7), "0.5")
        for i in range(180)
    ]
    await store_minutes(clean_db, "BTCUSDT", minutes, open_from=now)
    await clean_db.execute(
        "INSERT INTO orderbook_data (symbol, captured_at, last_update_id, bid_prices, "
        "bid_quantities, ask_prices, ask_quantities) VALUES ($1, $2, 7, $3, $4, $5, $6)",
        "BTCUSDT",
        datetime.now(UTC),
        [f"{100 - i / 10}" for i in range(25)],
        ["0.00000005"] * 25,
        [f"{101 + i / 10}" for i in range(25)],
        ["2.50"] * 25,
    )
    application = create_app(
        settings_for(service_env, rate_limit_per_second=0, candle_cache_seconds=0),
        maintain_rollups=False,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(seeded_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=seeded_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=CASES, known_symbol=st.booleans())
async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    client: httpx.AsyncClient, case: schemathesis.Case[Any], known_symbol: bool
) -> None:
    if known_symbol and case.query and "symbol" in case.query:
        case.query["symbol"] = "btcusdt"  # random symbols rarely have data
    kwargs = case.as_transport_kwargs(base_url="http://api")
    response = await client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"]
    )
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(
    "url",
    [
        "/udf/history?symbol=BTCUSDT&resolution=1&countback=-1",
        "/udf/history?symbol=BTCUSDT&resolution=1&from=-99999999999&to=-99999999999",
        "/udf/history?symbol=BTCUSDT&resolution=1M&countback=5&to=999999999999",
        "/candles?symbol=BTCUSDT&timeframe=1M&end_date=9999-12-31T23:59:59Z",
        "/candles?symbol=BTCUSDT&timeframe=1M&start_date=9999-12-31T23:59:59Z",
        "/candles?symbol=BTCUSDT&timeframe=1W&start_date=0001-01-01T00:00:00Z",
    ],
)
async def test_instants_far_outside_the_data_answer_200_not_a_server_error(
    client: httpx.AsyncClient, url: str
) -> None:
    assert (await client.get(url)).status_code == 200


async def test_the_document_and_a_readable_page_of_it_are_served(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/openapi.json")).json() == DOCUMENT
    page = await client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text  # self-contained: nothing fetched from elsewhere
    for path in DOCUMENT["paths"]:
        assert f"GET {path}</code>" in page.text
