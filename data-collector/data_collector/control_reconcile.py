"""What the collector changes to follow the desired state (pure): the markets to start and to
stop, the venues whose real-time tasks no longer cover the markets now in real time, and the
runtime settings that changed."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields

from linkora_core.markets import Market, Venue

# A market's start (ms), None for the collector's START_DATE.
Starts = Mapping[Market, int | None]


@dataclass(frozen=True, slots=True)
class MarketChanges:
    to_add: tuple[Market, ...]
    to_remove: tuple[Market, ...]

    def __bool__(self) -> bool:
        return bool(self.to_add or self.to_remove)


def market_changes(desired: Starts, running: Starts) -> MarketChanges:
    """Markets desired and not running are added, running and no longer desired removed; one
    whose start changed (removed and added again meanwhile) is removed, then added again so
    it is backfilled from its new start. Both in the order of their mapping."""
    to_add = tuple(m for m, start in desired.items() if m not in running or running[m] != start)
    to_remove = tuple(m for m, start in running.items() if m not in desired or desired[m] != start)
    return MarketChanges(to_add, to_remove)


def venues_to_restart(
    covered: Mapping[Venue, Collection[Market]], realtime: Iterable[Market]
) -> list[Venue]:
    """The venues (sorted) whose real-time tasks cover other markets than those now in real
    time: restarted with the new set, or stopped when none is left; the others are left
    alone."""
    wanted: dict[Venue, set[Market]] = {}
    for market in realtime:
        wanted.setdefault(market.venue, set()).add(market)
    venues = set(covered) | set(wanted)
    return sorted(v for v in venues if set(covered.get(v, ())) != wanted.get(v, set()))


@dataclass(frozen=True, slots=True)
class Tunables:
    """The runtime settings the collector applies (ws_update_interval is the api-server's)."""

    orderbook_levels: int
    orderbook_store_interval: float
    audit_interval: float


def tunables(environment: Tunables, runtime: Mapping[str, int | float]) -> Tunables:
    """The environment's values with those changed at runtime in their place."""
    return Tunables(
        int(runtime.get("orderbook_levels", environment.orderbook_levels)),
        float(runtime.get("orderbook_store_interval", environment.orderbook_store_interval)),
        float(runtime.get("audit_interval", environment.audit_interval)),
    )


def changed(old: Tunables, new: Tunables) -> set[str]:
    """The names of the settings whose value differs."""
    return {f.name for f in fields(Tunables) if getattr(old, f.name) != getattr(new, f.name)}
