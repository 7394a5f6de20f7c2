"""The futures simulator's pure parts: the stepped order book, update ids, stream names, weights."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_support import apply

from exchange_sim.events import StreamError
from exchange_sim.futures.book import (
    IDS_PER_STEP,
    LOT,
    WIDTH,
    Diff,
    FuturesBook,
    first_id,
    last_id,
    step_of_id,
)
from exchange_sim.futures.names import parse_stream
from exchange_sim.futures.rest import depth_weight, kline_weight

TICK = 1_000_000  # 0.01 in 1e-8 units


def walking_book(moves: list[int], start: int = 4_200_000) -> FuturesBook:
    """A book whose best bid moves by `moves[i]` ticks at step i (then stays)."""
    path = [start]
    for move in moves:
        path.append(max(1, path[-1] + move))

    def best_bid_at(ms: int) -> int:
        return path[min(ms // 100, len(path) - 1)]

    return FuturesBook(7, "BTCUSDT", TICK, best_bid_at)


def as_dicts(diff: Diff) -> tuple[dict[int, int], dict[int, int]]:
    return dict(diff.bids), dict(diff.asks)


@settings(max_examples=60, deadline=None)
@given(
    moves=st.lists(st.integers(-40, 40) | st.integers(-3000, 3000), min_size=1, max_size=300),
    strides=st.lists(st.integers(1, 120), min_size=1, max_size=25),
)
def test_applying_every_diff_to_a_snapshot_gives_the_later_snapshot(
    moves: list[int], strides: list[int]
) -> None:
    book = walking_book(moves)
    step = 0
    local = as_dicts(book.snapshot(step, 1000))
    for stride in strides:
        apply(local, book.diff(step, step + stride))
        step += stride
        assert local == as_dicts(book.snapshot(step, 1000))


def test_a_diff_touches_few_levels_and_the_book_never_crosses() -> None:
    book = walking_book([1, -2, 0, 5] * 50)
    for step in range(1, 200):
        diff = book.diff(step - 1, step)
        assert 0 < len(diff.bids) + len(diff.asks) < 200
        snap = book.snapshot(step, 1000)
        assert snap.bids[0][0] < snap.asks[0][0]
        assert [p for p, _ in snap.bids] == sorted((p for p, _ in snap.bids), reverse=True)
        assert [p for p, _ in snap.asks] == sorted(p for p, _ in snap.asks)
        assert all(q > 0 and q % LOT == 0 for _, q in snap.bids + snap.asks)
        assert 800 < len(snap.bids) <= WIDTH


def test_a_snapshot_is_the_top_of_the_full_book() -> None:
    book = walking_book([0])
    full, top = book.snapshot(9, 1000), book.snapshot(9, 20)
    assert top.bids == full.bids[:20] and top.asks == full.asks[:20]


@pytest.mark.parametrize("key", [0, 12345, 2**63 + 17])
def test_update_ids_rise_and_u_need_not_follow_pu(key: int) -> None:
    gaps = set()
    for step in range(1, 2000):
        assert last_id(step - 1, key) < first_id(step, key) <= last_id(step, key)
        assert step_of_id(last_id(step, key)) == step
        gaps.add(first_id(step, key) - last_id(step - 1, key))
        assert last_id(step, key) - last_id(step - 1, key) < 2 * IDS_PER_STEP
    assert gaps == {1, 2, 3}


@pytest.mark.parametrize(
    ("name", "kind", "levels", "speed"),
    [
        ("btcusdt@kline_1m", "kline", 0, 250),
        ("btcusdt_perpetual@continuousKline_1m", "continuous", 0, 250),
        ("btcusdt@depth", "diff", 0, 250),
        ("btcusdt@depth@100ms", "diff", 0, 100),
        ("btcusdt@depth@500ms", "diff", 0, 500),
        ("btcusdt@depth20", "partial", 20, 250),
        ("ethusdt@depth5@100ms", "partial", 5, 100),
        ("ethusdt@depth10@500ms", "partial", 10, 500),
    ],
)
def test_stream_names(name: str, kind: str, levels: int, speed: int) -> None:
    stream = parse_stream(name, {"BTCUSDT", "ETHUSDT"})
    assert (stream.kind, stream.levels, stream.speed_ms) == (kind, levels, speed)
    assert stream.route == ("public" if kind in ("diff", "partial") else "market")


@pytest.mark.parametrize(
    "name",
    [
        "BTCUSDT@kline_1m",
        "btcusdt@kline_7m",
        "xrpusdt@kline_1m",
        "btcusdt@depth15",
        "btcusdt@depth@1000ms",
        "btcusdt_current_quarter@continuousKline_1m",
        "btcusdt@aggTrade",
    ],
)
def test_unserved_stream_names_are_refused(name: str) -> None:
    with pytest.raises(StreamError):
        parse_stream(name, {"BTCUSDT", "ETHUSDT"})


def test_weights_follow_binance_futures_tables() -> None:
    assert [kline_weight(n) for n in (1, 99, 100, 499, 500, 1000, 1001, 1500)] == [
        1, 1, 2, 2, 5, 5, 10, 10,
    ]  # fmt: skip
    assert [depth_weight(n) for n in (5, 10, 20, 50, 100, 500, 1000)] == [2, 2, 2, 2, 5, 10, 20]
