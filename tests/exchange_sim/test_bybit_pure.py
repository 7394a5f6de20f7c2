"""The Bybit simulator's pure parts: the per-IP window, stream faults, the live book, topics."""

from __future__ import annotations

import pytest

from exchange_sim.bybit import BookFaults, IpLimiter
from exchange_sim.bybit.book import LiveBook
from exchange_sim.bybit.queries import TopicError, parse_topic


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ip_window_slides_and_a_refusal_bans() -> None:
    clock = FakeClock()
    limiter = IpLimiter(3, 5.0, ban_seconds=60.0, clock=clock)
    assert [limiter.admit("a") for _ in range(3)] == [True, True, True]
    clock.now += 4.9
    assert limiter.admit("b")  # another IP has its own window
    clock.now += 0.2  # the first three are now more than 5 s old
    assert limiter.admit("a") and limiter.used("a") == 1
    assert [limiter.admit("a") for _ in range(3)] == [True, True, False]
    clock.now += 59.0
    assert not limiter.admit("a")  # still banned
    clock.now += 1.1
    assert limiter.admit("a")


def test_book_faults_accept_counts_only() -> None:
    faults = BookFaults()
    faults.set(skip_u_next=2)
    assert [faults.take_skip() for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError, match="unknown fault"):
        faults.set(drop=1)
    with pytest.raises(ValueError, match="non-negative integer"):
        faults.set(restart_next=True)


def test_live_book_deltas_rebuild_the_book_and_number_it() -> None:
    book = LiveBook("t", first_u=100, first_seq=5)
    bids = [(1000, 7), (990, 3), (980, 2)]
    asks = [(1010, 4), (1020, 1), (1030, 9)]
    snap = book.snapshot(bids, asks)
    assert (snap.kind, snap.u, snap.bids, snap.asks) == ("snapshot", 100, bids, asks)
    client_bids, client_asks = dict(snap.bids), dict(snap.asks)
    last_seq = snap.seq
    targets = [None, ([(995, 1), (990, 3)], [(1005, 2), (1010, 4)]), None, None]
    for i, target in enumerate(targets, start=1):
        delta = book.delta(target)
        assert delta.kind == "delta" and delta.u == 100 + i and delta.seq > last_seq
        assert delta.bids or delta.asks
        for side, changes in ((client_bids, delta.bids), (client_asks, delta.asks)):
            for price, size in changes:
                if size == 0:
                    del side[price]  # KeyError if the server deleted an absent price
                else:
                    side[price] = size
        assert (client_bids, client_asks) == (book.bids, book.asks)
        last_seq = delta.seq
    assert book.delta(None, skip=True).u == 100 + len(targets) + 2
    assert book.snapshot(bids, asks, restart=True).u == 1
    assert book.delta(None).u == 2


@pytest.mark.parametrize(
    "name", ["kline.1m.BTCUSDT", "orderbook.20.BTCUSDT", "kline.1.btcusdt", "trade.BTCUSDT"]
)
def test_unknown_topics_are_refused(name: str) -> None:
    with pytest.raises(TopicError, match=name):
        parse_topic(name, {"BTCUSDT"})


def test_topics_parse() -> None:
    assert parse_topic("kline.D.BTCUSDT", {"BTCUSDT"}).sim_interval == "1d"
    assert parse_topic("orderbook.200.BTCUSDT", {"BTCUSDT"}).depth == 200
