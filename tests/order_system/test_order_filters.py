"""The list filters (token pair, creation and execution time, transaction hash, executor) and
sorts: each walks by its cursor to exactly the matching orders in order, cursors are bound to
their list, bad values are a 400, and at a million orders every new list is an index range."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from starlette.datastructures import QueryParams

from order_system.api import listing, queries
from order_system.api.params import INVALID_SORT

ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
BOB = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
KEEPER = "0x90f79bf6eb2c4f870365e785982e1f101e93b906"
OTHER_KEEPER = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"
ETH = "0x" + "00" * 20
USDC = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"
DAI = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
START = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("PENDING", "EXECUTED", "CANCELLED")
PAIRS = ((ETH, USDC), (ETH, USDC), (USDC, ETH), (USDC, DAI))
SHARED_TX = "0x" + "ab" * 32  # orders 5 and 6 were created by one transaction


@dataclass(frozen=True)
class Seeded:
    id: int
    user: str
    token_in: str
    token_out: str
    status: str
    created_at: datetime
    executed_at: datetime | None
    tx_hash: str
    executor: str | None
    execution_tx_hash: str | None


def _seed() -> list[Seeded]:
    """40 orders; executions land in the reverse order of creation, so execution order is
    not id order."""
    rows = []
    for i in range(1, 41):
        status = STATUSES[i % 3]
        executed = status == "EXECUTED"
        token_in, token_out = PAIRS[i % 4]
        rows.append(
            Seeded(
                id=i,
                user=ALICE if i % 2 else BOB,
                token_in=token_in,
                token_out=token_out,
                status=status,
                created_at=START + timedelta(hours=i),
                executed_at=START + timedelta(hours=100 - i) if executed else None,
                tx_hash=SHARED_TX if i in (5, 6) else f"0x{i:064x}",
                executor=(KEEPER if i % 2 else OTHER_KEEPER) if executed else None,
                execution_tx_hash=f"0x{1000 + i:064x}" if executed else None,
            )
        )
    return rows


SEEDED = _seed()


@pytest.fixture
async def orders(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    await clean_db.executemany(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, executed_at, "
        "updated_at, tx_hash, block_number, executor_address, amount_out, execution_tx_hash) "
        "VALUES ($1, $2, $3, $4, 0.05, 2.5, 0, 'LIMIT', true, false, $5, $6, $7, $6, $8, $1, "
        "$9, $10, $11)",
        [
            (o.id, o.user, o.token_in, o.token_out, o.status, o.created_at, o.executed_at,
             o.tx_hash, o.executor, Decimal("1.5") if o.executor else None, o.execution_tx_hash)
            for o in SEEDED
        ],
    )  # fmt: skip
    return clean_db


def _iso(hours: int) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _by_creation(o: Seeded) -> tuple[datetime, int]:
    return o.created_at, o.id


def _by_execution(o: Seeded) -> tuple[datetime, int]:
    assert o.executed_at is not None
    return o.executed_at, o.id


# (name, query parameters, which seeded orders match)
FILTERS: list[tuple[str, dict[str, str], Callable[[Seeded], bool]]] = [
    ("pair", {"token_in": ETH, "token_out": USDC}, lambda o: o.token_out == USDC),
    ("reverse pair", {"token_in": USDC, "token_out": ETH}, lambda o: o.token_out == ETH),
    ("creating tx", {"tx_hash": SHARED_TX}, lambda o: o.tx_hash == SHARED_TX),
    ("executing tx", {"tx_hash": f"0x{1000 + 7:064x}"}, lambda o: o.id == 7),
    ("executor", {"executor": KEEPER}, lambda o: o.executor == KEEPER),
    ("created range", {"created_from": _iso(10), "created_to": _iso(30)},
     lambda o: START + timedelta(hours=10) <= o.created_at < START + timedelta(hours=30)),
    ("created from", {"created_from": _iso(33)},
     lambda o: o.created_at >= START + timedelta(hours=33)),
    ("executed range", {"executed_from": _iso(70), "executed_to": _iso(90)},
     lambda o: o.executed_at is not None
     and START + timedelta(hours=70) <= o.executed_at < START + timedelta(hours=90)),
    ("pair and executor", {"token_in": ETH, "token_out": USDC, "executor": OTHER_KEEPER},
     lambda o: o.token_in == ETH and o.token_out == USDC and o.executor == OTHER_KEEPER),
]  # fmt: skip
SORTS: dict[str, tuple[Callable[[Seeded], Any], bool, bool]] = {
    # name: (key, newest first, only executed orders)
    "newest": (_by_creation, True, False),
    "oldest": (_by_creation, False, False),
    "newest_executed": (_by_execution, True, True),
    "oldest_executed": (_by_execution, False, True),
}
LISTS: list[tuple[str, str | None, Callable[[Seeded], bool]]] = [
    ("/orders/all", None, lambda o: True),
    ("/orders/executed", None, lambda o: o.status == "EXECUTED"),
    ("/orders/all", "cancelled", lambda o: o.status == "CANCELLED"),
    (f"/users/{ALICE}/orders", None, lambda o: o.user == ALICE),
]


def _expected(
    matches: Callable[[Seeded], bool], in_list: Callable[[Seeded], bool], sort: str
) -> list[int]:
    key, newest, executed_only = SORTS[sort]
    kept = [o for o in SEEDED if matches(o) and in_list(o) and (o.executed_at or not executed_only)]
    return [o.id for o in sorted(kept, key=key, reverse=newest)]


async def _walk(api: httpx.AsyncClient, path: str, query: dict[str, str]) -> list[int]:
    """Every order of the list, by `next_cursor` pages of three."""
    seen: list[int] = []
    params = {**query, "limit": "3"}
    for _ in range(30):
        response = await api.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [o["id"] for o in body["orders"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return seen
        params = {**query, "limit": "3", "cursor": body["next_cursor"]}
    raise AssertionError(f"{path} {query}: more than 30 pages")


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize(("name", "query", "matches"), FILTERS, ids=[f[0] for f in FILTERS])
async def test_every_filter_and_sort_pages_through_exactly_its_orders_in_order(
    orders: asyncpg.Pool,
    api: httpx.AsyncClient,
    name: str,
    query: dict[str, str],
    matches: Callable[[Seeded], bool],
    sort: str,
) -> None:
    for path, status, in_list in LISTS:
        params = {**query, "sort": sort} | ({"status": status} if status else {})
        expected = _expected(matches, in_list, sort)
        assert await _walk(api, path, params) == expected, (path, params)


async def test_a_filtered_list_has_no_total_and_an_opaque_cursor(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    body = (
        await api.get("/orders/all", params={"token_in": ETH, "token_out": USDC, "limit": 2})
    ).json()
    assert [o["id"] for o in body["orders"]] == [40, 37]
    assert body["total"] is None and body["has_more"] is True
    assert not body["next_cursor"].isdigit()


async def test_oldest_first_without_filters_keeps_the_count(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    body = (await api.get("/orders/pending", params={"sort": "OLDEST", "limit": 2})).json()
    assert [o["id"] for o in body["orders"]] == [3, 6]
    assert body["total"] == 13


async def test_lists_without_the_new_parameters_page_by_order_id_as_before(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    for params in ({"limit": "3"}, {"limit": "3", "sort": "newest"}, {"limit": "3", "sort": ""}):
        body = (await api.get("/orders/all", params=params)).json()
        assert (body["next_cursor"], body["total"]) == ("38", 40)
    page = (await api.get("/orders/all", params={"limit": "2", "cursor": "38"})).json()
    assert [o["id"] for o in page["orders"]] == [37, 36]


async def test_address_and_hash_filters_match_any_letter_case(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    spelled = {
        "token_in": USDC.upper().replace("0X", "0x"),
        "token_out": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "executor": KEEPER.upper().replace("0X", "0x"),
    }
    for name, value in spelled.items():
        lower = {name: value.lower()}
        if name.startswith("token"):
            lower = {"token_in": USDC, "token_out": DAI}
            value_params = {"token_in": spelled["token_in"], "token_out": spelled["token_out"]}
        else:
            value_params = {name: value}
        mixed = (await api.get("/orders/all", params=value_params)).json()["orders"]
        assert mixed and mixed == (await api.get("/orders/all", params=lower)).json()["orders"]
    upper_hash = (
        await api.get("/orders/all", params={"tx_hash": SHARED_TX.upper()[2:]})
    ).status_code
    assert upper_hash == 400  # the 0x prefix is required
    by_hash = await api.get("/orders/all", params={"tx_hash": "0x" + SHARED_TX[2:].upper()})
    assert [o["id"] for o in by_hash.json()["orders"]] == [6, 5]


def _bad(name: str, digits: int = 40) -> str:
    return f"Invalid {name}. Must be 0x followed by {digits} hex digits."


def _bad_time(name: str) -> str:
    return f"Invalid {name}. Use an ISO 8601 time such as 2026-12-01T10:00:00Z."


PAIR_ALONE = "token_in and token_out go together: pass both (a token pair)."
BAD_VALUES = [
    ({"token_in": "0x1234", "token_out": USDC}, _bad("token_in")),
    ({"token_in": ETH, "token_out": USDC + "\n"}, _bad("token_out")),
    ({"token_in": ETH}, PAIR_ALONE),
    ({"token_out": ETH}, PAIR_ALONE),
    ({"executor": "vitalik.eth"}, _bad("executor")),
    ({"tx_hash": "0x" + "g" * 64}, _bad("tx_hash", 64)),
    ({"tx_hash": SHARED_TX[:-1]}, _bad("tx_hash", 64)),
    ({"created_from": "yesterday"}, _bad_time("created_from")),
    ({"executed_to": "2026-13-01"}, _bad_time("executed_to")),
    ({"created_from": "\u0662026-12-01"}, _bad_time("created_from")),
    ({"created_from": _iso(5), "created_to": _iso(4)},
     "Invalid time range: created_from is after created_to."),
    ({"executed_from": "2026-12-02", "executed_to": "2026-12-01T23:59:59Z"},
     "Invalid time range: executed_from is after executed_to."),
    ({"sort": "price"}, INVALID_SORT),
    ({"sort": "newest", "cursor": "not a cursor!"}, listing.INVALID_CURSOR),
]  # fmt: skip


@pytest.mark.parametrize(("query", "message"), BAD_VALUES)
async def test_bad_filter_values_are_a_400_naming_the_parameter(
    orders: asyncpg.Pool, api: httpx.AsyncClient, query: dict[str, str], message: str
) -> None:
    for path in ("/orders/all", "/orders/pending", f"/users/{ALICE}/orders"):
        response = await api.get(path, params=query)
        assert (response.status_code, response.json()) == (400, {"error": message}), path
    assert await orders.fetchval("SELECT count(*) FROM orders") == len(SEEDED)


async def _first_cursor(api: httpx.AsyncClient, path: str, query: dict[str, str]) -> str:
    body = (await api.get(path, params={**query, "limit": "2"})).json()
    cursor: str = body["next_cursor"]
    assert cursor
    return cursor


async def test_a_cursor_used_with_another_filter_or_sort_is_a_400(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    pair = {"token_in": ETH, "token_out": USDC}
    cursor = await _first_cursor(api, "/orders/all", pair)
    elsewhere = [
        ("/orders/all", {"token_in": USDC, "token_out": ETH}),
        ("/orders/all", {**pair, "sort": "oldest"}),
        ("/orders/all", {**pair, "status": "pending"}),
        ("/orders/pending", pair),
        (f"/users/{ALICE}/orders", pair),
        ("/orders/all", {}),  # a list that pages by order id
        ("/orders/all", {**pair, "executor": KEEPER}),
    ]
    for path, query in elsewhere:
        response = await api.get(path, params={**query, "cursor": cursor})
        assert response.status_code == 400, (path, query)
        assert response.json() == {"error": listing.WRONG_CURSOR}
    id_cursor = await _first_cursor(api, "/orders/all", {})
    response = await api.get("/orders/all", params={**pair, "cursor": id_cursor})
    assert response.json() == {"error": listing.WRONG_CURSOR}
    same = await api.get("/orders/all", params={**pair, "cursor": cursor, "limit": "50"})
    assert same.status_code == 200 and same.json()["orders"]


@pytest.mark.parametrize(
    "payload",
    ['["x", null, 5]', "[1, 2]", '{"a": 1}', "[]", "null", "7"],
)
async def test_a_forged_or_damaged_cursor_is_a_400(
    orders: asyncpg.Pool, api: httpx.AsyncClient, payload: str
) -> None:
    raw = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    response = await api.get("/orders/all", params={"sort": "oldest", "cursor": raw})
    assert response.status_code == 400
    assert response.json()["error"] in (listing.INVALID_CURSOR, listing.WRONG_CURSOR)


async def test_a_cursor_with_its_fingerprint_but_an_impossible_key_is_a_400(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    found = listing.read(QueryParams({"sort": "newest_executed"}))
    for key, after_id in ((None, 5), ("soon", 5), (2**62, 5), (0, -1), (0, 2**63), (True, 1)):
        raw = base64.urlsafe_b64encode(orjson.dumps([found.fingerprint(), key, after_id]))
        response = await api.get(
            "/orders/all", params={"sort": "newest_executed", "cursor": raw.decode()}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"error": listing.INVALID_CURSOR},
        ), (key, after_id)


MILLION = 1_000_000


async def _load_a_million(pool: asyncpg.Pool) -> None:
    """Orders over 1,000 users, 8 token pairs and 20 executors (a third executed)."""
    await pool.execute(
        """
        INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price,
            min_amount_out, order_type, is_long, self_executable, status, created_at,
            executed_at, updated_at, tx_hash, block_number, executor_address, amount_out,
            execution_tx_hash)
        SELECT i, '0x' || lpad(to_hex(i % 1000), 40, '0'),
            '0x' || lpad(to_hex(i % 8), 40, '0'), '0x' || lpad(to_hex(100 + i % 8 / 2), 40, '0'),
            0.05, 2.5, 0, 'LIMIT', true, false,
            (ARRAY['PENDING', 'EXECUTED', 'CANCELLED'])[1 + i % 3],
            timestamptz '2026-01-01' + make_interval(secs => i),
            CASE WHEN i % 3 = 1
                THEN timestamptz '2026-01-01' + make_interval(secs => i + i % 5000) END,
            now(), '0x' || lpad(to_hex(i), 64, '0'), i,
            CASE WHEN i % 3 = 1 THEN '0x' || lpad(to_hex(5000 + i % 20), 40, '0') END,
            CASE WHEN i % 3 = 1 THEN 1.5 END,
            CASE WHEN i % 3 = 1 THEN '0x' || lpad(to_hex(i), 60, '0') || 'eeee' END
        FROM generate_series(1, $1) AS i
        """,
        MILLION,
        timeout=900,  # a minute or more on a busy 2-core machine
    )
    await pool.execute("ANALYZE orders")


def _million_filters() -> list[dict[str, str]]:
    at = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=MILLION // 2)).isoformat()
    until = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=MILLION // 2 + 86400)).isoformat()
    return [
        {"token_in": f"0x{3:040x}", "token_out": f"0x{101:040x}"},
        {"tx_hash": f"0x{MILLION // 2:064x}"},
        {"executor": "0x" + f"{5007:040x}"},
        {"created_from": at, "created_to": until},
        {"created_from": at},
        {"executed_from": at, "executed_to": until},
        {"executed_to": until},
    ]


@pytest.mark.slow
async def test_at_a_million_orders_every_filter_and_sort_is_served_by_an_index(
    clean_db: asyncpg.Pool,
) -> None:
    await _load_a_million(clean_db)
    plans = {}
    for query in _million_filters():
        for sort in SORTS:
            for scope in ({}, {"status": "EXECUTED"}, {"user": "0x" + f"{7:040x}"}):
                found = listing.read(QueryParams({**query, "sort": sort}), **scope)
                first = queries.Page(100, 0)
                # A deep page: the cursor after an order halfway through the ids.
                middle = await clean_db.fetchrow(
                    f"SELECT id, created_at, executed_at FROM orders WHERE id >= {MILLION // 2} "
                    "AND executed_at IS NOT NULL ORDER BY id LIMIT 1"
                )
                column = found.sort.column
                key = None if column == "id" else middle[column]
                deep = queries.Page(100, 0, after=(key, middle["id"]))
                for page in (first, deep):
                    sql, args = queries.select(found.filter, found.sort, page)
                    rows = await clean_db.fetch("EXPLAIN " + sql, *args)
                    plan = "\n".join(row[0] for row in rows)
                    plans[(str(query), sort, str(scope), page.after is None)] = plan
    scans = {case: plan for case, plan in plans.items() if "Seq Scan on orders" in plan}
    assert not scans, scans
    assert all("Index" in plan for plan in plans.values())
    # A user's creation-time window reads the window's entries, not all the user's orders.
    windows = [
        plan
        for (query, _, scope, _), plan in plans.items()
        if "user" in scope and "created_from" in query
    ]
    assert windows and all("orders_user_created_id" in plan for plan in windows), windows


def test_a_list_without_the_new_parameters_runs_the_sql_it_always_ran() -> None:
    found = listing.read(QueryParams({"sort": "newest"}), "PENDING", ALICE)
    assert found.legacy
    sql, args = queries.select(found.filter, found.sort, queries.Page(100, 0, before_id=10))
    assert sql == (
        f"SELECT {queries.ORDER_FIELDS} FROM {queries.ORDERS} "
        "WHERE user_address = $1 AND status = $2 AND id < $3 "
        "ORDER BY id DESC LIMIT $4 OFFSET $5"
    )
    assert args == [ALICE, "PENDING", 10, 101, 0]
