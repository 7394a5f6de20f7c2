"""Binance USDⓈ-M payloads -> kline rows, candles and book events (the docs' samples and the
simulator's own frames)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import orjson
import pytest

from data_collector import paging
from data_collector.binance_futures_payloads import (
    BINANCE_USDM,
    combined_url,
    kline_rows,
    parse_frame,
    parse_snapshot,
)
from data_collector.book_sync import Diff, LocalBook, OutOfSync, Sequencing, WireLevel
from data_collector.venue_stream import BookDiff, Reconnect
from exchange_sim.config import SimConfig
from exchange_sim.events import combined, kline_event
from exchange_sim.futures.books import Books
from exchange_sim.futures.payloads import depth_event, levels
from exchange_sim.state import SimState
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.markets import Market

BTC = Market(BINANCE_USDM, "BTCUSDT")

# docs/exchanges/binance.md §3, §4 and §5.
DOC_ROWS = b"""[[1767225600000,"87412.30","87440.00","87398.10","87431.70","152.318",1767225659999,
  "13315742.81624",2874,"81.007","7081796.44210","0"]]"""
DOC_KLINE = b"""{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1767225655123,"s":"BTCUSDT",
 "k":{"t":1767225600000,"T":1767225659999,"s":"BTCUSDT","i":"1m","f":6712093811,"L":6712096684,
 "o":"87412.30","c":"87431.70","h":"87440.00","l":"87398.10","v":"152.318","n":2874,"x":false,
 "q":"13315742.81624","V":"81.007","Q":"7081796.44210","B":"0"}}}"""
DOC_DIFF = b"""{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1767225600321,
 "T":1767225600316,"s":"BTCUSDT","U":9301245511950,"u":9301245512104,"pu":9301245511948,
 "b":[["87412.20","4.790"],["87405.00","0"]],"a":[["87412.30","0.980"]]}}"""
DOC_DEPTH = b"""{"lastUpdateId":9301245511990,"E":1767225600221,"T":1767225600214,
 "bids":[["87412.20","4.512"],["87412.10","0.039"]],
 "asks":[["87412.30","1.207"],["87412.40","0.310"]]}"""


def test_kline_rows_keep_the_exchange_text_and_pass_the_seam_checks() -> None:
    rows = kline_rows(orjson.loads(DOC_ROWS))
    paging.check_page(rows)
    assert paging.finite(rows[0])
    candle = parse_kline(rows[0])
    assert rows[0][1] == "87412.30" and rows[0][8] == 2874
    assert candle.close_time_ms == candle.open_time_ms + 59_999
    assert candle.taker_buy_quote_volume == Decimal("7081796.44210")


@pytest.mark.parametrize("body", [{}, [[1, "2"]], ["row"], None])
def test_kline_answers_not_shaped_as_rows_are_refused(body: object) -> None:
    with pytest.raises(ValueError):
        kline_rows(body)


def test_the_docs_kline_frame_is_an_open_candle_of_the_futures_market() -> None:
    [event] = parse_frame(DOC_KLINE)
    assert isinstance(event, LiveCandle)
    assert event.market == BTC and not event.closed
    assert event.candle.close == Decimal("87431.70") and event.candle.trades == 2874


def test_the_docs_diff_frame_carries_U_u_and_pu() -> None:
    [event] = parse_frame(DOC_DIFF)
    assert isinstance(event, BookDiff) and event.market == BTC
    diff = event.diff
    assert (diff.first_id, diff.last_id, diff.previous_id) == (
        9301245511950,
        9301245512104,
        9301245511948,
    )
    assert diff.bids == [("87412.20", "4.790"), ("87405.00", "0")]
    assert diff.asks == [("87412.30", "0.980")]


def test_the_docs_snapshot_then_diff_follow_the_futures_rule() -> None:
    snapshot = parse_snapshot(BTC, orjson.loads(DOC_DEPTH))
    assert snapshot.update_id == 9301245511990
    assert snapshot.bids[0] == ("87412.20", "4.512")
    book = LocalBook(Sequencing.BINANCE_FUTURES)
    book.reset(snapshot.update_id, snapshot.bids, snapshot.asks)
    [event] = parse_frame(DOC_DIFF)
    assert isinstance(event, BookDiff)
    assert book.apply(event.diff)  # U <= lastUpdateId <= u
    bids, _ = book.top(20)
    assert bids[0] == (Decimal("87412.20"), Decimal("4.790"))


def test_acks_give_nothing_and_errors_or_bad_ids_are_malformed() -> None:
    assert parse_frame(b'{"result":null,"id":1}') == []
    with pytest.raises(ValueError):
        parse_frame(b'{"error":{"code":2,"msg":"Invalid request"},"id":1}')
    bad = orjson.loads(DOC_DIFF)
    bad["data"]["pu"] = "9301245511948"
    with pytest.raises(TypeError):
        parse_frame(orjson.dumps(bad))
    assert isinstance(parse_frame(b'{"stream":"x","data":{"e":"serverShutdown"}}')[0], Reconnect)


def test_urls_use_the_market_route_for_klines_and_public_for_books() -> None:
    assert combined_url("wss://fstream.binance.com/", "market", ["BTCUSDT", "ETHUSDT"]) == (
        "wss://fstream.binance.com/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
    )
    assert combined_url("ws://h:1/fstream", "public", ["BTCUSDT"]) == (
        "ws://h:1/fstream/public/stream?streams=btcusdt@depth@100ms"
    )


def wire(side: Sequence[tuple[int, int]]) -> list[WireLevel]:
    return [(price, quantity) for price, quantity in levels(side)]


def test_the_simulators_frames_chain_into_a_book_and_a_gap_is_seen() -> None:
    state = SimState.create(SimConfig(symbols=("BTCUSDT",), start="2024-01-01", seed=3))
    book = Books(state.market).get("BTCUSDT")
    step = 17_100_000_000
    snap = book.snapshot(step, 1000)
    local = LocalBook(Sequencing.BINANCE_FUTURES)
    local.reset(book.last_id(step), wire(snap.bids), wire(snap.asks))

    def frame(old: int, new: int) -> bytes:
        diff = book.diff(old, new)
        event = depth_event(
            "BTCUSDT", now_ms=new * 100, engine_ms=new * 100, first=book.first_id(old + 1),
            last=book.last_id(new), previous=book.last_id(old), bids=diff.bids, asks=diff.asks,
        )  # fmt: skip
        return orjson.dumps(combined("btcusdt@depth@100ms", event))

    # The event covering the snapshot's own step straddles its lastUpdateId (U <= L <= u).
    for old in range(step - 1, step + 5):
        [event] = parse_frame(frame(old, old + 1))
        assert isinstance(event, BookDiff)
        assert local.apply(event.diff)
    later = book.snapshot(step + 5, 20)
    bids, asks = local.top(20)
    assert [[str(p), str(q)] for p, q in bids] == levels(later.bids)
    assert [[str(p), str(q)] for p, q in asks] == levels(later.asks)
    [skipped] = parse_frame(frame(step + 6, step + 7))  # the diff of step + 6 never came
    assert isinstance(skipped, BookDiff)
    with pytest.raises(OutOfSync):
        local.apply(skipped.diff)


def test_the_simulators_kline_frame_has_the_closed_flag() -> None:
    state = SimState.create(SimConfig(symbols=("BTCUSDT",), start="2024-01-01", seed=3))
    store = state.market.stores["BTCUSDT"]
    open_ms = 1_704_067_200_000 + 600_000
    candle = store.live_bucket("1m", open_ms, open_ms + 60_000)
    assert candle is not None
    frame = combined("btcusdt@kline_1m", kline_event("BTCUSDT", "1m", candle, True, open_ms))
    [event] = parse_frame(orjson.dumps(frame))
    assert isinstance(event, LiveCandle) and event.closed and event.market == BTC
    row = state.market.klines("BTCUSDT", open_ms, open_ms)[0]
    assert event.candle == parse_kline(row)


def test_a_snapshot_ending_where_the_last_diff_did_bridges_on_pu() -> None:
    # The diff ending at the snapshot's id was consumed before the snapshot came (the one
    # that showed a gap): the next diff starts past it but names it as its `pu`.
    book = LocalBook(Sequencing.BINANCE_FUTURES)
    book.reset(680, [("100.0", "1")], [("100.1", "1")])
    assert book.apply(Diff(683, 720, [("100.0", "2")], [], previous_id=680))
    book.reset(760, [("100.0", "1")], [("100.1", "1")])
    with pytest.raises(OutOfSync):
        book.apply(Diff(763, 800, [], [], previous_id=759))
