"""Each collected venue's live figures, written to `venue_status` (migration 0014) every few
seconds for the api-server's exchange endpoints: the collector is the only process that knows
them, the api-server reads them from the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkora_core.backoff import pause
from linkora_core.db import DATABASE_DOWN, Executor
from linkora_core.markets import Venue

if TYPE_CHECKING:
    from data_collector.collector import Collector
    from data_collector.exchange import LiveStream

log = logging.getLogger(__name__)

EVERY = 5.0  # seconds between writes; the api-server calls a row older than 30 s offline


@dataclass(frozen=True, slots=True)
class VenueFigures:
    venue: Venue
    connected: bool
    rest_requests: int
    budget_used: int
    budget_limit: int
    rejections: int
    book_resyncs: int
    malformed: int  # REST answers and stream frames refused as not shaped as documented
    last_error: str | None


def figures(collector: Collector) -> list[VenueFigures]:
    """The figures of every venue the collector collects, in its order (pure: reads only the
    collector's counters)."""
    out = []
    for venue in collector.venues:
        rest = collector.sources[venue]
        streams = collector.streams.get(venue, [])
        statuses = [s for m, s in collector.status.markets.items() if m.venue == venue]
        errors = [s.error for s in statuses if s.error]
        out.append(
            VenueFigures(
                venue=venue,
                connected=_connected(collector, venue, streams, [s.phase for s in statuses]),
                rest_requests=rest.requests,
                budget_used=rest.budget.used,
                budget_limit=rest.budget.limit,
                rejections=rest.budget.rejections,
                book_resyncs=collector.resyncs(venue),
                malformed=rest.malformed + collector.live.malformed(venue),
                last_error=errors[-1] if errors else None,
            )
        )
    return out


def _connected(
    collector: Collector, venue: Venue, streams: Sequence[LiveStream], phases: Sequence[str]
) -> bool:
    """A venue with live streams: every one of them is connected. Before it has any (backfill)
    or when polled over REST: the REST source is in use (a market backfilling or live)."""
    if streams:
        return all(stream.connected for stream in streams)
    poller = collector.poller
    polled = poller is not None and any(m.venue == venue for m in poller.markets)
    return any(p == "backfill" or (polled and p == "realtime") for p in phases)


async def store(executor: Executor, rows: Sequence[VenueFigures]) -> None:
    """Upsert one row per venue, stamped with the database's now()."""
    await executor.executemany(
        """INSERT INTO venue_status (venue, connected, rest_requests, budget_used, budget_limit,
               rejections, book_resyncs, malformed, last_error, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
           ON CONFLICT (venue) DO UPDATE SET connected = EXCLUDED.connected,
               rest_requests = EXCLUDED.rest_requests, budget_used = EXCLUDED.budget_used,
               budget_limit = EXCLUDED.budget_limit, rejections = EXCLUDED.rejections,
               book_resyncs = EXCLUDED.book_resyncs, malformed = EXCLUDED.malformed,
               last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at""",
        [_row(f) for f in rows],
    )


def _row(f: VenueFigures) -> tuple[object, ...]:
    return (
        f.venue.key, f.connected, f.rest_requests, f.budget_used, f.budget_limit,
        f.rejections, f.book_resyncs, f.malformed, f.last_error,
    )  # fmt: skip


async def run_status_writer(
    collector: Collector, pool: Executor, stop: asyncio.Event, every: float = EVERY
) -> None:
    """Write the figures every `every` seconds until `stop`; a database that is away is
    logged and tried again next time."""
    while not stop.is_set():
        try:
            await store(pool, figures(collector))
        except DATABASE_DOWN as error:
            log.warning("venue status not written: %r", error)
        await pause(every, stop)
