"""What a failed write means when the database is reachable.

Transient errors (out of disk or memory, read-only during a failover, deadlock, serialization
failure, lock or statement timeout) are waited out and the same rows written again. Anything
else is PostgreSQL refusing some rows: the batch is halved until each refused row stands
alone, the refused rows are reported (logged, counted for `/metrics`) and the rest stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from linkora_core.db import DATABASE_DOWN

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATE classes: 40 transaction rollback (40001, 40P01), 53 insufficient resources (53100
# disk full, 53200 out of memory, 53300 too many connections), 58 system error (I/O).
_TRANSIENT_CLASSES = frozenset({"40", "53", "58"})
# Read-only transaction (a standby during failover), lock not available, statement timeout.
_TRANSIENT_STATES = frozenset({"25006", "55P03", "57014"})


def transient(error: BaseException) -> bool:
    """True when writing the same rows again later may well succeed."""
    if isinstance(error, DATABASE_DOWN):
        return True
    if not isinstance(error, asyncpg.PostgresError):
        return False
    state = error.sqlstate or ""
    return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES


@dataclass
class Refusals:
    """Rows PostgreSQL refused, counted per path (backfill, live, audit)."""

    counts: Counter[str] = field(default_factory=Counter)

    def report(self, path: str, what: str, error: asyncpg.PostgresError) -> None:
        self.counts[path] += 1
        log.error(
            "%s: %s refused by the database, not stored: %s %s",
            path,
            what,
            error.sqlstate,
            error,
        )


async def write_isolating(
    write: Callable[[Sequence[T]], Awaitable[int]],
    rows: Sequence[T],
    refused: Callable[[T, asyncpg.PostgresError], None],
) -> int:
    """`write(rows)` (one transaction per call); refused rows are isolated by halving the
    batch and handed to `refused`. Outages and transient errors propagate to be retried."""
    if not rows:
        return 0
    try:
        return await write(rows)
    except asyncpg.PostgresError as error:
        if transient(error):
            raise
        if len(rows) == 1:
            refused(rows[0], error)
            return 0
    middle = len(rows) // 2
    return await write_isolating(write, rows[:middle], refused) + await write_isolating(
        write, rows[middle:], refused
    )
