"""The processor's own outbox writes besides a batch's messages: releasing held order
messages once confirmed, and retracting or dropping those of events a rollback removes.

Why released order messages keep the outbox's id order (what the order API's live feed and
the relay rely on): one writer writes them, in chain order; a release frees every held message
up to a block, so the held ones left are all newer; a rollback that retracts a released
message deletes every held one above the ancestor first, and all of them lie above the
released ones."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from linkora_core import broker_messages, outbox
from order_system.events import announcements
from order_system.events.transitions import OrderRow


async def release(connection: asyncpg.Connection, up_to_block: int | None) -> int:
    """Releases the held order messages of blocks up to `up_to_block` (None: all of them) for
    publishing; returns how many. One statement, only when there is something to release (an
    UPDATE wakes the relay even when it changes nothing)."""
    limit = (1 << 62) if up_to_block is None else up_to_block
    if not await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE held AND block_number <= $1)", limit
    ):
        return 0
    status = await connection.execute(
        "UPDATE outbox SET held = false WHERE held AND block_number <= $1", limit
    )
    return int(status.split()[-1])


async def retract(
    connection: asyncpg.Connection,
    chain_id: int,
    removed: Sequence[announcements.Removed],
    users: dict[int, str],
    rebuilt: dict[int, OrderRow],
    decimals: dict[str, int | None],
) -> int:
    """In the rollback's transaction: the held messages of the removed events are deleted
    (never announced); each other removed event (released, maybe published and pruned) gets an
    `orders.retracted` message, newest first. Returns how many were retracted."""
    ids = [broker_messages.order_event_id(chain_id, e.block_hash, e.log_index) for e in removed]
    dropped = {
        row["message_id"]
        for row in await connection.fetch(
            "DELETE FROM outbox WHERE held AND message_id = ANY($1::text[]) RETURNING message_id",
            ids,
        )
    }
    retractions = [
        announcements.retraction(
            chain_id, event, users[event.order_id], rebuilt.get(event.order_id), decimals
        )
        for event, message_id in reversed(list(zip(removed, ids, strict=True)))
        if message_id not in dropped and event.order_id in users
    ]
    await outbox.add(connection, retractions)
    return len(retractions)
