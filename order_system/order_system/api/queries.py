"""The order API's SQL. Every list is ordered by a key ending in id (`id DESC` unless a sort is
asked for) over an index of 0002 or 0009, so each page is an index range after a keyset."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
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
    """What a list holds; addresses and hashes lowercase, time ranges half-open [from, to)."""

    status: str | None = None
    user: str | None = None
    token_in: str | None = None  # with token_out: one token pair, in this direction
    token_out: str | None = None
    tx_hash: str | None = None  # the creating or the executing transaction
    executor: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    executed_from: datetime | None = None
    executed_to: datetime | None = None

    @property
    def legacy(self) -> bool:
        """Only the filters every list had before 0009 (status and user)."""
        return all(
            getattr(self, f.name) is None for f in fields(self) if f.name not in ("status", "user")
        )

    @property
    def created_range(self) -> bool:
        return self.created_from is not None or self.created_to is not None


@dataclass(frozen=True, slots=True)
class Sort:
    """The order of a list: by `column` (`id`, `created_at` or `executed_at`), then id."""

    column: str = "id"
    descending: bool = True


NEWEST = Sort()


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int
    before_id: int | None = None  # keyset cursor: only ids below it (sort NEWEST)
    # Keyset after this (sort value, id) in the page's sort; the value is None for `id`.
    after: tuple[datetime | None, int] | None = None


_COLUMNS = (
    ("user", "user_address = {}"),
    ("status", "status = {}"),
    ("token_in", "token_in = {}"),
    ("token_out", "token_out = {}"),
    ("executor", "executor_address = {}"),
    ("created_from", "created_at >= {}"),
    ("created_to", "created_at < {}"),
    ("executed_from", "executed_at >= {}"),
    ("executed_to", "executed_at < {}"),
)


def _where(flt: Filter, args: list[Any]) -> list[str]:
    clauses = []
    for name, clause in _COLUMNS:
        value = getattr(flt, name)
        if value is not None:
            args.append(value)
            clauses.append(clause.format(f"${len(args)}"))
    if flt.tx_hash is not None:
        args.append(flt.tx_hash)
        clauses.append(f"(tx_hash = ${len(args)} OR execution_tx_hash = ${len(args)})")
    return clauses


def _keyset(sort: Sort, page: Page, args: list[Any]) -> list[str]:
    if page.before_id is not None:
        args.append(page.before_id)
        return [f"id < ${len(args)}"]
    if page.after is None:
        return []
    value, after_id = page.after
    side = "<" if sort.descending else ">"
    if sort.column == "id":
        args.append(after_id)
        return [f"id {side} ${len(args)}"]
    args += [value, after_id]
    return [f"({sort.column}, id) {side} (${len(args) - 1}, ${len(args)})"]


def _order_by(sort: Sort) -> str:
    direction = " DESC" if sort.descending else ""
    keys = ["id"] if sort.column == "id" else [sort.column, "id"]
    return ", ".join(key + direction for key in keys)


def select(flt: Filter, sort: Sort, page: Page, columns: str = "") -> tuple[str, list[Any]]:
    """The page's SQL and arguments: up to `limit + 1` rows of `columns` (the order's)."""
    args: list[Any] = []
    clauses = _where(flt, args) + _keyset(sort, page, args)
    if sort.column == "executed_at":
        clauses.append("executed_at IS NOT NULL")  # the partial index's predicate
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    args += [page.limit + 1, page.offset]
    sql = (
        f"SELECT {columns or ORDER_FIELDS} FROM {ORDERS} {where}"
        f"ORDER BY {_order_by(sort)} LIMIT ${len(args) - 1} OFFSET ${len(args)}"
    )
    return sql, args


async def list_orders(
    db: Executor, flt: Filter, page: Page, sort: Sort = NEWEST, columns: str = ""
) -> list[asyncpg.Record]:
    """Up to `limit + 1` rows: the extra one tells whether there is more."""
    sql, args = select(flt, sort, page, columns)
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
