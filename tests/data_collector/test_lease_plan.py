"""How collector instances split the markets through leases (lease_plan.py, pure): fair shares
that differ by at most one, claims only of free or expired leases, the excess let go of, and
instances deciding alone converging to an even split with no market held twice."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from data_collector.lease_plan import Lease, LeasePlan, fair_share, plan
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue

OKX_SWAP = Venue(Exchange.OKX, Kind.SWAP)
MARKETS = [Market(BINANCE_SPOT, f"C{i:02d}USDT") for i in range(9)]


def test_shares_differ_by_at_most_one_and_cover_every_market() -> None:
    instances = ["a", "b", "c", "d"]
    shares = [fair_share(me, instances, 10) for me in instances]
    assert shares == [3, 3, 2, 2]
    assert fair_share("z", [], 5) == 5  # alone: every market, even before its row is read
    assert fair_share("b", ["a"], 9) == 4  # itself counted though not listed yet


def test_a_lone_instance_claims_every_free_market_at_once() -> None:
    assert plan("a", ["a"], MARKETS[:3], {}) == LeasePlan(tuple(MARKETS[:3]), ())


def test_a_lease_still_running_is_never_claimed_an_expired_one_is() -> None:
    leases = {MARKETS[0]: Lease("b", expired=False), MARKETS[1]: Lease("b", expired=True)}
    assert plan("a", ["a"], MARKETS[:2], leases).claim == (MARKETS[1],)


def test_the_excess_beyond_the_share_is_let_go_of_for_a_newcomer() -> None:
    leases = {m: Lease("a", expired=False) for m in MARKETS[:6]}
    decided = plan("a", ["a", "b", "c"], MARKETS[:6], leases)
    assert decided == LeasePlan((), tuple(MARKETS[2:6]))
    newcomer = plan("c", ["a", "b", "c"], MARKETS[:6], leases)
    assert newcomer == LeasePlan((), ())  # waits: nothing is free yet


def test_leases_of_markets_no_longer_desired_are_let_go_of() -> None:
    gone = Market(OKX_SWAP, "BTC-USDT-SWAP")
    leases = {MARKETS[0]: Lease("a", expired=False), gone: Lease("a", expired=False)}
    assert plan("a", ["a"], MARKETS[:2], leases) == LeasePlan((MARKETS[1],), (gone,))


def test_an_own_expired_lease_counts_as_held_not_as_free() -> None:
    leases = {MARKETS[0]: Lease("a", expired=True)}
    assert plan("a", ["a", "b"], MARKETS[:2], leases) == LeasePlan((), ())


def _round(
    live: list[str], markets: list[Market], leases: dict[Market, str], order: random.Random
) -> None:
    """Each live instance in turn reads, lets go of and claims (a dead holder's leases are
    expired); a claim succeeds only on a lease still free or expired when it is made."""
    turn = list(live)
    order.shuffle(turn)
    for me in turn:
        seen = {m: Lease(holder, holder not in live) for m, holder in leases.items()}
        decided = plan(me, live, markets, seen)
        for market in decided.release:
            assert leases.pop(market) == me
        for market in decided.claim:
            holder = leases.get(market)
            assert holder is None or holder not in live, "claimed from a live holder"
            leases[market] = me


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=12),
    st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=2**32),
)
def test_instances_deciding_alone_converge_to_an_even_split(
    markets_count: int, sizes: list[int], seed: int
) -> None:
    """However the live set changes (instances added, killed), a few rounds later every
    market is held once, by a live instance, and the counts differ by at most one."""
    order = random.Random(seed)
    markets = MARKETS[:markets_count] + [Market(OKX_SWAP, f"M{i}-USDT") for i in range(3)]
    leases: dict[Market, str] = {}
    names = [f"i{n}" for n in range(max(sizes) + 3)]
    for size in sizes:
        live = sorted(order.sample(names, size))
        for _ in range(4):
            _round(live, markets, leases, order)
        assert set(leases) == set(markets)
        assert set(leases.values()) <= set(live)
        counts = [sum(1 for h in leases.values() if h == me) for me in live]
        assert max(counts) - min(counts) <= 1, counts
        stable = dict(leases)
        _round(live, markets, leases, order)
        assert leases == stable, "an even split is left alone"
