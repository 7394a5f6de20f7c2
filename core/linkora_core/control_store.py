"""The desired state of the platform (migration 0015): which markets are collected, which
exchanges are switched off, which settings were changed at runtime, and the audit log of every
change. The api-server's /admin API writes it; each collector reads it at start and again on
every NOTIFY on `CHANNEL`, which each change sends from its own transaction (so a listener
never reads a change before it is committed)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from linkora_core.db import Executor
from linkora_core.markets import Exchange, Market, venue_of_key

log = logging.getLogger(__name__)

CHANNEL: Final = "linkora_control"
# The settings an operator may change at runtime, and the type each one's text must parse to.
SETTINGS: Final[Mapping[str, type[int] | type[float]]] = {
    "orderbook_levels": int,
    "orderbook_store_interval": float,
    "ws_update_interval": float,
    "audit_interval": float,
}

# The book depths a collector keeps and publishes (the collector's ORDERBOOK_LEVELS choices).
BOOK_LEVELS: Final = (5, 10, 20)
# Seconds an interval may be set to at runtime besides 0 (every update, every book, or no
# audit): far enough from 0 that no loop spins, and from infinity that no timer overflows.
INTERVALS: Final[Mapping[str, tuple[float, float]]] = {
    "orderbook_store_interval": (0.1, 3600.0),
    "ws_update_interval": (0.05, 60.0),
    "audit_interval": (1.0, 86_400.0),
}


@dataclass(frozen=True, slots=True)
class DesiredMarket:
    market: Market
    start_ms: int | None  # None: the collector's START_DATE
    added_at: datetime
    added_by: str


async def seed_markets(executor: Executor, markets: Iterable[Market], actor: str) -> None:
    """Record the environment's markets the first time they are seen (a market an operator
    removed stays removed)."""
    rows = [(m.venue.key, m.symbol, actor) for m in markets]
    if rows:
        await executor.executemany(
            """INSERT INTO control_markets (venue, symbol, added_by) VALUES ($1, $2, $3)
               ON CONFLICT (venue, symbol) DO NOTHING""",
            rows,
        )


async def desired_markets(executor: Executor) -> list[DesiredMarket]:
    """The markets to collect, oldest first, without those of a disabled exchange."""
    rows = await executor.fetch(
        """SELECT m.venue, m.symbol, m.added_at, m.added_by,
                  (extract(epoch FROM m.start_date) * 1000)::bigint AS start_ms
           FROM control_markets m
           WHERE m.removed_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM control_exchanges e
                             WHERE e.exchange = split_part(m.venue, '-', 1) AND NOT e.enabled)
           ORDER BY m.added_at, m.venue, m.symbol"""
    )
    return [
        DesiredMarket(
            Market(venue_of_key(r["venue"]), r["symbol"]),
            None if r["start_ms"] is None else int(r["start_ms"]),
            r["added_at"],
            r["added_by"],
        )
        for r in rows
    ]


async def all_markets(executor: Executor) -> list[asyncpg.Record]:
    """Every market ever configured, removed ones included (for the admin listing)."""
    return list(
        await executor.fetch(
            """SELECT venue, symbol, start_date, added_at, added_by, removed_at, updated_at
               FROM control_markets ORDER BY venue, symbol"""
        )
    )


async def add_market(
    connection: asyncpg.Connection, market: Market, start: datetime | None, actor: str
) -> bool:
    """Collect `market` (again, if it was removed); False when it is collected already.
    Call inside a transaction; it notifies on commit."""
    status = await connection.execute(
        """INSERT INTO control_markets (venue, symbol, start_date, added_by)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (venue, symbol) DO UPDATE
               SET start_date = EXCLUDED.start_date, added_by = EXCLUDED.added_by,
                   added_at = now(), removed_at = NULL, updated_at = now()
               WHERE control_markets.removed_at IS NOT NULL""",
        market.venue.key, market.symbol, start, actor,
    )  # fmt: skip
    changed: bool = status.endswith(" 1")
    if changed:
        await notify(connection, {"change": "markets"})
    return changed


async def remove_market(connection: asyncpg.Connection, market: Market) -> bool:
    """Stop collecting `market` (its stored data stays); False when it was not collected."""
    status = await connection.execute(
        """UPDATE control_markets SET removed_at = now(), updated_at = now()
           WHERE venue = $1 AND symbol = $2 AND removed_at IS NULL""",
        market.venue.key, market.symbol,
    )  # fmt: skip
    changed: bool = status.endswith(" 1")
    if changed:
        await notify(connection, {"change": "markets"})
    return changed


async def disabled_exchanges(executor: Executor) -> set[Exchange]:
    rows = await executor.fetch("SELECT exchange FROM control_exchanges WHERE NOT enabled")
    return {Exchange(r["exchange"]) for r in rows}


async def set_exchange_enabled(
    connection: asyncpg.Connection, exchange: Exchange, enabled: bool
) -> None:
    await connection.execute(
        """INSERT INTO control_exchanges (exchange, enabled) VALUES ($1, $2)
           ON CONFLICT (exchange) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()""",
        exchange.value, enabled,
    )  # fmt: skip
    await notify(connection, {"change": "exchanges"})


def parse_setting(name: str, text: str) -> int | float:
    """A runtime setting's value from its text; ValueError for an unknown name or a value
    out of range (book levels 5, 10 or 20, the depth streams' sizes; intervals 0 or within
    INTERVALS)."""
    kind = SETTINGS.get(name)
    if kind is None:
        raise ValueError(f"unknown setting {name!r}; one of {sorted(SETTINGS)}")
    try:
        value: int | float = kind(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite")
    if name == "orderbook_levels" and value not in BOOK_LEVELS:
        raise ValueError(f"{name} must be one of {', '.join(map(str, BOOK_LEVELS))}")
    if value < 0:
        raise ValueError(f"{name} must be 0 or more")
    if name in INTERVALS and value != 0:
        low, high = INTERVALS[name]
        if not low <= value <= high:
            raise ValueError(f"{name} must be 0 or between {low:g} and {high:g} seconds")
    return value


async def runtime_settings(executor: Executor) -> dict[str, int | float]:
    """The settings changed at runtime (a name missing keeps its environment value)."""
    rows = await executor.fetch("SELECT name, value FROM control_settings")
    out: dict[str, int | float] = {}
    for row in rows:
        try:
            out[row["name"]] = parse_setting(row["name"], row["value"])
        except ValueError as problem:  # written by hand or by an older release: not applied
            log.warning("runtime setting %s=%r ignored: %s", row["name"], row["value"], problem)
    return out


async def set_setting(connection: asyncpg.Connection, name: str, value: int | float) -> None:
    await connection.execute(
        """INSERT INTO control_settings (name, value) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        name, str(value),
    )  # fmt: skip
    await notify(connection, {"change": "settings"})


async def record_audit(
    executor: Executor,
    actor: str,
    address: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
) -> None:
    await executor.execute(
        """INSERT INTO admin_audit (actor, address, action, target, detail)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        actor, address, action, target, json.dumps(detail, default=str),
    )  # fmt: skip


async def audit_rows(executor: Executor, limit: int, before_id: int | None) -> list[asyncpg.Record]:
    """The newest audit rows first (keyset paging on the id)."""
    return list(
        await executor.fetch(
            """SELECT id, at, actor, address, action, target, detail FROM admin_audit
               WHERE $2::bigint IS NULL OR id < $2 ORDER BY id DESC LIMIT $1""",
            limit,
            before_id,
        )
    )


async def notify(executor: Executor, payload: Mapping[str, Any]) -> None:
    """Tell every listener that the desired state changed (delivered on commit)."""
    await executor.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(payload))
