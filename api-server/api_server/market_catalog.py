"""The markets collected, as the WebSocket `list` and `status` commands tell them: those the
desired state names (`control_markets`, not removed, their exchange enabled) and those a
collector keeps state for that it never named (a collector older than the desired state),
each with its collector's phase (`pending` before the collector has written any)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linkora_core.db import Executor
from linkora_core.markets import Market, venue_of_key


@dataclass(frozen=True, slots=True)
class CollectedMarket:
    market: Market
    phase: str
    backfill_done: int
    backfill_total: int

    def as_json(self) -> dict[str, Any]:
        return {
            **self.market.names(),
            "phase": self.phase,
            "backfill_done": self.backfill_done,
            "backfill_total": self.backfill_total,
        }


async def collected(executor: Executor) -> list[CollectedMarket]:
    rows = await executor.fetch(
        """SELECT m.venue, m.symbol, coalesce(cs.phase, 'pending') AS phase,
                  coalesce(cs.backfill_done, 0) AS done, coalesce(cs.backfill_total, 0) AS total
           FROM control_markets m
           LEFT JOIN collector_state cs ON cs.venue = m.venue AND cs.symbol = m.symbol
           WHERE m.removed_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM control_exchanges e
                             WHERE e.exchange = split_part(m.venue, '-', 1) AND NOT e.enabled)
           UNION ALL
           SELECT cs.venue, cs.symbol, cs.phase, cs.backfill_done, cs.backfill_total
           FROM collector_state cs
           WHERE cs.phase <> 'removed'
             AND NOT EXISTS (SELECT 1 FROM control_markets m
                             WHERE m.venue = cs.venue AND m.symbol = cs.symbol)
           ORDER BY venue, symbol"""
    )
    out = []
    for row in rows:
        try:
            venue = venue_of_key(row["venue"])
        except ValueError:
            continue  # a venue this release does not know
        market = Market(venue, row["symbol"])
        out.append(CollectedMarket(market, row["phase"], row["done"], row["total"]))
    return out
