"""Which markets one collector instance claims and lets go of (pure; leases.py does the I/O).

The live instances split the desired markets evenly: sorted by name, the first
`len(markets) % len(instances)` take one market more than the others, so any two shares differ
by at most one. An instance below its share claims markets nobody holds (or whose lease
expired), in market order; one above it lets go of the excess, its last markets in that order,
for the instances still below theirs. Every instance deciding this on its own, from what it
reads, reaches the even split in a few rounds, and no market is ever claimed from a holder
whose lease is still running."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from linkora_core.markets import Market


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    expired: bool


@dataclass(frozen=True, slots=True)
class LeasePlan:
    claim: tuple[Market, ...]  # free or expired, in market order
    release: tuple[Market, ...]  # held beyond the share, or no longer desired


def fair_share(me: str, instances: Collection[str], markets: int) -> int:
    """How many of `markets` markets instance `me` collects among `instances` (itself
    counted whether listed or not)."""
    ordered = sorted({*instances, me})
    base, extra = divmod(markets, len(ordered))
    return base + (1 if ordered.index(me) < extra else 0)


def plan(
    me: str,
    instances: Collection[str],
    desired: Collection[Market],
    leases: Mapping[Market, Lease],
) -> LeasePlan:
    """What `me` claims and releases, given the live instances, the desired markets and
    every lease row (expired ones included)."""
    markets: Sequence[Market] = sorted(set(desired))
    share = fair_share(me, instances, len(markets))
    wanted = set(markets)
    held = [m for m in markets if m in leases and leases[m].holder == me]
    stale = sorted(m for m, lease in leases.items() if lease.holder == me and m not in wanted)
    if len(held) > share:
        return LeasePlan((), (*held[share:], *stale))
    free = [m for m in markets if m not in leases or _expired_other(leases[m], me)]
    return LeasePlan(tuple(free[: share - len(held)]), tuple(stale))


def _expired_other(lease: Lease, me: str) -> bool:
    return lease.expired and lease.holder != me
