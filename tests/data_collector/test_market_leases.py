"""Leases in PostgreSQL between collector instances (data_collector.leases), two instances
on the test database: one cut off from it stops collecting (fenced) before the other takes
its markets, never the same market in both at once; the first beat after its own outage claims
nothing; a lone instance is never fenced; the lease of a market removed while its holder was
gone is deleted and reported once."""

from __future__ import annotations

import asyncio

import asyncpg

from data_collector.leases import Leases
from linkora_core import control_store
from linkora_core.markets import BINANCE_SPOT, Market
from tests.polling import eventually

MARKETS = [Market(BINANCE_SPOT, s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")]
SECONDS = 1.5  # a lease; beats every 0.5 s, fenced after 1 s, claimable 0.5 s past expiry


class _Unreachable:
    """A pool whose database has gone away (what asyncpg raises when it cannot connect)."""

    def acquire(self) -> _Refused:
        return _Refused()


class _Refused:
    async def __aenter__(self) -> None:
        raise ConnectionRefusedError("the database is down")

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _running(leases: Leases, stop: asyncio.Event) -> asyncio.Task[None]:
    await leases.beat()
    return asyncio.create_task(leases.run(stop))


async def test_a_cut_off_instance_stops_before_another_takes_its_markets(
    clean_db: asyncpg.Pool,
) -> None:
    await control_store.seed_markets(clean_db, MARKETS, "test")
    a = Leases(clean_db, "a", "host", SECONDS)
    b = Leases(clean_db, "b", "host", SECONDS)
    stop = asyncio.Event()
    tasks = [await _running(a, stop), await _running(b, stop)]
    try:
        await eventually(lambda: len(a.mine) == len(b.mine) == 2, 10, what="an even split")
        a.pool = _Unreachable()
        overlaps, fenced_at, taken_at = 0, None, None
        loop = asyncio.get_running_loop()
        cut = loop.time()
        async with asyncio.timeout(15):
            while len(b.mine) < len(MARKETS):
                overlaps += bool(a.mine & b.mine)
                if fenced_at is None and a.fenced:
                    fenced_at = loop.time() - cut
                await asyncio.sleep(0.01)
            taken_at = loop.time() - cut
        overlaps += bool(a.mine & b.mine)
        assert overlaps == 0
        assert fenced_at is not None and fenced_at < taken_at, (fenced_at, taken_at)
        assert a.mine == frozenset()

        # Back after longer than a lease: its first beat renews nothing and claims nothing.
        a.pool = clean_db
        await a.beat()
        assert a.held == set() and b.mine == frozenset(MARKETS)

        def even_again() -> bool:
            assert not a.mine & b.mine
            return len(a.mine) == len(b.mine) == 2

        await eventually(even_again, 10, every=0.01, what="an even split again")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_lone_instance_keeps_its_markets_through_an_outage(
    clean_db: asyncpg.Pool,
) -> None:
    await control_store.seed_markets(clean_db, MARKETS, "test")
    alone = Leases(clean_db, "alone", "host", SECONDS)
    await alone.beat()
    assert alone.mine == frozenset(MARKETS)
    alone.pool = _Unreachable()
    stop = asyncio.Event()
    task = asyncio.create_task(alone.run(stop))
    await asyncio.sleep(SECONDS * 2)
    stop.set()
    await task
    assert not alone.fenced and alone.mine == frozenset(MARKETS)


async def test_the_lease_of_a_market_removed_while_its_holder_was_gone_is_reported_once(
    clean_db: asyncpg.Pool,
) -> None:
    await control_store.seed_markets(clean_db, MARKETS, "test")
    gone = Leases(clean_db, "gone", "host", SECONDS)
    await gone.beat()  # holds every market, then dies
    async with clean_db.acquire() as connection:
        assert await control_store.remove_market(connection, MARKETS[0])
    other = Leases(clean_db, "other", "host", SECONDS)
    await asyncio.sleep(SECONDS * 1.5)  # expired, and past the grace
    await other.beat()
    assert other.take_abandoned() == [MARKETS[0]]
    assert other.take_abandoned() == []
    assert other.mine == frozenset(MARKETS[1:])
    left = await clean_db.fetchval("SELECT count(*) FROM market_leases WHERE symbol = 'BTCUSDT'")
    assert left == 0
