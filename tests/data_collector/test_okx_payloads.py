"""OKX payload parsing: the docs' sample payloads and the simulator's, into kline rows in
Binance's layout and stream events, and the books' sequence kept by LocalBook."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from data_collector import okx_payloads, paging
from data_collector.book_sync import LocalBook, OutOfSync, Sequencing, okx_checksum
from data_collector.venue_stream import BookDiff, BookSnapshot, Reconnect
from exchange_sim.candle import UNIT
from exchange_sim.candle import Candle as SimCandle
from exchange_sim.okx import payloads as sim_payloads
from exchange_sim.okx.instruments import lookup
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.markets import Exchange, Kind, Market, Venue

SPOT = Venue(Exchange.OKX, Kind.SPOT)
SWAP = Venue(Exchange.OKX, Kind.SWAP)

# docs/exchanges/okx.md section 2 (spot BTC-USDT), newest first.
DOCS_REST = [
    ["1764748800000", "91870.1", "91880", "91861.2", "91875.4", "3.21845", "295689.7",
     "295689.7", "0"],
    ["1764748740000", "91852.3", "91874", "91850", "91870.1", "5.10233", "468741.2",
     "468741.2", "1"],
]  # fmt: skip
DOCS_CANDLE_PUSH = (
    '{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[["1764748800000",'
    '"91870.1","91880","91861.2","91875.4","321.8","3.218","295689.7","0"]]}'
)
DOCS_SNAPSHOT = (
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{'
    '"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],'
    '"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],'
    '"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
)
DOCS_UPDATE = (
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{'
    '"asks":[["8477","0","0","0"]],"bids":[["8476.5","3","0","1"]],'
    '"ts":"1597026383185","checksum":123,"prevSeqId":123456,"seqId":123457}]}'
)


def test_rest_rows_become_binance_rows_oldest_first_without_the_forming_minute() -> None:
    rows = okx_payloads.closed_rows(DOCS_REST, SPOT)
    assert rows == [
        [1764748740000, "91852.3", "91874", "91850", "91870.1", "5.10233", 1764748799999,
         "468741.2", None, None, None, "0"],
    ]  # fmt: skip
    paging.check_page(rows, paging.Window(1764748740000, 1764748800000))
    assert paging.finite(rows[0])
    candle = parse_kline(rows[0])
    assert candle.trades is None and candle.taker_buy_volume is None
    assert candle.volume == Decimal("5.10233") and candle.quote_volume == Decimal("468741.2")


def test_swap_rows_take_the_base_volume_from_vol_ccy_not_contracts() -> None:
    row = ["1764748740000", "91852.3", "91874", "91850", "91870.1", "510.233", "5.10233",
           "468741.2", "1"]  # fmt: skip
    assert okx_payloads.binance_row(row, SWAP)[5] == "5.10233"
    assert okx_payloads.binance_row(row, SPOT)[5] == "510.233"


@pytest.mark.parametrize(
    "row",
    [
        ["1764748740000", "1", "1", "1", "1", "1", "1", "1"],  # 8 fields
        ["1764748740000", "1", "1", "1", "1", "1", "1", "1", 1],  # confirm not text
        ["-1", "1", "1", "1", "1", "1", "1", "1", "1"],
        ["1764748740000", "1", "1", "1", "1", "1", "1", "1", "2"],
    ],
)
def test_malformed_rows_are_refused(row: list[object]) -> None:
    with pytest.raises(ValueError, match="candle"):
        okx_payloads.closed_rows([row], SPOT)


def test_simulator_rows_match_its_series_for_spot_and_swap() -> None:
    sim = SimCandle(1764748740000, 9_185_230 * UNIT // 100, 9_187_400 * UNIT // 100,
                    9_185_000 * UNIT // 100, 9_187_010 * UNIT // 100, 51_023_300,
                    468_741_20 * UNIT // 100, 17, 0, 0)  # fmt: skip
    for venue, inst_id in ((SPOT, "BTC-USDT"), (SWAP, "BTC-USDT-SWAP")):
        inst = lookup(inst_id, ["BTCUSDT"])
        assert inst is not None
        row = sim_payloads.candle_row(inst, sim, True)
        [ours] = okx_payloads.closed_rows([row], venue)
        candle = parse_kline(ours)
        assert candle.open == Decimal("91852.3") and candle.close == Decimal("91870.1")
        assert candle.volume == Decimal("0.510233")  # base currency on both
        assert candle.quote_volume == Decimal("468741.2")


def test_candle_push_is_a_live_candle_closed_only_with_confirm_1() -> None:
    [event] = okx_payloads.parse_frame(DOCS_CANDLE_PUSH, SWAP)
    assert isinstance(event, LiveCandle)
    assert event.market == Market(SWAP, "BTC-USDT-SWAP") and not event.closed
    assert event.candle.open_time_ms == 1764748800000
    assert event.candle.volume == Decimal("3.218") and event.candle.trades is None
    closed = DOCS_CANDLE_PUSH.replace('"0"]]', '"1"]]')
    [event] = okx_payloads.parse_frame(closed, SWAP)
    assert isinstance(event, LiveCandle) and event.closed


def test_books_snapshot_and_update_carry_seq_ids_and_the_levels_text() -> None:
    [snapshot] = okx_payloads.parse_frame(DOCS_SNAPSHOT, SPOT)
    assert snapshot == BookSnapshot(
        Market(SPOT, "BTC-USDT"),
        123456,
        [("8476.97", "256"), ("8475.55", "101")],
        [("8476.98", "415"), ("8477", "7")],
    )
    [update] = okx_payloads.parse_frame(DOCS_UPDATE, SPOT)
    assert isinstance(update, BookDiff)
    diff = update.diff
    assert (diff.first_id, diff.last_id, diff.previous_id, diff.checksum) == (
        123457, 123457, 123456, 123,
    )  # fmt: skip
    assert diff.bids == [("8476.5", "3")] and diff.asks == [("8477", "0")]
    zero = okx_payloads.parse_frame(DOCS_UPDATE.replace('"checksum":123', '"checksum":0'), SPOT)
    assert isinstance(zero[0], BookDiff) and zero[0].diff.checksum is None


def test_simulator_book_frames_keep_a_local_book_whose_checksum_matches() -> None:
    inst = lookup("BTC-USDT", ["BTCUSDT"])
    assert inst is not None
    bids = [(4_200_000 * UNIT // 100, 2 * UNIT), (4_199_990 * UNIT // 100, UNIT // 2)]
    asks = [(4_200_010 * UNIT // 100, 3 * UNIT)]
    sides: dict[str, object] = {
        "asks": sim_payloads.levels(inst, asks),
        "bids": sim_payloads.levels(inst, bids),
        "ts": "1",
    }
    frame = sim_payloads.book_push("BTC-USDT", "snapshot", sides, 0, -1, 40)
    [snapshot] = okx_payloads.parse_frame(orjson.dumps(frame).decode(), SPOT)
    assert isinstance(snapshot, BookSnapshot)
    book = LocalBook(Sequencing.OKX)
    book.reset(snapshot.update_id, snapshot.bids, snapshot.asks)
    change: dict[str, object] = {
        "asks": [],
        "bids": sim_payloads.levels(inst, [(bids[1][0], 0)]),
        "ts": "2",
    }
    expected = okx_checksum([("42000", "2")], [("42000.1", "3")])
    frame = sim_payloads.book_push("BTC-USDT", "update", change, expected, 40, 57)
    [update] = okx_payloads.parse_frame(orjson.dumps(frame).decode(), SPOT)
    assert isinstance(update, BookDiff)
    assert book.apply(update.diff)
    assert book.last_id == 57
    assert book.top(20) == (((Decimal(42000), Decimal(2)),), ((Decimal("42000.1"), Decimal(3)),))


def test_the_docs_worked_sequence_is_accepted_and_a_gap_is_not() -> None:
    """snapshot (-1, 10), update (10, 15), no change (15, 15), reset (15, 3), update (3, 5)."""
    book = LocalBook(Sequencing.OKX)
    book.reset(10, [("8476.97", "256")], [("8476.98", "415")])
    for previous, seq in ((10, 15), (15, 15), (15, 3), (3, 5)):
        frame = DOCS_UPDATE.replace('"prevSeqId":123456', f'"prevSeqId":{previous}')
        frame = frame.replace('"seqId":123457', f'"seqId":{seq}')
        frame = frame.replace('"checksum":123', '"checksum":0')
        [event] = okx_payloads.parse_frame(frame, SPOT)
        assert isinstance(event, BookDiff)
        book.apply(event.diff)
    assert book.last_id == 5
    gap = DOCS_UPDATE.replace('"checksum":123', '"checksum":0').replace("123456", "6")
    [event] = okx_payloads.parse_frame(gap, SPOT)
    assert isinstance(event, BookDiff)
    with pytest.raises(OutOfSync):
        book.apply(event.diff)


def test_control_frames() -> None:
    assert okx_payloads.parse_frame("pong", SPOT) == []
    ack = '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}'
    assert okx_payloads.parse_frame(ack, SPOT) == []
    notice = ('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a '
              'service upgrade. Please reconnect.","connId":"a4d3ae55"}')  # fmt: skip
    [event] = okx_payloads.parse_frame(notice, SPOT)
    assert isinstance(event, Reconnect)
    error = '{"event":"error","code":"60012","msg":"Invalid request: x","connId":"a4d3ae55"}'
    with pytest.raises(ValueError, match="60012"):
        okx_payloads.parse_frame(error, SPOT)


@pytest.mark.parametrize(
    "frame",
    [
        DOCS_UPDATE.replace('"seqId":123457', '"seqId":"123457"'),
        DOCS_UPDATE.replace('["8476.5","3","0","1"]', '[8476.5,"3","0","1"]'),
        DOCS_UPDATE.replace('["8476.5","3","0","1"]', '["NaN","3","0","1"]'),
        DOCS_UPDATE.replace('"update"', '"partial"'),
        DOCS_SNAPSHOT.replace('"prevSeqId":-1', '"prevSeqId":5'),
        DOCS_CANDLE_PUSH.replace('"candle1m"', '"candle5m"'),
        "[1, 2]",
    ],
)
def test_malformed_frames_raise_what_venue_stream_counts(frame: str) -> None:
    with pytest.raises((ValueError, KeyError, TypeError, IndexError)):
        okx_payloads.parse_frame(frame, SPOT)
