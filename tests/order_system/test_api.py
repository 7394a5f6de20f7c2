"""The order API over rows written straight into the tables: shapes, paging, errors, CORS, and
query plans that use the order indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest

from order_system.api import queries
from order_system.api.app import create_app
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings

ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
BOB = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
USDC = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"
ETH = "0x" + "00" * 20
STATUSES = ("PENDING", "EXECUTED", "CANCELLED")


@pytest.fixture
async def orders(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    """30 orders: ids 1..30, users alternating, statuses cycling."""
    start = datetime.now(UTC) - timedelta(hours=30)
    rows = []
    for i in range(1, 31):
        status = STATUSES[i % 3]
        created = start + timedelta(hours=i)
        rows.append(
            (
                i,
                ALICE if i % 2 else BOB,
                ETH,
                USDC,
                Decimal("0.05"),
                Decimal("0.8944299"),
                Decimal("0E-8"),
                "LIMIT" if i % 4 else "STOP",
                i % 2 == 0,
                False,
                status,
                created,
                created if status == "EXECUTED" else None,
                created,
                "0x" + f"{i:064x}",
                i,
            )
        )
    await clean_db.executemany(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, executed_at, "
        "updated_at, tx_hash, block_number) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        rows,
    )
    return clean_db


async def test_list_shape_is_newest_first_with_plain_decimals(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    body = (await api.get("/orders/all", params={"limit": 2})).json()
    assert [o["id"] for o in body["orders"]] == [30, 29]
    assert (body["total"], body["limit"], body["offset"], body["has_more"]) == (30, 2, 0, True)
    assert body["status"] == "success"
    first = body["orders"][0]
    assert first["user_address"] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert first["token_in"] == "0x0000000000000000000000000000000000000000"
    assert (first["amount_in"], first["target_price"], first["min_amount_out"]) == (
        "0.05",
        "0.8944299",
        "0",
    )
    assert first["created_at"].endswith("+00:00")
    assert set(first) == {
        "id",
        "user_address",
        "token_in",
        "token_out",
        "amount_in",
        "target_price",
        "min_amount_out",
        "order_type",
        "is_long",
        "status",
        "created_at",
        "executed_at",
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/orders/pending", "PENDING"),
        ("/orders/executed", "EXECUTED"),
        ("/orders/cancelled", "CANCELLED"),
        ("/orders/all?status=Executed", "EXECUTED"),
    ],
)
async def test_status_lists_hold_only_their_status(
    orders: asyncpg.Pool, api: httpx.AsyncClient, path: str, status: str
) -> None:
    body = (await api.get(path)).json()
    assert body["total"] == 10 and len(body["orders"]) == 10 and not body["has_more"]
    assert {o["status"] for o in body["orders"]} == {status}


async def test_limit_and_offset_are_clamped(orders: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    low = (await api.get("/orders/all", params={"limit": 0, "offset": -5})).json()
    assert (low["limit"], low["offset"], len(low["orders"])) == (1, 0, 1)
    high = (await api.get("/orders/all", params={"limit": 5000, "offset": 28})).json()
    assert (high["limit"], high["offset"], [o["id"] for o in high["orders"]]) == (1000, 28, [2, 1])
    assert high["has_more"] is False


async def test_user_orders_match_any_letter_case(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    for spelled in (
        ALICE,
        ALICE.upper().replace("0X", "0x"),
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    ):
        body = (await api.get(f"/users/{spelled}/orders", params={"status": "pending"})).json()
        assert body["total"] == 5
        assert {o["user_address"] for o in body["orders"]} == {
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        }


async def test_cursor_pages_walk_every_order_once(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 7}
    while True:
        body = (await api.get("/orders/all", params=params)).json()
        seen += [o["id"] for o in body["orders"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        params = {"limit": 7, "cursor": body["next_cursor"]}
    assert seen == list(range(30, 0, -1))


async def test_details_and_events_errors(orders: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    details = (await api.get("/orders/7")).json()["order"]
    assert details["id"] == 7 and details["block_number"] == 7
    assert details["tx_hash"] == "0x" + f"{7:064x}" and details["amount_out"] is None
    assert set(details) >= {
        "self_executable",
        "updated_at",
        "executor_address",
        "execution_tx_hash",
    }
    cases = [
        ("/orders/99999", 404, "Order 99999 not found"),
        ("/orders/abc", 400, "Invalid order_id format. Must be a number."),
        ("/orders/1.5", 400, "Invalid order_id format. Must be a number."),
        ("/orders/99999/events", 404, "Order 99999 not found"),
        ("/orders/abc/events", 400, "Invalid order_id format. Must be a number."),
        ("/orders/99999999999999999999999", 404, "Order 99999999999999999999999 not found"),
        ("/orders/all?status=open", 400, "Invalid status. Use: pending, executed, cancelled"),
        (
            f"/users/{ALICE}/orders?status=done",
            400,
            "Invalid status. Use: pending, executed, cancelled",
        ),
    ]
    for path, code, message in cases:
        response = await api.get(path)
        assert (response.status_code, response.json()) == (code, {"error": message}), path
    bad_user = await api.get("/users/0x1234/orders")
    assert bad_user.status_code == 400 and "error" in bad_user.json()


async def test_statistics_count_each_status_and_the_last_day(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    stats = (await api.get("/statistics")).json()
    assert stats["status"] == "success"
    assert {k: v["total"] for k, v in stats["statistics"].items()} == {
        "PENDING": 10,
        "EXECUTED": 10,
        "CANCELLED": 10,
    }
    assert sum(v["last_24h"] for v in stats["statistics"].values()) == 24


async def test_cors_and_health(orders: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    response = await api.get("/orders/all", headers={"Origin": "http://localhost:3000"})
    assert response.headers["access-control-allow-origin"] == "*"
    health = (await api.get("/health")).json()
    assert health["overall_status"] == "healthy"
    components = health["components"]
    assert components["database_connection"] == "WORKING"
    assert isinstance(components["chain_head"], int)
    assert set(components) >= {"processed_block", "lag_blocks", "last_progress_at"}


@pytest.mark.parametrize(
    "flt",
    [
        queries.Filter(),
        queries.Filter(status="PENDING"),
        queries.Filter(user=ALICE),
        queries.Filter(user=ALICE, status="EXECUTED"),
    ],
)
async def test_list_queries_use_an_index(orders: asyncpg.Pool, flt: queries.Filter) -> None:
    async with orders.acquire() as connection, connection.transaction():
        # Disabled plan nodes still appear when nothing else can answer: the plan proves an
        # index returns the rows already in `id DESC` order (a 30-row table says no more).
        for knob in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await connection.execute(f"SET LOCAL {knob} = off")
        plans = []
        for page in (queries.Page(100, 0), queries.Page(100, 0, before_id=10)):
            args: list[object] = []
            where = queries._where(flt, args)  # the same clauses list_orders uses
            if page.before_id is not None:
                args.append(page.before_id)
                where.append(f"id < ${len(args)}")
            sql = "SELECT id FROM orders " + (f"WHERE {' AND '.join(where)} " if where else "")
            sql += "ORDER BY id DESC LIMIT 101"
            plans.append("\n".join(r[0] for r in await connection.fetch("EXPLAIN " + sql, *args)))
        for plan in plans:
            assert "Seq Scan" not in plan and "Index" in plan, plan
            assert "Sort" not in plan, plan


async def test_requests_beyond_the_per_ip_burst_get_429_with_retry_after(
    clean_db: asyncpg.Pool, hardhat_url: str
) -> None:
    settings = OrderSettings(web3_provider=hardhat_url, rate_limit_per_second=0.5,
                             rate_limit_burst=3)  # fmt: skip
    app = create_app(settings)
    app.state.pool = clean_db
    app.state.rpc = JsonRpc(hardhat_url, timeout=2)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        statuses = [(await client.get("/orders/all")).status_code for _ in range(4)]
        limited = await client.get("/orders/all")
        health = await client.get("/health")
    await app.state.rpc.close()
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "error" in limited.json()
    assert health.status_code != 429


async def test_database_away_answers_503_json_and_recovers_without_restart(
    clean_db: asyncpg.Pool, hardhat_url: str
) -> None:
    app = create_app(OrderSettings(web3_provider=hardhat_url, rate_limit_per_second=0))
    app.state.rpc = JsonRpc(hardhat_url, timeout=2)
    # A server that refuses connections, as while PostgreSQL restarts.
    app.state.pool = await asyncpg.create_pool("postgresql://nobody@127.0.0.1:9/none", min_size=0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        for path in ("/orders/all", "/orders/1", "/orders/1/events", "/statistics"):
            response = await client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {"error": "Database unavailable"}
        await app.state.pool.close()
        app.state.pool = clean_db
        assert (await client.get("/orders/all")).status_code == 200
    await app.state.rpc.close()
