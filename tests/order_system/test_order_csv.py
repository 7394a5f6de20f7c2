"""`GET /users/{address}/orders.csv`: a header row and one row per order, exact decimals and
ISO times, streamed batch by batch, served as an attachment, with the list's filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest
from starlette.datastructures import QueryParams

from order_system.api import csv_export, listing, queries

ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
ALICE_CHECKSUMMED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
KEEPER = "0x90f79bf6eb2c4f870365e785982e1f101e93b906"
ETH = "0x" + "00" * 20
USDC = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"
ODD = "0x5fbdb2315678afecb367f032d93f642f64180aa3"  # a token whose decimals() is unknown
START = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
async def orders(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    """Alice: 25 orders (every third executed by KEEPER, order 25 in an unknown-decimals
    token); Bob: one."""
    await clean_db.executemany(
        "INSERT INTO token_decimals (token_address, decimals) VALUES ($1, $2)",
        [(ETH, 18), (USDC, 6), (ODD, None)],
    )
    rows = []
    for i in range(1, 27):
        executed = i % 3 == 0
        created = START + timedelta(minutes=i)
        rows.append(
            (i, BOB if i == 26 else ALICE, ETH, ODD if i == 25 else USDC,
             Decimal("0.000000000003663159") if i == 1 else Decimal("1E+2"), Decimal("0.8944299"),
             Decimal("0E-8"), "LIMIT" if i % 2 else "STOP", i % 2 == 0,
             "EXECUTED" if executed else "PENDING", created,
             created + timedelta(seconds=30) if executed else None, created, f"0x{i:064x}", i,
             KEEPER if executed else None, Decimal("1.50") if executed else None,
             f"0x{i + 500:064x}" if executed else None)
        )  # fmt: skip
    await clean_db.executemany(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, executed_at, "
        "updated_at, tx_hash, block_number, executor_address, amount_out, execution_tx_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false, $10, $11, $12, $13, $14, $15, $16, "
        "$17, $18)",
        rows,
    )
    return clean_db


def _table(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_a_users_orders_come_as_a_csv_attachment_with_a_header_row(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    response = await api.get(f"/users/{ALICE.upper().replace('0X', '0x')}/orders.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="orders-{ALICE_CHECKSUMMED}.csv"'
    )
    lines = response.text.split("\r\n")
    assert lines[0] == ",".join(csv_export.HEADER)
    assert lines[-1] == ""  # every row ends in CRLF
    table = _table(response)
    assert [int(row["id"]) for row in table] == list(range(25, 0, -1))


async def test_csv_cells_hold_exact_decimals_iso_times_and_checksummed_addresses(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    table = {int(row["id"]): row for row in _table(await api.get(f"/users/{ALICE}/orders.csv"))}
    first, executed = table[1], table[3]
    assert (first["amount_in"], first["target_price"], first["min_amount_out"]) == (
        "0.000000000003663159",
        "0.8944299",
        "0",
    )
    assert (first["amount_out"], first["executed_at"], first["executor_address"]) == ("", "", "")
    assert first["created_at"] == "2026-11-01T12:31:00+00:00"
    assert (first["user_address"], first["token_in"]) == (ALICE_CHECKSUMMED, "0x" + "0" * 40)
    assert (first["is_long"], first["self_executable"], first["status"]) == (
        "false",
        "false",
        "PENDING",
    )
    assert (first["token_in_decimals"], first["token_out_decimals"], first["raw_units"]) == (
        "18",
        "6",
        "false",
    )
    assert table[2]["amount_in"] == "100"
    assert (executed["amount_out"], executed["executed_at"]) == (
        "1.5",
        "2026-11-01T12:33:30+00:00",
    )
    assert executed["executor_address"] == "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    assert executed["execution_tx_hash"] == f"0x{503:064x}"
    assert (executed["tx_hash"], executed["block_number"]) == (f"0x{3:064x}", "3")
    unknown = table[25]
    assert (unknown["token_out_decimals"], unknown["raw_units"]) == ("", "true")


async def test_csv_rows_match_the_json_list_of_the_same_user(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    listed = (await api.get(f"/users/{ALICE}/orders", params={"limit": 1000})).json()["orders"]
    table = _table(await api.get(f"/users/{ALICE}/orders.csv"))
    shared = ("user_address", "token_in", "token_out", "amount_in", "target_price",
              "min_amount_out", "order_type", "status", "created_at")  # fmt: skip
    assert [[str(o[name]) for name in ("id", *shared)] for o in listed] == [
        [row[name] for name in ("id", *shared)] for row in table
    ]


async def test_the_csv_takes_the_lists_filters_and_sorts(
    orders: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    executed = await api.get(
        f"/users/{ALICE}/orders.csv", params={"status": "executed", "sort": "oldest_executed"}
    )
    assert [int(row["id"]) for row in _table(executed)] == [3, 6, 9, 12, 15, 18, 21, 24]
    ranged = await api.get(
        f"/users/{ALICE}/orders.csv",
        params={"created_from": "2026-11-01T12:40:00Z", "created_to": "2026-11-01T12:43:00Z"},
    )
    assert [int(row["id"]) for row in _table(ranged)] == [12, 11, 10]
    nobody = await api.get(f"/users/0x{'1' * 40}/orders.csv")
    assert nobody.status_code == 200 and nobody.text == ",".join(csv_export.HEADER) + "\r\n"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/users/0x1234/orders.csv", {}),
        (f"/users/{ALICE}/orders.csv", {"status": "open"}),
        (f"/users/{ALICE}/orders.csv", {"sort": "cheapest"}),
        (f"/users/{ALICE}/orders.csv", {"token_in": ETH}),
        (f"/users/{ALICE}/orders.csv", {"created_from": "2026-12-02", "created_to": "2026-12-01"}),
    ],
)
async def test_bad_csv_parameters_are_a_json_400_before_any_row(
    orders: asyncpg.Pool, api: httpx.AsyncClient, path: str, query: dict[str, str]
) -> None:
    response = await api.get(path, params=query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}


async def test_the_csv_streams_one_batch_of_rows_at_a_time(
    orders: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_export, "BATCH", 4)
    found = listing.read(QueryParams(), None, ALICE)
    first = await queries.list_orders(
        orders, found.filter, queries.Page(4, 0), found.sort, queries.DETAIL_FIELDS
    )
    chunks = [chunk async for chunk in csv_export._batches(orders, found, first)]
    # The header, then 25 orders in batches of at most 4: seven chunks, no order twice.
    assert len(chunks) == 1 + 7
    ids = [int(line.split(b",")[0]) for chunk in chunks[1:] for line in chunk.splitlines()]
    assert ids == list(range(25, 0, -1))
    assert all(len(chunk.splitlines()) <= 4 for chunk in chunks[1:])


async def test_a_user_with_thousands_of_orders_gets_every_one_once(
    clean_db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    count = 2 * csv_export.BATCH + 7
    await clean_db.execute(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, updated_at, "
        "tx_hash, block_number) SELECT i, $2, $3, $3, 1, 1, 0, 'LIMIT', true, false, 'PENDING', "
        "now(), now(), '0x' || lpad(to_hex(i), 64, '0'), i FROM generate_series(1, $1) AS i",
        count,
        ALICE,
        ETH,
    )
    table = _table(await api.get(f"/users/{ALICE}/orders.csv", params={"sort": "oldest"}))
    assert [int(row["id"]) for row in table] == list(range(1, count + 1))
