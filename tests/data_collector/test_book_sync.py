"""Local books under each exchange's sequencing rule: diffs that follow build the book the
exchange holds; a missed diff is detected, never published."""

from __future__ import annotations

import zlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data_collector.book_sync import Diff, LocalBook, OutOfSync, Sequencing, okx_checksum

S = Sequencing
Levels = list[tuple[str, str]]
Step = tuple[Levels, Levels]
# Bids below 100, asks above: the generated books never cross.
bid_levels = st.tuples(
    st.sampled_from(["99", "99.5", "98.25", "97", "90.1", "50"]),
    st.sampled_from(["0", "1", "2.5", "0.001"]),
)
ask_levels = st.tuples(
    st.sampled_from(["101", "100.5", "102.75", "103", "110.1", "150"]),
    st.sampled_from(["0", "3", "0.75", "10"]),
)
# A snapshot holds each price once, none with a zero quantity.
snapshots = st.tuples(
    st.lists(bid_levels.filter(lambda lv: lv[1] != "0"), max_size=5, unique_by=lambda lv: lv[0]),
    st.lists(ask_levels.filter(lambda lv: lv[1] != "0"), max_size=5, unique_by=lambda lv: lv[0]),
)
changes = st.lists(
    st.tuples(st.lists(bid_levels, max_size=4), st.lists(ask_levels, max_size=4)),
    min_size=1,
    max_size=12,
)


def reference(
    start: Step, steps: list[Step]
) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    bids = {Decimal(p): Decimal(q) for p, q in start[0] if Decimal(q)}
    asks = {Decimal(p): Decimal(q) for p, q in start[1] if Decimal(q)}
    for step_bids, step_asks in steps:
        for side, levels in ((bids, step_bids), (asks, step_asks)):
            for p, q in levels:
                if Decimal(q):
                    side[Decimal(p)] = Decimal(q)
                else:
                    side.pop(Decimal(p), None)
    return bids, asks


def diffs(sequencing: Sequencing, snapshot_id: int, steps: list[Step]) -> list[Diff]:
    """The diffs an exchange would send for `steps` after a snapshot at `snapshot_id`."""
    out = []
    last = snapshot_id
    for i, (bids, asks) in enumerate(steps):
        if sequencing is S.BINANCE_SPOT:
            first, new = last + 1, last + 1 + i % 3  # a diff may span several update ids
            out.append(Diff(first, new, bids, asks))
        elif sequencing is S.BINANCE_FUTURES:
            new = last + 1 + i % 5
            out.append(Diff(last - 3 if i == 0 else last + 2, new, bids, asks, previous_id=last))
        elif sequencing is S.BYBIT:
            new = last + 1
            out.append(Diff(new, new, bids, asks))
        else:  # OKX sequence ids and WhiteBIT update ids need not be consecutive
            new = last + 1 + i * 7
            out.append(Diff(new, new, bids, asks, previous_id=last))
        last = new
    return out


@pytest.mark.parametrize("sequencing", list(Sequencing))
@given(
    start=snapshots,
    steps=changes,
)
def test_diffs_that_follow_build_the_exchanges_book(
    sequencing: Sequencing, start: Step, steps: list[Step]
) -> None:
    book = LocalBook(sequencing)
    book.reset(1000, *start)
    for diff in diffs(sequencing, 1000, steps):
        assert book.apply(diff)
    bids, asks = reference(start, steps)
    top_bids, top_asks = book.top(20)
    assert top_bids == tuple(sorted(bids.items(), reverse=True))
    assert top_asks == tuple(sorted(asks.items()))
    assert book.top(2)[0] == top_bids[:2]


@pytest.mark.parametrize("sequencing", list(Sequencing))
@given(steps=changes.filter(lambda s: len(s) >= 3), lost=st.integers(1, 10))
def test_a_lost_diff_is_detected_and_the_book_is_not_published(
    sequencing: Sequencing, steps: list[Step], lost: int
) -> None:
    sent = diffs(sequencing, 1000, steps)
    lost %= len(sent) - 1  # keep the first (the bridge) unless it is the one lost
    book = LocalBook(sequencing)
    book.reset(1000, [("99", "1")], [("101", "1")])
    with pytest.raises(OutOfSync):
        for diff in sent[:lost] + sent[lost + 1 :]:
            book.apply(diff)
    assert not book.synced
    with pytest.raises(OutOfSync):
        book.top(20)
    book.reset(5000, [("99", "1")], [("101", "1")])  # resync from a new snapshot
    assert book.top(1) == (((Decimal(99), Decimal(1)),), ((Decimal(101), Decimal(1)),))


def test_binance_spot_drops_what_the_snapshot_holds_and_bridges_at_the_next_id() -> None:
    book = LocalBook(S.BINANCE_SPOT)
    book.reset(160, [("0.0024", "10")], [("0.0026", "100")])
    assert not book.apply(Diff(150, 160, [("0.0024", "0")], []))  # already in the snapshot
    assert book.apply(Diff(157, 163, [("0.0023", "5")], []))  # straddles 161
    assert book.apply(Diff(164, 164, [], [("0.0026", "0")]))
    with pytest.raises(OutOfSync, match="expected 165"):
        book.apply(Diff(166, 170, [], []))


def test_binance_spot_refuses_a_first_diff_past_the_snapshot() -> None:
    book = LocalBook(S.BINANCE_SPOT)
    book.reset(160, [], [])
    with pytest.raises(OutOfSync, match="skips 161"):
        book.apply(Diff(162, 170, [], []))


def test_binance_futures_bridges_on_the_snapshot_id_itself_and_then_follows_pu() -> None:
    book = LocalBook(S.BINANCE_FUTURES)
    book.reset(9301245511990, [("87412.20", "4.512")], [("87412.30", "1.207")])
    assert not book.apply(Diff(9301245511900, 9301245511989, [], [], previous_id=1))
    assert book.apply(
        Diff(9301245511950, 9301245512104, [("87405.00", "0")], [], previous_id=9301245511948)
    )
    assert book.apply(Diff(9301245512200, 9301245512210, [], [], previous_id=9301245512104))
    with pytest.raises(OutOfSync):
        book.apply(Diff(9301245512300, 9301245512310, [], [], previous_id=9301245512299))


def test_okx_admits_the_heartbeat_and_the_reset_after_maintenance() -> None:
    # The docs' worked sequence: snapshot (-1, 10), (10, 15), heartbeat (15, 15), reset (15, 3),
    # (3, 5).
    book = LocalBook(S.OKX)
    book.reset(10, [("8476.97", "256")], [("8476.98", "415")])
    for previous, seq in ((10, 15), (15, 15), (15, 3), (3, 5)):
        assert book.apply(Diff(seq, seq, [], [], previous_id=previous))
    assert book.last_id == 5


def test_okx_checksum_interleaves_the_sides_in_the_exchanges_text() -> None:
    # The two check strings of OKX's documentation.
    both = okx_checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")])
    assert both == _signed(zlib.crc32(b"3366.1:7:3366.8:9:3366:6:3368:8"))
    short = okx_checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")])
    assert short == _signed(zlib.crc32(b"3366.1:7:3366.8:9:3368:8:3372:8"))
    assert -(2**31) <= both < 2**31 and both != short


def test_an_okx_checksum_that_disagrees_desyncs_and_zero_means_none_sent() -> None:
    book = LocalBook(S.OKX)
    book.reset(10, [("3366.1", "7"), ("3366", "6")], [("3366.8", "9")])
    right = okx_checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")])
    assert book.apply(Diff(11, 11, [], [("3368", "8")], previous_id=10, checksum=right))
    assert book.apply(Diff(12, 12, [], [], previous_id=11, checksum=0))
    with pytest.raises(OutOfSync, match="checksum"):
        book.apply(Diff(13, 13, [("3366", "5")], [], previous_id=12, checksum=right))
    assert not book.synced


def test_a_crossed_book_is_out_of_sync() -> None:
    book = LocalBook(S.BYBIT)
    book.reset(1, [("100", "1")], [("101", "1")])
    with pytest.raises(OutOfSync, match="crossed"):
        book.apply(Diff(2, 2, [("101.5", "1")], []))


def test_a_diff_before_any_snapshot_is_out_of_sync() -> None:
    with pytest.raises(OutOfSync, match="before any snapshot"):
        LocalBook(S.WHITEBIT).apply(Diff(1, 1, [], [], previous_id=0))


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def test_a_book_kept_to_a_depth_is_cut_so_a_level_pushed_out_never_comes_back_stale() -> None:
    """WhiteBIT (and Bybit's 50) send no deletion for a level pushed below the subscribed
    depth, nor any news of it while it is there: the local book is cut to the depth."""

    def asks(book: LocalBook) -> list[Decimal]:
        return [price for price, _ in book.top(5)[1]]

    def diff(prev: int, uid: int, asks: list[tuple[str, str]]) -> Diff:
        return Diff(uid, uid, [("0.5", "1")], asks, previous_id=prev)

    kept, uncut = LocalBook(Sequencing.WHITEBIT, depth=3), LocalBook(Sequencing.WHITEBIT)
    for book in (kept, uncut):
        book.reset(1, [("0.5", "1")], [("1", "1"), ("2", "1"), ("3", "1")])
        book.apply(diff(1, 2, [("0.9", "1")]))  # 3 pushed out of the top 3: no message
        # 3 then leaves the book while below the top: no message either. 0.9 goes and 4,
        # now the third best, enters the top 3 the server streams.
        book.apply(diff(2, 3, [("0.9", "0"), ("4", "1")]))
    assert asks(kept) == [Decimal(1), Decimal(2), Decimal(4)]  # the server's top 3
    assert asks(uncut) == [Decimal(1), Decimal(2), Decimal(3), Decimal(4)]  # 3 is stale
