"""The processor's writes: one transaction per applied batch or rollback, checkpoint included.

Functions take the writer's connection (the one holding the advisory lock), so tests can run
them inside a transaction of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from linkora_core import outbox
from order_system.events import announcements, order_outbox
from order_system.events.chain import Header
from order_system.events.transitions import UPDATED_COLUMNS, EventRow, OrderRow, rebuild
from order_system.indexer_state import (
    ALERT_KEY,
    CHAIN_KEY,
    CHECKPOINT_KEY,
    HALT_KEY,
    Checkpoint,
    get,
    message,
    message_value,
)

ORDER_COLUMNS = list(OrderRow._fields)
EVENT_COLUMNS = list(EventRow._fields)

_ORDER_TYPES = {
    "id": "bigint",
    "amount_in": "numeric",
    "target_price": "numeric",
    "min_amount_out": "numeric",
    "is_long": "boolean",
    "self_executable": "boolean",
    "created_at": "timestamptz",
    "executed_at": "timestamptz",
    "updated_at": "timestamptz",
    "block_number": "bigint",
    "amount_out": "numeric",
}
# One statement for the whole batch (column arrays through unnest): fast, and the order_counts
# triggers run once per batch.
_UPSERT_ORDERS = (
    f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{_ORDER_TYPES.get(c, 'text')}[]" for i, c in enumerate(ORDER_COLUMNS, 1))
    + ") ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "id")
)


class CheckpointMoved(RuntimeError):
    """The stored checkpoint is not where this writer expected it: another writer ran."""


@dataclass(frozen=True, slots=True)
class Batch:
    start: int
    end: int
    orders: Sequence[OrderRow]
    events: Sequence[EventRow]
    headers: Sequence[Header]
    decimals: dict[str, int | None]
    end_hash: str
    new_order_ids: frozenset[int] = frozenset()  # not in the table yet: inserted
    # `event_records(events)` when the caller made them already (empty: made here)
    event_records: bytes = b""
    # `order_arrays(orders, new_order_ids)` when the caller made them already (None: made here)
    order_arrays: OrderArrays | None = None
    # The events' outbox messages (announcements.event_messages) and their COPY rows
    # (order_outbox.records), written in the batch's transaction; empty: none.
    messages: Sequence[outbox.Message] = ()
    outbox_records: bytes = b""


@dataclass(frozen=True, slots=True)
class OrderArrays:
    """What the orders' statements send: the orders to insert as COPY text (empty: none) and
    the column arrays of stored orders to update (id and UPDATED_COLUMNS; empty: none)."""

    new: bytes
    stored: list[list[Any]]


def order_arrays(orders: Sequence[OrderRow], new_ids: frozenset[int]) -> OrderArrays:
    """Made while the previous batch writes, so the write sends its statements at once."""
    new = [order for order in orders if order.id in new_ids]
    stored = [order for order in orders if order.id not in new_ids]
    return OrderArrays(copy_text(new), _columns(stored, _UPDATED_FIELDS) if stored else [])


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str | None) -> str:
    """A text column in COPY's text format (node-supplied strings are escaped, not trusted)."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def copy_text(orders: Sequence[OrderRow]) -> bytes:
    """`orders` as COPY text rows in ORDER_COLUMNS order. Cheaper to make than asyncpg's binary
    rows (a Decimal's binary form is built digit by digit); PostgreSQL parses the decimal
    strings exactly."""
    times: dict[datetime, str] = {}  # a block's orders share their times

    def time(at: datetime | None) -> str:
        if at is None:
            return "\\N"
        text = times.get(at)
        if text is None:
            text = times[at] = at.isoformat()
        return text

    def number(value: Decimal | None) -> str:
        return "\\N" if value is None else str(value)

    lines = [
        f"{o.id}\t{_text(o.user_address)}\t{_text(o.token_in)}\t{_text(o.token_out)}\t"
        f"{o.amount_in}\t{o.target_price}\t{o.min_amount_out}\t{_text(o.order_type)}\t"
        f"{'t' if o.is_long else 'f'}\t{'t' if o.self_executable else 'f'}\t{_text(o.status)}\t"
        f"{time(o.created_at)}\t{time(o.executed_at)}\t{time(o.updated_at)}\t"
        f"{_text(o.tx_hash)}\t{o.block_number}\t{_text(o.executor_address)}\t"
        f"{number(o.amount_out)}\t{_text(o.execution_tx_hash)}\n"
        for o in orders
    ]
    return "".join(lines).encode()


async def _copy_source(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _set_state(connection: asyncpg.Connection, key: str, value: Any) -> None:
    await connection.execute(
        "INSERT INTO system_state (key, value, updated_at) VALUES ($1, $2::jsonb, now()) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        key,
        orjson.dumps(value).decode(),
    )


async def load_checkpoint(connection: asyncpg.Connection) -> Checkpoint | None:
    value = await get(connection, CHECKPOINT_KEY)
    return None if value is None else Checkpoint.from_value(value)


async def load_chain_identity(connection: asyncpg.Connection) -> dict[str, Any] | None:
    value: dict[str, Any] | None = await get(connection, CHAIN_KEY)
    return value


async def save_chain_identity(connection: asyncpg.Connection, identity: dict[str, Any]) -> None:
    await _set_state(connection, CHAIN_KEY, identity)


async def save_alert(connection: asyncpg.Connection, text: str | None) -> None:
    if text is None:
        await connection.execute("DELETE FROM system_state WHERE key = $1", ALERT_KEY)
    else:
        await _set_state(connection, ALERT_KEY, message_value(text))


async def save_halt(connection: asyncpg.Connection, text: str) -> None:
    async with connection.transaction():
        await _set_state(connection, HALT_KEY, message_value(text))
        await _set_state(connection, ALERT_KEY, message_value(text))


async def load_halt(connection: asyncpg.Connection) -> str | None:
    value = await get(connection, HALT_KEY)
    return None if value is None else message(value)


async def clear_halt(connection: asyncpg.Connection) -> str | None:
    """Lift a halt and its alert; returns the halt's message (None: it was not halted)."""
    async with connection.transaction():
        value = await connection.fetchval(
            "DELETE FROM system_state WHERE key = $1 RETURNING value", HALT_KEY
        )
        await connection.execute("DELETE FROM system_state WHERE key = $1", ALERT_KEY)
    return None if value is None else message(orjson.loads(value))


async def load_decimals(connection: asyncpg.Connection) -> dict[str, int | None]:
    """Each token's decimals; None: unknown (its amounts are stored raw)."""
    rows = await connection.fetch("SELECT token_address, decimals FROM token_decimals")
    return {row["token_address"]: row["decimals"] for row in rows}


async def load_orders(connection: asyncpg.Connection, ids: Iterable[int]) -> dict[int, OrderRow]:
    rows = await connection.fetch(
        f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE id = ANY($1::bigint[])", list(ids)
    )
    return {row["id"]: OrderRow(*row) for row in rows}  # selected in column order


async def stored_hashes(connection: asyncpg.Connection) -> dict[int, str]:
    rows = await connection.fetch("SELECT block_number, block_hash FROM block_hashes")
    return {row["block_number"]: row["block_hash"] for row in rows}


async def _upsert_orders(connection: asyncpg.Connection, orders: Sequence[OrderRow]) -> None:
    if orders:
        columns = zip(*orders, strict=True)  # an OrderRow is a tuple in column order
        await connection.execute(_UPSERT_ORDERS, *(list(column) for column in columns))


# The writer's transaction commits without waiting for the WAL flush: the checkpoint commits
# with the data it covers, so a crash can only lose whole batches at the end, which the
# processor applies again from the checkpoint that survived (the index is derived data).
_LOCK_CHECKPOINT = (
    "SELECT set_config('synchronous_commit', 'off', true), "
    "(SELECT value FROM system_state WHERE key = $1 FOR UPDATE)"
)
# A batch's small writes in one statement: its decimals, the window's block hashes (callers
# leave out those below it, since a statement's parts do not see each other's rows) and the
# checkpoint.
_WRITE_TAIL = """
WITH decimals AS (
    INSERT INTO token_decimals (token_address, decimals)
    SELECT * FROM unnest($1::text[], $2::smallint[])
    ON CONFLICT (token_address) DO NOTHING
), hashes AS (
    INSERT INTO block_hashes (block_number, block_hash, parent_hash)
    SELECT * FROM unnest($3::bigint[], $4::text[], $5::text[])
    ON CONFLICT (block_number) DO UPDATE
    SET block_hash = EXCLUDED.block_hash, parent_hash = EXCLUDED.parent_hash
), expired AS (
    DELETE FROM block_hashes WHERE block_number < $6
)
INSERT INTO system_state (key, value, updated_at) VALUES ($7, $8::jsonb, now())
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


# Orders already stored change only in these columns (see transitions.UPDATED_COLUMNS): an
# UPDATE of them sends and checks less than an upsert of whole rows.
def _wire_type(column: str) -> str:
    kind = _ORDER_TYPES.get(column, "text")
    return "text" if kind == "numeric" else kind


def _value(column: str, source: str) -> str:
    return f"{source}::numeric" if _ORDER_TYPES.get(column) == "numeric" else source


_UPDATE_ORDERS = (
    "UPDATE orders o SET "
    + ", ".join(f"{c} = {_value(c, 'u.' + c)}" for c in UPDATED_COLUMNS)
    + " FROM unnest("
    + ", ".join(f"${i}::{_wire_type(c)}[]" for i, c in enumerate(("id", *UPDATED_COLUMNS), 1))
    + f") AS u(id, {', '.join(UPDATED_COLUMNS)}) WHERE o.id = u.id"
)
_UPDATED_FIELDS = [ORDER_COLUMNS.index(c) for c in ("id", *UPDATED_COLUMNS)]
# Numeric columns travel as decimal text (cast by PostgreSQL, exact): asyncpg's binary numeric
# encoding of a Decimal costs several microseconds a value on the writer's critical path.
_NUMERIC_FIELDS = frozenset(
    ORDER_COLUMNS.index(c) for c, kind in _ORDER_TYPES.items() if kind == "numeric"
)


async def _check_checkpoint(connection: asyncpg.Connection, expected: int) -> None:
    row = await connection.fetchrow(_LOCK_CHECKPOINT, CHECKPOINT_KEY)
    value = None if row is None or row[1] is None else orjson.loads(row[1])
    found = None if value is None else int(value["block"])
    if found is not None and found != expected:
        raise CheckpointMoved(f"checkpoint is at block {found}, this writer expected {expected}")


def _columns(orders: Sequence[OrderRow], fields: Sequence[int]) -> list[list[Any]]:
    """Column arrays of these fields, numeric ones as decimal strings."""
    return [
        [None if (v := order[field]) is None else str(v) for order in orders]
        if field in _NUMERIC_FIELDS
        else [order[field] for order in orders]
        for field in fields
    ]


async def _insert_orders(connection: asyncpg.Connection, rows: bytes) -> None:
    if rows:
        await connection.copy_to_table(
            "orders", source=_copy_source(rows), columns=ORDER_COLUMNS, format="text"
        )


async def _update_orders(connection: asyncpg.Connection, columns: list[list[Any]]) -> None:
    if not columns:
        return
    status = await connection.execute(_UPDATE_ORDERS, *columns)
    if status != f"UPDATE {len(columns[0])}":
        raise RuntimeError(f"{status} of {len(columns[0])} stored orders: some were not stored")


def event_records(events: Sequence[EventRow]) -> bytes:
    """The order_events rows as COPY text, in EVENT_COLUMNS order (see `copy_text`)."""
    times: dict[datetime, str] = {}
    lines = []
    for e in events:
        at = times.get(e.occurred_at)
        if at is None:
            at = times[e.occurred_at] = e.occurred_at.isoformat()
        snapshot = "\\N" if e.snapshot is None else _text(orjson.dumps(e.snapshot).decode())
        lines.append(
            f"{e.order_id}\t{_text(e.event_type)}\t{_text(e.old_status)}\t"
            f"{_text(e.new_status)}\t{_text(e.tx_hash)}\t{e.block_number}\t"
            f"{_text(e.block_hash)}\t{e.log_index}\t{at}\t"
            f"{_text(orjson.dumps(e.event_data).decode())}\t{snapshot}\n"
        )
    return "".join(lines).encode()


async def write_batch(connection: asyncpg.Connection, batch: Batch, keep_hashes: int) -> None:
    """Apply one contiguous block range: orders, events, hashes and checkpoint."""
    async with connection.transaction():
        await _check_checkpoint(connection, batch.start - 1)
        if batch.events:  # UNIQUE (block_hash, log_index): a log is applied at most once
            await connection.copy_to_table(
                "order_events",
                source=_copy_source(batch.event_records or event_records(batch.events)),
                columns=EVENT_COLUMNS,
                format="text",
            )
        arrays = batch.order_arrays or order_arrays(batch.orders, batch.new_order_ids)
        await _insert_orders(connection, arrays.new)
        await _update_orders(connection, arrays.stored)
        await order_outbox.write(connection, batch.outbox_records, batch.messages)
        oldest = batch.end - keep_hashes
        headers = [h for h in batch.headers if h.number >= oldest]
        await connection.execute(
            _WRITE_TAIL,
            list(batch.decimals),
            list(batch.decimals.values()),
            [h.number for h in headers],
            [h.hash for h in headers],
            [h.parent_hash for h in headers],
            oldest,
            CHECKPOINT_KEY,
            orjson.dumps(Checkpoint(batch.end, batch.end_hash).value()).decode(),
        )


def _event_row(row: asyncpg.Record) -> EventRow:
    values = dict(row)
    values["event_data"] = orjson.loads(values["event_data"])
    snapshot = values["snapshot"]
    values["snapshot"] = None if snapshot is None else orjson.loads(snapshot)
    return EventRow(**values)


async def rollback(
    connection: asyncpg.Connection, ancestor: int, ancestor_hash: str, chain_id: int
) -> tuple[int, int]:
    """Undo everything above block `ancestor` in one transaction; returns the orders touched
    and the order messages retracted.

    Orders with events above the ancestor are rebuilt from the events that remain, or deleted
    when none remain. The removed events' messages are retracted or dropped
    (order_outbox.retract)."""
    async with connection.transaction():
        removed = [
            announcements.Removed(*row)
            for row in await connection.fetch(
                "SELECT order_id, event_type, tx_hash, block_number, block_hash, log_index "
                "FROM order_events WHERE block_number > $1 ORDER BY block_number, log_index",
                ancestor,
            )
        ]
        ids = list(dict.fromkeys(event.order_id for event in removed))
        users = {
            row["id"]: row["user_address"]
            for row in await connection.fetch(
                "SELECT id, user_address FROM orders WHERE id = ANY($1::bigint[])", ids
            )
        }
        await connection.execute("DELETE FROM order_events WHERE block_number > $1", ancestor)
        await connection.execute("DELETE FROM block_hashes WHERE block_number > $1", ancestor)
        remaining = await connection.fetch(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM order_events "
            "WHERE order_id = ANY($1::bigint[]) ORDER BY order_id, block_number, log_index",
            ids,
        )
        by_order: dict[int, list[EventRow]] = {order_id: [] for order_id in ids}
        for row in remaining:
            by_order[row["order_id"]].append(_event_row(row))
        rebuilt = {
            order_id: order for order_id, events in by_order.items() if (order := rebuild(events))
        }
        gone = [order_id for order_id, events in by_order.items() if not events]
        await connection.execute("DELETE FROM orders WHERE id = ANY($1::bigint[])", gone)
        await _upsert_orders(connection, list(rebuilt.values()))
        retracted = await order_outbox.retract(
            connection, chain_id, removed, users, rebuilt, await load_decimals(connection)
        )
        await _set_state(connection, CHECKPOINT_KEY, Checkpoint(ancestor, ancestor_hash).value())
    return len(ids), retracted
