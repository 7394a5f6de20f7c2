"""The outbox table (migration 0017): messages for the broker written in the transaction of
the data they announce, and the relay's reads and marks. Writers call `add` on the connection
of their own transaction; only the relay (outbox_relay) reads, marks and prunes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

NOTIFY_CHANNEL = "linkora_outbox"


@dataclass(frozen=True, slots=True)
class Message:
    """One message for the broker. `held` keeps it back until released (an order event
    awaiting its confirmation depth); `block_number` is the block of an order event."""

    message_id: str
    routing_key: str
    body: str
    held: bool = False
    block_number: int | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """A message as the relay reads it: its outbox row id, in publishing order."""

    id: int
    message_id: str
    routing_key: str
    body: str


async def add(connection: asyncpg.Connection, messages: Sequence[Message]) -> int:
    """Writes these messages in the caller's transaction; a message id already in the outbox
    is not written again. Returns how many were new."""
    if not messages:
        return 0
    status = await connection.execute(
        """
        INSERT INTO outbox (message_id, routing_key, body, held, block_number)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::bigint[])
        ON CONFLICT (message_id) DO NOTHING
        """,
        [m.message_id for m in messages],
        [m.routing_key for m in messages],
        [m.body for m in messages],
        [m.held for m in messages],
        [m.block_number for m in messages],
    )
    return int(status.split()[-1])


async def pending(connection: asyncpg.Connection, limit: int) -> list[Stored]:
    """The oldest messages to publish (written, released, not yet confirmed), in id order."""
    rows = await connection.fetch(
        """
        SELECT id, message_id, routing_key, body FROM outbox
        WHERE published_at IS NULL AND NOT held
        ORDER BY id LIMIT $1
        """,
        limit,
    )
    return [Stored(r["id"], r["message_id"], r["routing_key"], r["body"]) for r in rows]


async def mark_published(connection: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Records that the broker confirmed these messages."""
    await connection.execute(
        "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", list(ids)
    )


async def prune(connection: asyncpg.Connection, keep: timedelta) -> int:
    """Deletes messages confirmed longer ago than `keep`; returns how many."""
    status = await connection.execute(
        "DELETE FROM outbox WHERE published_at < now() - $1::interval", keep
    )
    return int(status.split()[-1])


async def backlog(connection: asyncpg.Connection) -> int:
    """Messages written and released but not yet confirmed by the broker."""
    count = await connection.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND NOT held"
    )
    return int(count)
