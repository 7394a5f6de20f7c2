"""The processor's writes: one transaction per applied batch or rollback, checkpoint included.

Functions take the writer's connection (the one holding the advisory lock), so tests can run
them inside a transaction of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from order_system.events.chain import Header
from order_system.events.transitions import EventRow, OrderRow, rebuild
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
    new_order_ids: frozenset[int] = frozenset()  # not in the table yet: written with COPY


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


def _event_record(event: EventRow) -> tuple[Any, ...]:
    return (
        event.order_id,
        event.event_type,
        event.old_status,
        event.new_status,
        event.tx_hash,
        event.block_number,
        event.block_hash,
        event.log_index,
        event.occurred_at,
        orjson.dumps(event.event_data).decode(),
        None if event.snapshot is None else orjson.dumps(event.snapshot).decode(),
    )


async def _upsert_orders(connection: asyncpg.Connection, orders: Sequence[OrderRow]) -> None:
    if orders:
        columns = zip(*orders, strict=True)  # an OrderRow is a tuple in column order
        await connection.execute(_UPSERT_ORDERS, *(list(column) for column in columns))


async def _check_checkpoint(connection: asyncpg.Connection, expected: int) -> None:
    value = await get(connection, CHECKPOINT_KEY, lock=True)
    found = None if value is None else int(value["block"])
    if found is not None and found != expected:
        raise CheckpointMoved(f"checkpoint is at block {found}, this writer expected {expected}")


async def write_batch(connection: asyncpg.Connection, batch: Batch, keep_hashes: int) -> None:
    """Apply one contiguous block range: orders, events, dedupe rows, hashes and checkpoint."""
    async with connection.transaction():
        await _check_checkpoint(connection, batch.start - 1)
        if batch.decimals:
            await connection.executemany(
                "INSERT INTO token_decimals (token_address, decimals) VALUES ($1, $2) "
                "ON CONFLICT (token_address) DO NOTHING",
                list(batch.decimals.items()),
            )
        if batch.events:
            await connection.copy_records_to_table(
                "processed_events",
                columns=["block_hash", "log_index", "block_number", "tx_hash"],
                records=[
                    (e.block_hash, e.log_index, e.block_number, e.tx_hash) for e in batch.events
                ],
            )
            await connection.copy_records_to_table(
                "order_events",
                columns=EVENT_COLUMNS,
                records=[_event_record(e) for e in batch.events],
            )
        new = [order for order in batch.orders if order.id in batch.new_order_ids]
        if new:
            await connection.copy_records_to_table(
                "orders",
                columns=ORDER_COLUMNS,
                records=new,  # an OrderRow is a tuple in column order
            )
        await _upsert_orders(
            connection, [order for order in batch.orders if order.id not in batch.new_order_ids]
        )
        if batch.headers:
            await connection.executemany(
                "INSERT INTO block_hashes (block_number, block_hash, parent_hash) "
                "VALUES ($1, $2, $3) ON CONFLICT (block_number) DO UPDATE "
                "SET block_hash = EXCLUDED.block_hash, parent_hash = EXCLUDED.parent_hash",
                [(h.number, h.hash, h.parent_hash) for h in batch.headers],
            )
        await connection.execute(
            "DELETE FROM block_hashes WHERE block_number < $1", batch.end - keep_hashes
        )
        await _set_state(connection, CHECKPOINT_KEY, Checkpoint(batch.end, batch.end_hash).value())


def _event_row(row: asyncpg.Record) -> EventRow:
    values = dict(row)
    values["event_data"] = orjson.loads(values["event_data"])
    snapshot = values["snapshot"]
    values["snapshot"] = None if snapshot is None else orjson.loads(snapshot)
    return EventRow(**values)


async def rollback(connection: asyncpg.Connection, ancestor: int, ancestor_hash: str) -> int:
    """Undo everything above block `ancestor` in one transaction; returns orders touched.

    Orders with events above the ancestor are rebuilt from the events that remain, or deleted
    when none remain."""
    async with connection.transaction():
        ids = [
            row["order_id"]
            for row in await connection.fetch(
                "SELECT DISTINCT order_id FROM order_events WHERE block_number > $1", ancestor
            )
        ]
        await connection.execute("DELETE FROM order_events WHERE block_number > $1", ancestor)
        await connection.execute("DELETE FROM processed_events WHERE block_number > $1", ancestor)
        await connection.execute("DELETE FROM block_hashes WHERE block_number > $1", ancestor)
        remaining = await connection.fetch(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM order_events "
            "WHERE order_id = ANY($1::bigint[]) ORDER BY order_id, block_number, log_index",
            ids,
        )
        by_order: dict[int, list[EventRow]] = {order_id: [] for order_id in ids}
        for row in remaining:
            by_order[row["order_id"]].append(_event_row(row))
        rebuilt = [order for events in by_order.values() if (order := rebuild(events))]
        gone = [order_id for order_id, events in by_order.items() if not events]
        await connection.execute("DELETE FROM orders WHERE id = ANY($1::bigint[])", gone)
        await _upsert_orders(connection, rebuilt)
        await _set_state(connection, CHECKPOINT_KEY, Checkpoint(ancestor, ancestor_hash).value())
    return len(ids)
