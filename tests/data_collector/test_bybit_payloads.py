"""Bybit payload parsers against the samples of docs/exchanges/bybit.md and the simulator's
own wire shapes (exchange_sim.bybit.payloads). The docs' sample start times are 40 s off the
minute (illustrative); here they are moved onto it (1717999980000)."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from data_collector import bybit_payloads as payloads
from data_collector import paging
from data_collector.book_sync import Diff, LocalBook, OutOfSync, Sequencing
from data_collector.bybit_rest import BYBIT_LINEAR, BYBIT_SPOT
from data_collector.venue_stream import BookDiff, BookSnapshot
from exchange_sim.bybit import payloads as sim
from exchange_sim.candle import Candle as SimCandle
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.markets import Market

DOC_KLINES = [
    ["1718000040000", "67010.5", "67021.2", "67001.0", "67015.3", "1.204311", "80702.84451"],
    ["1717999980000", "66998.1", "67012.0", "66990.4", "67010.5", "2.019874", "135317.90122"],
]
DOC_WS_KLINE = (
    '{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":1718000039987,'
    '"data":[{"start":1717999980000,"end":1718000039999,"interval":"1",'
    '"open":"66998.1","close":"67010.5","high":"67012","low":"66990.4",'
    '"volume":"2.019874","turnover":"135317.90122",'
    '"confirm":true,"timestamp":1718000039987}]}'
)
DOC_SNAPSHOT = (
    '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1718000060015,'
    '"data":{"s":"BTCUSDT","b":[["67010.4","1.052"],["67010.3","0.210"]],'
    '"a":[["67010.5","0.830"],["67010.9","0.004"]],"u":18521288,"seq":71234458110},'
    '"cts":1718000060003}'
)
DOC_DELTA = (
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1718000060035,'
    '"data":{"s":"BTCUSDT","b":[["67010.3","0"],["67009.8","0.500"]],"a":[],'
    '"u":18521289,"seq":71234458160},"cts":1718000060021}'
)
DOC_PONG = (
    '{"success":true,"ret_msg":"pong","conn_id":"465772b1-7630-4fdc-a492-e003e6f0f260",'
    '"req_id":"","op":"ping"}'
)
DOC_ACK = (
    '{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b",'
    '"req_id":"k1","op":"subscribe"}'
)
SIM_CANDLE = SimCandle(
    1717999980000, 6699810000000, 6701200000000, 6699040000000, 6701050000000,
    201987400, 13531790122000, 17, 100000000, 6700000000000,
)  # fmt: skip


def test_doc_kline_rows_become_binance_rows_oldest_first_with_none_for_the_unpublished() -> None:
    rows = payloads.kline_rows(DOC_KLINES)
    assert rows == [
        [1717999980000, "66998.1", "67012.0", "66990.4", "67010.5", "2.019874",
         1718000039999, "135317.90122", None, None, None, "0"],
        [1718000040000, "67010.5", "67021.2", "67001.0", "67015.3", "1.204311",
         1718000099999, "80702.84451", None, None, None, "0"],
    ]  # fmt: skip
    paging.check_page(rows)
    assert all(paging.finite(row) for row in rows)
    candle = parse_kline(rows[0])
    assert (candle.trades, candle.taker_buy_volume, candle.taker_buy_quote_volume) == (
        None,
        None,
        None,
    )
    assert candle.quote_volume == Decimal("135317.90122")


def test_simulator_kline_rows_parse_to_the_same_exact_text() -> None:
    later = SIM_CANDLE._replace(open_ms=SIM_CANDLE.open_ms + 60_000)
    page = sim.kline_page("spot", "BTCUSDT", [SIM_CANDLE, later])
    rows = payloads.kline_rows(page["list"])
    assert [row[0] for row in rows] == [SIM_CANDLE.open_ms, later.open_ms]
    assert rows[0][1:6] == ["66998.1", "67012", "66990.4", "67010.5", "2.019874"]
    assert rows[0][7] == "135317.90122"


@pytest.mark.parametrize(
    "bad",
    [
        [["1717999980000", "1", "1", "1", "1", "1"]],  # six fields
        [[1717999980000, "1", "1", "1", "1", "1", "1"]],  # start not a string
        [["17180000x0000", "1", "1", "1", "1", "1", "1"]],
        {"list": []},
    ],
)
def test_malformed_kline_lists_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        payloads.kline_rows(bad)


def test_doc_ws_kline_is_a_closed_live_candle_of_the_stream_venue() -> None:
    (live,) = payloads.parse_frame(DOC_WS_KLINE, BYBIT_LINEAR)
    assert isinstance(live, LiveCandle) and live.closed
    assert live.market == Market(BYBIT_LINEAR, "BTCUSDT")
    c = live.candle
    assert (c.open_time_ms, c.open, c.high, c.low, c.close) == (
        1717999980000, Decimal("66998.1"), Decimal("67012"), Decimal("66990.4"),
        Decimal("67010.5"),
    )  # fmt: skip
    assert (c.volume, c.quote_volume) == (Decimal("2.019874"), Decimal("135317.90122"))
    assert (c.trades, c.taker_buy_volume, c.taker_buy_quote_volume) == (None, None, None)


def test_simulator_ws_kline_open_and_confirmed() -> None:
    for confirm in (False, True):
        item = sim.ws_kline(SIM_CANDLE, "1", SIM_CANDLE.open_ms + 59_999, confirm, 1718000030000)
        frame = orjson.dumps(sim.topic_push("kline.1.ETHUSDT", 1718000030000, [item]))
        (live,) = payloads.parse_frame(frame, BYBIT_SPOT)
        assert isinstance(live, LiveCandle)
        assert live.closed is confirm
        assert live.market == Market(BYBIT_SPOT, "ETHUSDT")
        assert live.candle.close == Decimal("67010.5")


def test_a_kline_of_another_interval_or_width_is_malformed() -> None:
    message = orjson.loads(DOC_WS_KLINE)
    message["data"][0]["interval"] = "5"
    with pytest.raises(ValueError):
        payloads.parse_frame(orjson.dumps(message), BYBIT_SPOT)
    message["data"][0].update(interval="1", end=1718000099999)
    with pytest.raises(ValueError):
        payloads.parse_frame(orjson.dumps(message), BYBIT_SPOT)


def test_doc_book_snapshot_then_delta_keep_a_book_under_bybit_sequencing() -> None:
    (snapshot,) = payloads.parse_frame(DOC_SNAPSHOT, BYBIT_SPOT)
    (delta,) = payloads.parse_frame(DOC_DELTA, BYBIT_SPOT)
    assert snapshot == BookSnapshot(
        Market(BYBIT_SPOT, "BTCUSDT"), 18521288,
        [("67010.4", "1.052"), ("67010.3", "0.210")],
        [("67010.5", "0.830"), ("67010.9", "0.004")],
    )  # fmt: skip
    assert delta == BookDiff(
        Market(BYBIT_SPOT, "BTCUSDT"),
        Diff(18521289, 18521289, [("67010.3", "0"), ("67009.8", "0.500")], []),
    )
    assert isinstance(snapshot, BookSnapshot) and isinstance(delta, BookDiff)
    book = LocalBook(Sequencing.BYBIT)
    book.reset(snapshot.update_id, snapshot.bids, snapshot.asks)
    assert book.apply(delta.diff)
    bids, asks = book.top(20)
    assert bids == ((Decimal("67010.4"), Decimal("1.052")), (Decimal("67009.8"), Decimal("0.5")))
    assert asks[0] == (Decimal("67010.5"), Decimal("0.83"))
    skipped = Diff(18521291, 18521291, [], [])
    with pytest.raises(OutOfSync):
        book.apply(skipped)


def test_a_restart_snapshot_with_u_1_replaces_the_book() -> None:
    message = orjson.loads(DOC_SNAPSHOT)
    message["data"]["u"] = 1
    (snapshot,) = payloads.parse_frame(orjson.dumps(message), BYBIT_LINEAR)
    assert isinstance(snapshot, BookSnapshot) and snapshot.update_id == 1
    book = LocalBook(Sequencing.BYBIT)
    book.reset(18521300, [("1", "1")], [("2", "1")])
    book.reset(snapshot.update_id, snapshot.bids, snapshot.asks)
    assert book.apply(Diff(2, 2, [("67010.4", "2")], []))


def test_simulator_book_push_parses() -> None:
    data = sim.book_data("BTCUSDT", [(6701040000000, 105200000)], [], 7, 70)
    frame = orjson.dumps(sim.book_push("orderbook.50.BTCUSDT", "delta", 1, data, 0))
    (event,) = payloads.parse_frame(frame, BYBIT_LINEAR)
    assert event == BookDiff(
        Market(BYBIT_LINEAR, "BTCUSDT"), Diff(7, 7, [("67010.4", "1.052")], [])
    )


SIM_LINEAR_ACK = orjson.dumps(sim.op_reply("subscribe", "c", "", ret_msg="")).decode()


@pytest.mark.parametrize("frame", [DOC_PONG, DOC_ACK, SIM_LINEAR_ACK])
def test_acks_and_pongs_give_no_events(frame: str) -> None:
    assert payloads.parse_frame(frame, BYBIT_SPOT) == []


def test_a_refused_subscribe_gives_no_events_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = orjson.dumps(
        sim.op_reply("subscribe", "c", "", success=False, ret_msg="error:handler not found")
    )
    assert payloads.parse_frame(frame, BYBIT_SPOT) == []
    assert "error:handler not found" in caplog.text


@pytest.mark.parametrize(
    "change",
    [
        {"type": "partial"},
        {"data": {"s": "BTCUSDT", "b": [], "a": [], "u": "5"}},
        {"data": {"s": "BTCUSDT", "b": [["1"]], "a": [], "u": 5}},
        {"data": {"s": "BTCUSDT", "b": [["1", "NaN"]], "a": [], "u": 5}},
        {"data": {"s": "BTCUSDT", "b": [[1, "2"]], "a": [], "u": 5}},
    ],
)
def test_malformed_book_frames_are_refused(change: dict[str, object]) -> None:
    message = {**orjson.loads(DOC_DELTA), **change}
    with pytest.raises(ValueError):
        payloads.parse_frame(orjson.dumps(message), BYBIT_SPOT)


def test_time_and_instruments_results() -> None:
    result = {"timeSecond": "1718000000", "timeNano": "1718000000123456789"}
    assert payloads.server_ms(result) == 1718000000123
    found, cursor = payloads.instruments(
        {"category": "linear", "nextPageCursor": "", "list": [
            {"symbol": "BTCUSDT", "status": "Trading", "launchTime": "1585526400000"}]}
    )  # fmt: skip
    assert cursor == "" and payloads.launch_ms(found["BTCUSDT"]) == 1585526400000
    spot, _ = payloads.instruments({"category": "spot", "list": [{"symbol": "ETHUSDT"}]})
    assert payloads.launch_ms(spot["ETHUSDT"]) is None
