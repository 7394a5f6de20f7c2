"""The markets this collector instance holds, through lease rows in PostgreSQL (migration 0021;
what to claim and let go of: lease_plan.py).

Every `seconds / 3` one transaction renews the instance's row and its own leases, deletes the
leases it let go of, reads the live instances, the desired markets and every lease, and claims
its share of the free or expired ones (`INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`: of
two instances claiming one market only one gets it). A lease it should let go of is first only
taken from `mine`, so the collector stops collecting it; the row is deleted once the collector
no longer collects it (`collecting`: stopped, streams restarted without it, buffered minutes
written), so two instances never write one market. A graceful stop deletes the instance's row
and leases: another instance takes its markets over at its next beat, not after the expiry.

Fencing, for an instance cut off from PostgreSQL while others run: when no beat has committed
for two thirds of a lease (`FENCE_AFTER`), `mine` is empty and the collector stops collecting,
a third of a lease before its leases expire; another holder claims one only a tenth of a
lease after it expired (`GRACE`, for the database's clock against the instance's): the
cut-off instance has stopped before anyone takes its markets. A lone instance (no other seen
at its last beat) is not fenced: nobody can take over, and it keeps collecting through an
outage as before. The first beat after one's own outage claims nothing: every instance's row was
stale meanwhile, and the split is only decided once the others have beaten again too. Leases
of markets no longer desired whose holder is gone are deleted and reported (`abandoned`), for
the collector to record those markets as removed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import asyncpg

from data_collector import lease_plan
from data_collector.lease_plan import Lease
from data_collector.market_control import READ_FAILED
from linkora_core import control_store
from linkora_core.backoff import pause
from linkora_core.markets import Market, venue_of_key

log = logging.getLogger(__name__)

# Rows of instances gone for longer than this are deleted (they count as dead long before).
FORGET_INSTANCES_AFTER = 3600.0
FENCE_AFTER = 2 / 3  # of a lease, without a committed beat, with other instances about
GRACE = 0.1  # of a lease, after its expiry, before another instance claims it


@dataclass(frozen=True, slots=True, order=True)
class Instance:
    name: str
    egress: str


@dataclass(eq=False)
class Leases:
    pool: asyncpg.Pool
    instance: str
    egress: str
    seconds: float
    collecting: Callable[[], Collection[Market]] = lambda: ()
    changed: Callable[[], None] = lambda: None  # `mine` or the live instances changed
    held: set[Market] = field(default_factory=set, init=False)  # lease rows renewed
    releasing: set[Market] = field(default_factory=set, init=False)  # held, to let go of
    instances: tuple[Instance, ...] = field(default=(), init=False)
    leased: frozenset[Market] = field(default=frozenset(), init=False)  # by anyone, last read
    beats: int = field(default=0, init=False)
    abandoned: set[Market] = field(default_factory=set, init=False)  # to record as removed
    _committed: float | None = field(default=None, init=False)  # loop time a beat began
    # A beat and a let-go one after the other: both change `held` around their statements.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    @property
    def mine(self) -> frozenset[Market]:
        """The markets to collect: none while fenced."""
        return frozenset() if self.fenced else frozenset(self.held - self.releasing)

    @property
    def fenced(self) -> bool:
        """No beat committed for FENCE_AFTER of a lease while other instances were live."""
        if self._committed is None or len(self.instances) <= 1:
            return False
        return asyncio.get_running_loop().time() - self._committed > self.seconds * FENCE_AFTER

    @property
    def peers(self) -> int:
        """Live instances with this one's egress, itself included."""
        return max(1, sum(1 for i in self.instances if i.egress == self.egress))

    async def run(self, stop: asyncio.Event) -> None:
        while await pause(self.seconds / 3, stop):
            fenced = self.fenced
            try:
                await self.beat()
            except READ_FAILED as error:
                log.warning("leases not renewed (%r); trying again", error)
                if self.fenced and not fenced:
                    log.warning("%s fenced: collecting nothing until a beat", self.instance)
                    self.changed()

    async def beat(self) -> None:
        async with self._lock:
            await self._beat()

    async def _beat(self) -> None:
        before = (self.mine, self.instances)
        began = asyncio.get_running_loop().time()
        # After its own outage every row was stale: claim once the others are seen again.
        recovering = self._committed is not None and began - self._committed > self.seconds
        grace = self.seconds * GRACE
        # Applied once committed: a beat failing part way changes nothing.
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                """INSERT INTO collector_instances (instance, egress) VALUES ($1, $2)
                   ON CONFLICT (instance) DO UPDATE
                       SET egress = EXCLUDED.egress, seen_at = now()""",
                self.instance, self.egress,
            )  # fmt: skip
            renewed = await connection.fetch(
                """UPDATE market_leases SET expires_at = now() + make_interval(secs => $2)
                   WHERE holder = $1 RETURNING venue, symbol""",
                self.instance, self.seconds,
            )  # fmt: skip
            # The leases renewed are all this instance holds: one it held and did not renew
            # (taken over after it expired) is no longer its.
            held = _markets(renewed)
            released = await self._delete_released(connection, held & self.releasing)
            held -= released
            rows = await connection.fetch(
                """SELECT instance, egress FROM collector_instances
                   WHERE seen_at > now() - make_interval(secs => $1)
                   ORDER BY instance""",
                self.seconds,
            )
            instances = tuple(Instance(r["instance"], r["egress"]) for r in rows)
            desired = [d.market for d in await control_store.desired_markets(connection)]
            leases = {
                _market(r): Lease(r["holder"], r["expired"])
                for r in await connection.fetch(
                    """SELECT venue, symbol, holder,
                              expires_at < now() - make_interval(secs => $1) AS expired
                       FROM market_leases""",
                    grace,
                )
            }
            wanted = set(desired)
            abandoned = [m for m, lease in leases.items() if lease.expired and m not in wanted]
            if abandoned:
                gone = await connection.fetch(
                    """DELETE FROM market_leases l USING unnest($1::text[], $2::text[]) AS t(v, s)
                       WHERE l.venue = t.v AND l.symbol = t.s
                         AND l.expires_at < now() - make_interval(secs => $3)
                       RETURNING l.venue, l.symbol""",
                    [m.venue.key for m in abandoned], [m.symbol for m in abandoned], grace,
                )  # fmt: skip
                abandoned = sorted(_markets(gone))
                for market in abandoned:
                    del leases[market]
            planned = lease_plan.plan(self.instance, [i.name for i in instances], desired, leases)
            if planned.claim and not recovering:
                claimed = await connection.fetch(
                    """INSERT INTO market_leases (venue, symbol, holder, expires_at)
                       SELECT v, s, $3, now() + make_interval(secs => $4)
                       FROM unnest($1::text[], $2::text[]) AS t(v, s)
                       ON CONFLICT (venue, symbol) DO UPDATE
                           SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                           WHERE market_leases.expires_at < now() - make_interval(secs => $5)
                       RETURNING venue, symbol""",
                    [m.venue.key for m in planned.claim], [m.symbol for m in planned.claim],
                    self.instance, self.seconds, grace,
                )  # fmt: skip
                held |= _markets(claimed)
            await connection.execute(
                """DELETE FROM collector_instances
                   WHERE seen_at < now() - make_interval(secs => $1)""",
                FORGET_INSTANCES_AFTER,
            )
        self._committed = began
        self.abandoned.update(abandoned)
        self.held = held
        self.releasing = (self.releasing | set(planned.release)) & held
        self.instances = instances
        self.leased = frozenset(leases) - released
        self.beats += 1
        if (self.mine, self.instances) != before:
            log.info(
                "instance %s holds %d markets (%d instances live)",
                self.instance, len(self.mine), len(self.instances),
            )  # fmt: skip
            self.changed()
        elif abandoned:
            self.changed()

    def take_abandoned(self) -> list[Market]:
        """The markets no longer desired whose holder went away without recording them as
        removed (once each)."""
        taken, self.abandoned = sorted(self.abandoned), set()
        return taken

    def unleased(self, desired: Iterable[Market]) -> bool:
        """Some of `desired` had no lease at the last beat (added since): worth a beat now
        rather than at its time, so an added market is collected at once."""
        return any(m not in self.leased for m in desired)

    async def let_go(self) -> None:
        """Delete the leases let go of that the collector no longer collects."""
        async with self._lock, self.pool.acquire() as connection:
            released = await self._delete_released(connection, self.releasing)
        self.held -= released
        self.releasing -= released
        self.leased -= released

    async def close(self) -> None:
        """Give everything back (the collector stopped and wrote what it buffered)."""
        async with self._lock, self.pool.acquire() as connection, connection.transaction():
            await connection.execute("DELETE FROM market_leases WHERE holder = $1", self.instance)
            await connection.execute(
                "DELETE FROM collector_instances WHERE instance = $1", self.instance
            )
        self.held.clear()
        self.releasing.clear()

    async def _delete_released(
        self, connection: asyncpg.Connection, releasing: set[Market]
    ) -> set[Market]:
        """Delete the leases of `releasing` the collector no longer collects: those."""
        collecting = set(self.collecting())
        done = sorted(m for m in releasing if m not in collecting)
        if done:
            await connection.execute(
                """DELETE FROM market_leases l USING unnest($2::text[], $3::text[]) AS t(v, s)
                   WHERE l.holder = $1 AND l.venue = t.v AND l.symbol = t.s""",
                self.instance, [m.venue.key for m in done], [m.symbol for m in done],
            )  # fmt: skip
            log.info("let go of %s", ",".join(str(m) for m in done))
        return set(done)


def _market(row: asyncpg.Record) -> Market:
    return Market(venue_of_key(row["venue"]), row["symbol"])


def _markets(rows: Iterable[asyncpg.Record]) -> set[Market]:
    return {_market(row) for row in rows}
