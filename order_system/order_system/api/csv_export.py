"""`GET /users/{address}/orders.csv`: a user's orders as CSV, streamed in keyset batches (one
query per batch, no connection held between them), so a user with a million orders costs one
batch of memory. The list's filters and sorts apply; bad ones are a 400 before any byte."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import StreamingResponse

from linkora_core.decimals import to_plain
from order_system.addresses import checksum
from order_system.api import listing, params, queries
from order_system.api.listing import ListQuery

BATCH = 1000
HEADER = (
    "id",
    "user_address",
    "token_in",
    "token_out",
    "amount_in",
    "target_price",
    "min_amount_out",
    "amount_out",
    "order_type",
    "is_long",
    "self_executable",
    "status",
    "created_at",
    "executed_at",
    "updated_at",
    "tx_hash",
    "block_number",
    "executor_address",
    "execution_tx_hash",
    "token_in_decimals",
    "token_out_decimals",
    "raw_units",
)
_ADDRESSES = {"user_address", "token_in", "token_out", "executor_address"}
MEDIA_TYPE = "text/csv; charset=utf-8"


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in _ADDRESSES:
        return checksum(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if name.startswith(("amount", "target", "min_amount")):
        return to_plain(value)
    if name.endswith("_at"):
        return str(value.isoformat())
    return str(value)


def row(record: asyncpg.Record) -> list[str]:
    """One order as CSV cells: plain decimals, ISO times, checksummed addresses, empty for
    null. `raw_units` is true when an amount is in raw units (a token's decimals unknown: its
    `*_decimals` cell is empty)."""
    values = {name: record[name] for name in HEADER if name != "raw_units"}
    values["raw_units"] = record["decimals_unknown"]
    return [_cell(name, values[name]) for name in HEADER]


def _lines(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def _after(found: ListQuery, record: asyncpg.Record) -> queries.Page:
    column = found.sort.column
    return queries.Page(BATCH, 0, after=(None if column == "id" else record[column], record["id"]))


async def _batches(
    pool: asyncpg.Pool, found: ListQuery, first: list[asyncpg.Record]
) -> AsyncIterator[bytes]:
    yield _lines([HEADER])
    rows = first
    while True:
        yield _lines([row(record) for record in rows[:BATCH]])
        if len(rows) <= BATCH:
            return
        page = _after(found, rows[BATCH - 1])
        rows = await queries.list_orders(
            pool, found.filter, page, found.sort, queries.DETAIL_FIELDS
        )


async def user_orders_csv(request: Request) -> StreamingResponse:
    user = params.address(request.path_params["address"])
    found = listing.read(request.query_params, params.status(request.query_params), user)
    pool: asyncpg.Pool = request.app.state.pool
    # The first batch is read before the response starts: a database away is still a 503.
    first = await queries.list_orders(
        pool, found.filter, queries.Page(BATCH, 0), found.sort, queries.DETAIL_FIELDS
    )
    filename = f"orders-{checksum(user)}.csv"
    return StreamingResponse(
        _batches(pool, found, first),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
