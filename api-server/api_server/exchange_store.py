"""What the database knows of each venue: its collected markets (`collector_state`) and the
collector's live figures (`venue_status`, written every few seconds by the data-collector),
and the status the exchange endpoints derive from them (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from linkora_core.db import Executor
from linkora_core.epoch import MINUTE_MS, to_ms
from linkora_core.markets import Venue

# A collector writes its row every 5 s: one not written for this long has stopped.
STALE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class VenueRecord:
    venue: Venue
    markets: int  # rows in collector_state
    failing: bool  # one of them is in phase error
    newest_closed_ms: int | None  # the newest closed minute of any of them
    figures: dict[str, Any] | None  # the venue_status row, None when never written
    age_seconds: float | None  # how long ago the row was written
    now_ms: int  # the database's now, which the ages are measured against

    @property
    def status(self) -> str:
        """`not_collected` (no markets), `offline` (no row written in the last 30 s, or its
        stream is not connected), `degraded` (a market failed, or an error is recorded) or
        `online`."""
        if self.markets == 0:
            return "not_collected"
        figures = self.figures
        if figures is None or self.age_seconds is None or self.age_seconds > STALE_SECONDS:
            return "offline"
        if not figures["connected"]:
            return "offline"
        if self.failing or figures["last_error"] is not None:
            return "degraded"
        return "online"

    @property
    def lag_seconds(self) -> float | None:
        """How far the end of the newest closed minute is behind now (0-60 s when live)."""
        if self.newest_closed_ms is None:
            return None
        return max(0, self.now_ms - (self.newest_closed_ms + MINUTE_MS)) / 1000


_FIGURES = (
    "connected", "rest_requests", "budget_used", "budget_limit", "rejections", "book_resyncs",
    "malformed", "last_error", "updated_at",
)  # fmt: skip


async def venues(db: Executor, wanted: Sequence[Venue]) -> list[VenueRecord]:
    """One record per venue, in the given order (collector_state has a row per market)."""
    rows = await db.fetch(
        f"""SELECT coalesce(cs.markets, 0), coalesce(cs.failing, false), cs.newest_closed,
                   s.venue IS NOT NULL, {", ".join(f"s.{c}" for c in _FIGURES)},
                   extract(epoch FROM now() - s.updated_at)::float8,
                   (extract(epoch FROM now()) * 1000)::bigint
            FROM unnest($1::text[]) WITH ORDINALITY AS v(venue, n)
            LEFT JOIN (SELECT venue, count(*) AS markets, bool_or(phase = 'error') AS failing,
                              max(last_closed_minute) AS newest_closed
                       FROM collector_state GROUP BY venue) AS cs ON cs.venue = v.venue
            LEFT JOIN venue_status AS s ON s.venue = v.venue
            ORDER BY v.n""",
        [venue.key for venue in wanted],
    )
    out = []
    for venue, row in zip(wanted, rows, strict=True):
        markets, failing, newest, written, *values = row
        *figures, age, now_ms = values
        found = dict(zip(_FIGURES, figures, strict=True)) if written else None
        out.append(
            VenueRecord(
                venue=venue,
                markets=markets,
                failing=failing,
                newest_closed_ms=None if newest is None else to_ms(newest),
                figures=found,
                age_seconds=age,
                now_ms=now_ms,
            )
        )
    return out


async def markets(db: Executor, venue: Venue) -> list[dict[str, Any]]:
    """The venue's collected markets by symbol, with their first stored minute (found by the
    primary key) and the collector's progress."""
    rows = await db.fetch(
        """SELECT cs.symbol, cs.phase,
                  (SELECT open_time FROM candles c WHERE c.venue = cs.venue
                   AND c.symbol = cs.symbol ORDER BY open_time LIMIT 1),
                  cs.last_closed_minute, cs.backfill_done, cs.backfill_total
           FROM collector_state cs WHERE cs.venue = $1 ORDER BY cs.symbol""",
        venue.key,
    )
    return [
        {
            "symbol": symbol,
            "phase": phase,
            "first_minute": None if first is None else to_ms(first),
            "last_closed_minute": None if closed is None else to_ms(closed),
            "backfill_done": done,
            "backfill_total": total,
        }
        for symbol, phase, first, closed, done, total in rows
    ]
