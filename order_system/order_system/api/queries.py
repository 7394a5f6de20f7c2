"""The order API's SQL: every list is `ORDER BY id DESC` over an index of 0002 (keyset-able)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from linkora_core.db import Executor

ORDER_FIELDS = (
    "id, user_address, token_in, token_out, amount_in, target_price, min_amount_out, "
    "order_type, is_long, status, created_at, executed_at, "
    "din.decimals AS token_in_decimals, dout.decimals AS token_out_decimals, "
    "(din.token_address IS NOT NULL AND din.decimals IS NULL "
    " OR dout.token_address IS NOT NULL AND dout.decimals IS NULL) AS decimals_unknown"
)
# Each token's decimals beside the order; a NULL the indexer stored: unknown, the amounts are
# raw units.
ORDERS = (
    "orders LEFT JOIN token_decimals din ON din.token_address = token_in "
    "LEFT JOIN token_decimals dout ON dout.token_address = token_out"
)
DETAIL_FIELDS = (
    ORDER_FIELDS + ", self_executable, updated_at, tx_hash, block_number, executor_address, "
    "amount_out, execution_tx_hash"
)


@dataclass(frozen=True, slots=True)
class Filter:
    status: str | None = None
    user: str | None = None  # lowercase


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int
    before_id: int | None = None  # keyset cursor: only ids below it


def _where(flt: Filter, args: list[Any]) -> list[str]:
    clauses = []
    if flt.user is not None:
        args.append(flt.user)
        clauses.append(f"user_address = ${len(args)}")
    if flt.status is not None:
        args.append(flt.status)
        clauses.append(f"status = ${len(args)}")
    return clauses


async def list_orders(db: Executor, flt: Filter, page: Page) -> list[asyncpg.Record]:
    """Up to `limit + 1` rows: the extra one tells whether there is more."""
    args: list[Any] = []
    clauses = _where(flt, args)
    if page.before_id is not None:
        args.append(page.before_id)
        clauses.append(f"id < ${len(args)}")
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    args += [page.limit + 1, page.offset]
    sql = (
        f"SELECT {ORDER_FIELDS} FROM {ORDERS} {where}"
        f"ORDER BY id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}"
    )
    rows: list[asyncpg.Record] = await db.fetch(sql, *args)
    return rows


async def count_orders(db: Executor, flt: Filter) -> int:
    """From the trigger-kept order_counts (user '' holds the totals over every user)."""
    args: list[Any] = [flt.user or ""]
    sql = "SELECT coalesce(sum(n), 0)::bigint FROM order_counts WHERE user_address = $1"
    if flt.status is not None:
        args.append(flt.status)
        sql += " AND status = $2"
    return int(await db.fetchval(sql, *args))


async def order_details(db: Executor, order_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(
        f"SELECT {DETAIL_FIELDS} FROM {ORDERS} WHERE id = $1", order_id
    )
    return row


async def order_events(db: Executor, order_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT event_type, old_status, new_status, tx_hash, block_number, occurred_at, "
        "event_data FROM order_events WHERE order_id = $1 ORDER BY block_number, log_index",
        order_id,
    )
    return rows


async def statistics(db: Executor) -> list[asyncpg.Record]:
    """Per status: the total and those created in the last 24 hours."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT s.status, "
        "(SELECT coalesce(sum(n), 0)::bigint FROM order_counts c "
        " WHERE c.user_address = '' AND c.status = s.status) AS total, "
        "(SELECT count(*) FROM orders o WHERE o.status = s.status "
        " AND o.created_at >= now() - interval '24 hours') AS last_24h "
        "FROM unnest(ARRAY['PENDING', 'EXECUTED', 'CANCELLED']) AS s(status)"
    )
    return rows
