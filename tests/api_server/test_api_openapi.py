"""The OpenAPI document matches the app: every HTTP route documented, every documented path a
route, and schemathesis finds no 5xx and no response outside the document."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from api_helpers import minute, settings_for, store_minutes
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from api_server.app import create_app
from api_server.openapi import DOCUMENT
from tests import http_checks

CASES = http_checks.cases(DOCUMENT)
# Numeric shapes that once reached int() and a 500: 4301+ digits (Python's int max-digits
# limit), doubled signs, digits int() accepts that are not ASCII.
NINES = "9" * 4301
NUMERIC_SHAPES = [NINES, "-" + NINES, "--1", "+-1", "\u00b2", "\u0663", "1\u0663", "1_000", "0x10"]
NUMERIC_PARAMS = {"limit", "levels", "from", "to", "countback"}


def test_every_http_route_is_documented_and_every_documented_path_is_a_route(
    service_env: dict[str, str],
) -> None:
    app = create_app(settings_for(service_env), maintain_rollups=False)
    assert http_checks.http_routes(app) == http_checks.documented(DOCUMENT)


@pytest.fixture
async def app(app: Starlette, clean_db: asyncpg.Pool) -> Starlette:
    """The folder's app (conftest.py) over three hours of BTCUSDT minutes up to now and one
    order book snapshot; the folder's `client` asks it."""
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
    return app


@http_checks.fuzzing(max_examples=300)
@given(
    case=CASES,
    known_symbol=st.booleans(),
    numeric=st.one_of(st.none(), st.sampled_from(NUMERIC_SHAPES)),
)
async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    client: httpx.AsyncClient,
    case: schemathesis.Case[Any],
    known_symbol: bool,
    numeric: str | None,
) -> None:
    if known_symbol and case.query and "symbol" in case.query:
        case.query["symbol"] = "btcusdt"  # random symbols rarely have data
    if numeric is not None and case.query:
        for name in NUMERIC_PARAMS & set(case.query):
            case.query[name] = numeric
    await http_checks.send_and_validate(client, case, "http://api")


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


_BTC = {"symbol": "BTCUSDT"}
_HISTORY = {"symbol": "BTCUSDT", "resolution": "1"}


@pytest.mark.parametrize("shape", NUMERIC_SHAPES)
@pytest.mark.parametrize(
    ("path", "base", "name", "error"),
    [
        ("/candles", _BTC, "limit", {"error": "limit must be an integer"}),
        ("/orderbook", _BTC, "levels", {"error": "levels must be an integer"}),
        ("/udf/search", {"query": "BTC"}, "limit", {"error": "limit must be an integer"}),
        *[
            ("/udf/history", _HISTORY, name, {"s": "error", "errmsg": f"{name} must be an integer"})
            for name in ("from", "to", "countback")
        ],
    ],
)
async def test_malformed_numbers_are_a_400_naming_the_parameter(
    client: httpx.AsyncClient,
    path: str,
    base: dict[str, str],
    name: str,
    error: dict[str, str],
    shape: str,
) -> None:
    response = await client.get(path, params={**base, name: shape})
    assert (response.status_code, response.json()) == (400, error)


@pytest.mark.parametrize("name", ["start_date", "end_date"])
async def test_an_overlong_instant_is_a_400(client: httpx.AsyncClient, name: str) -> None:
    value = "2024-01-01T00:00:00" + "0" * 5000 + "Z"
    response = await client.get("/candles", params={**_BTC, name: value})
    assert (response.status_code, response.json()) == (400, {"error": f"Invalid {name} format"})


async def test_the_document_and_a_readable_page_of_it_are_served(
    client: httpx.AsyncClient,
) -> None:
    await http_checks.assert_the_document_and_its_page_are_served(client, DOCUMENT)
    page = await client.get("/docs")
    assert "<script" not in page.text  # self-contained: nothing fetched from elsewhere
