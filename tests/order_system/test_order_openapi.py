"""The order API's OpenAPI document matches the app: every HTTP route documented, every
documented path a route, and schemathesis finds no 5xx and no response outside the document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st

from order_system.api.app import create_app
from order_system.api.openapi import DOCUMENT
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings
from tests import http_checks

CASES = http_checks.cases(DOCUMENT)
ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
TOKEN = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"
ETH = "0x" + "00" * 20
STATUSES = ("PENDING", "EXECUTED", "CANCELLED")


def test_every_http_route_is_documented_and_every_documented_path_is_a_route() -> None:
    app = create_app(OrderSettings())
    assert http_checks.http_routes(app) == http_checks.documented(DOCUMENT)


@pytest.fixture
async def client(clean_db: asyncpg.Pool, hardhat_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Twelve orders of one user (statuses cycling), each with its creation event."""
    start = datetime.now(UTC) - timedelta(hours=12)
    orders, events = [], []
    for i in range(1, 13):
        status, created = STATUSES[i % 3], start + timedelta(hours=i)
        executed = status == "EXECUTED"
        orders.append(
            (i, ALICE, ETH, TOKEN, Decimal("0.05"), Decimal("0.8944299"), Decimal("0E-8"),
             "LIMIT" if i % 2 else "STOP", i % 2 == 0, False, status, created,
             created if executed else None, created, f"0x{i:064x}", i,
             ALICE if executed else None, Decimal("1.5") if executed else None,
             f"0x{i + 100:064x}" if executed else None)
        )  # fmt: skip
        events.append(
            (i, "CREATED", None, "PENDING", f"0x{i:064x}", i, f"0x{i + 200:064x}", 0, created,
             orjson.dumps({"amount_in": "0.05", "is_long": i % 2 == 0}).decode())
        )  # fmt: skip
    await clean_db.executemany(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, executed_at, "
        "updated_at, tx_hash, block_number, executor_address, amount_out, execution_tx_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
        "$18, $19)",
        orders,
    )
    await clean_db.executemany(
        "INSERT INTO order_events (order_id, event_type, old_status, new_status, tx_hash, "
        "block_number, block_hash, log_index, occurred_at, event_data) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
        events,
    )
    app = create_app(OrderSettings(web3_provider=hardhat_url, rate_limit_per_second=0))
    app.state.pool = clean_db
    app.state.rpc = JsonRpc(hardhat_url, timeout=2)
    async with http_checks.asgi_client(app, "http://orders") as http:
        yield http
    await app.state.rpc.close()


@http_checks.fuzzing(max_examples=250)
@given(case=CASES, known=st.booleans())
async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    client: httpx.AsyncClient, case: schemathesis.Case[Any], known: bool
) -> None:
    if known and case.path_parameters:
        # Random ids and addresses rarely exist: point half of the cases at seeded ones.
        if "order_id" in case.path_parameters:
            case.path_parameters["order_id"] = 5
        if "address" in case.path_parameters:
            case.path_parameters["address"] = ALICE.upper().replace("0X", "0x")
    await http_checks.send_and_validate(client, case, "http://orders")


OFFSET_CAP = 10_000  # deeper pages are served by the keyset cursor
HUGE = "9" * 4301  # one digit past Python's int() limit for decimal strings
# Numeric parameter shapes that once reached int() or PostgreSQL unchecked (a 500 each).
NUMERIC_SHAPES = [
    ("/orders/" + "1" * 4301, {}),
    ("/orders/" + "1" * 4301 + "/events", {}),
    ("/orders/" + "9" * 79, {}),  # past any uint256 id (25 digits is a 404: no such order)
    ("/orders/%D9%A1%D9%A2", {}),  # Arabic-Indic digits: a regex \d and int() take them
    ("/orders/%C2%B2", {}),  # superscript two
    ("/orders/--1", {}),
    *[
        ("/orders/all", {name: value})
        for name in ("limit", "offset", "cursor")
        for value in (HUGE, "9" * 25, "--1", "\u00b2", "\u0661\u0662", "1e3", "0x10", "1_000")
    ],
    ("/users/" + ALICE + "/orders", {"limit": HUGE}),
    ("/orders/pending", {"offset": HUGE, "cursor": HUGE}),
]


@pytest.mark.parametrize(("path", "query"), NUMERIC_SHAPES)
async def test_oversized_or_non_ascii_numbers_are_a_400_never_a_server_error(
    client: httpx.AsyncClient, path: str, query: dict[str, str]
) -> None:
    response = await client.get(path, params=query)
    assert response.status_code == 400, (path, query, response.text[:200])
    assert set(response.json()) == {"error"}


async def test_an_offset_past_the_cap_is_a_400_pointing_at_the_cursor(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/orders/all", params={"offset": OFFSET_CAP + 1})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]
    assert (await client.get("/orders/all", params={"offset": OFFSET_CAP})).status_code == 200


async def test_the_document_and_a_readable_page_of_it_are_served(
    client: httpx.AsyncClient,
) -> None:
    await http_checks.assert_the_document_and_its_page_are_served(client, DOCUMENT)
