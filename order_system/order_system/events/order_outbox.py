"""The processor's outbox writes: a batch's order messages (copied), releasing held ones
once confirmed, and retracting or dropping those of events a rollback removes.

A batch's messages are copied, not upserted (the cheaper statement on the processor's hot
path): a batch is applied at most once (its checkpoint and the order_events' unique key see
to it), and a rollback deletes the rows of the events it removes, so a fork given up and later
followed again writes its ids anew.

Why released order messages keep the outbox's id order (what the order API's live feed and
the relay rely on): one writer writes them, in chain order; a release frees every held message
up to a block, so the held ones left are all newer; a rollback that retracts a released
message deletes every held one above the ancestor first, and all of them lie above the
released ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg

from linkora_core import broker_messages, outbox
from order_system.events import announcements
from order_system.events.transitions import OrderRow

COLUMNS = ["message_id", "routing_key", "body", "held", "block_number"]
_NULL = "\\N"


def _text(value: str) -> str:
    """A JSON body in COPY's text format: orjson escapes every control character, so only a
    backslash (of such an escape) needs doubling."""
    return value.replace("\\", "\\\\") if "\\" in value else value


def records(messages: Sequence[outbox.Message]) -> bytes:
    """The messages as outbox COPY text rows in COLUMNS order (made while the previous batch
    writes)."""
    return "".join(
        f"{m.message_id}\t{m.routing_key}\t{_text(m.body)}\t{'t' if m.held else 'f'}\t"
        f"{_NULL if m.block_number is None else m.block_number}\n"
        for m in messages
    ).encode()


async def _source(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def write(
    connection: asyncpg.Connection, rows: bytes, messages: Sequence[outbox.Message]
) -> None:
    """Copies `rows` (`records(messages)`) into the outbox, in the caller's transaction. Ids
    already there (the order tables were reset and the chain indexed again, the outbox kept)
    fail the copy alone, in its savepoint: then the messages are added the slower way,
    skipping the ids already written (never announced twice)."""
    if not rows:
        return
    try:
        async with connection.transaction():
            await connection.copy_to_table(
                "outbox", source=_source(rows), columns=COLUMNS, format="text"
            )
    except asyncpg.UniqueViolationError:
        await outbox.add(connection, messages)


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
    """In the rollback's transaction, the removed events' messages are deleted: held ones
    were never announced; each other one (released, maybe published, maybe pruned already)
    gets an `orders.retracted` message, newest first, replacing an older retraction of the
    same event (a fork followed, given up, followed and given up again). A consumer may meet
    a retraction of an id it never received (released, then removed before the relay
    published it): there is nothing to undo. Returns how many were retracted."""
    ids = [broker_messages.order_event_id(chain_id, e.block_hash, e.log_index) for e in removed]
    dropped = {
        row["message_id"]
        for row in await connection.fetch(
            "DELETE FROM outbox WHERE message_id = ANY($1::text[]) RETURNING message_id, held",
            ids,
        )
        if row["held"]
    }
    retractions = [
        announcements.retraction(
            chain_id, event, users[event.order_id], rebuilt.get(event.order_id), decimals
        )
        for event, message_id in reversed(list(zip(removed, ids, strict=True)))
        if message_id not in dropped and event.order_id in users
    ]
    await connection.execute(
        "DELETE FROM outbox WHERE message_id = ANY($1::text[])", [m.message_id for m in retractions]
    )
    await outbox.add(connection, retractions)
    return len(retractions)
