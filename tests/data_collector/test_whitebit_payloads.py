"""WhiteBIT payload parsers against the docs' samples (docs/exchanges/whitebit.md) and the
simulator's own frames."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from data_collector import paging
from data_collector.book_sync import Diff
from data_collector.venue_stream import BookDiff, BookSnapshot
from data_collector.whitebit_payloads import (
    WHITEBIT_SPOT,
    CandleCloser,
    frame_events,
    kline_row,
    kline_rows,
    live_candle,
    market_names,
    server_time_ms,
)
from exchange_sim.candle import Candle as SimCandle
from exchange_sim.whitebit import payloads as sim_payloads
from linkora_core.candles import LiveCandle
from linkora_core.markets import Market

BTC = Market(WHITEBIT_SPOT, "BTC_USDT")
MARKETS = {"BTC_USDT": BTC}

DOC_KLINES: dict[str, Any] = {
    "success": True,
    "message": None,
    "result": [
        [1718000040, "67012.15", "67020.01", "67025.40", "67008.00", "1.204391", "80712.56100123"],
        [1718000100, "67020.01", "67016.72", "67031.99", "67011.30", "0.883102", "59181.04411210"],
    ],
}


def test_rest_klines_become_binance_rows_with_none_for_what_whitebit_does_not_publish() -> None:
    rows = kline_rows(DOC_KLINES)
    assert rows[0] == [
        1718000040000, "67012.15", "67025.40", "67008.00", "67020.01", "1.204391",
        1718000099999, "80712.56100123", None, None, None, "0",
    ]  # fmt: skip
    assert [row[0] for row in rows] == [1718000040000, 1718000100000]
    paging.check_page(rows)
    assert all(paging.finite(row) for row in rows)


def test_rest_rows_out_of_order_are_sorted_oldest_first() -> None:
    body = {**DOC_KLINES, "result": DOC_KLINES["result"][::-1]}
    assert [row[0] for row in kline_rows(body)] == [1718000040000, 1718000100000]


@pytest.mark.parametrize(
    "row",
    [
        [1718000040, "67012.15", "67020.01", "67025.40", "67008.00", "1.2"],  # 6 fields
        [1718000040.5, "1", "1", "1", "1", "1", "1"],  # float time
        [1718000041, "1", "1", "1", "1", "1", "1"],  # not on a minute
        [1718000040, 1.5, "1", "1", "1", "1", "1"],  # number, not text
        [1718000040, "NaN", "1", "1", "1", "1", "1"],
    ],
)
def test_malformed_rest_rows_are_refused(row: list[object]) -> None:
    with pytest.raises(ValueError):
        kline_row(row)


def test_error_envelopes_are_refused() -> None:
    with pytest.raises(ValueError):
        kline_rows({"success": False, "message": {"market": ["Market is not available"]}})
    with pytest.raises(ValueError):
        kline_rows({"success": True, "message": None, "result": None})


def test_simulator_kline_row_maps_back_to_its_candle() -> None:
    sim = SimCandle(1718000040000, 6701215000000, 6702540000000, 6700800000000,
                    6702001000000, 120439100, 8071256100123, 12, 0, 0)  # fmt: skip
    row = kline_row(sim_payloads.kline_row(sim))
    assert [Decimal(v) for v in row[1:6]] == [
        Decimal("67012.15"), Decimal("67025.4"), Decimal("67008"), Decimal("67020.01"),
        Decimal("1.204391"),
    ]  # fmt: skip
    assert row[8] is None


def test_time_and_markets() -> None:
    assert server_time_ms({"time": 1631451591}) == 1631451591000
    with pytest.raises(ValueError):
        server_time_ms({"time": "1631451591"})
    markets = [
        {"name": "BTC_USDT", "stock": "BTC", "money": "USDT", "type": "spot"},
        {"name": "BTC_PERP", "stock": "BTC", "money": "USDT", "type": "futures"},
    ]
    assert market_names(markets) == ["BTC_USDT"]


def candles_update(*rows: list[object]) -> str:
    return orjson.dumps({"id": None, "method": "candles_update", "params": list(rows)}).decode()


ROW_T = [1718000100, "67020.01", "67016.72", "67031.99", "67011.30", "0.883102",
         "59181.04411210", "BTC_USDT"]  # fmt: skip


def test_candle_update_is_an_open_candle_of_its_market() -> None:
    live = live_candle(BTC, ROW_T, closed=False)
    c = live.candle
    assert (c.open_time_ms, c.open, c.high, c.low, c.close) == (
        1718000100000, Decimal("67020.01"), Decimal("67031.99"), Decimal("67011.30"),
        Decimal("67016.72"),
    )  # fmt: skip
    assert (c.volume, c.quote_volume, c.trades) == (
        Decimal("0.883102"),
        Decimal("59181.04411210"),
        None,
    )
    assert c.close_time_ms == 1718000159999


def test_a_minute_closes_with_its_last_state_when_the_next_minute_starts() -> None:
    closer = CandleCloser()
    first = [*ROW_T[:2], "67017", *ROW_T[3:]]
    final = [*ROW_T[:2], "67018.5", *ROW_T[3:]]
    later = [1718000160, "67018.5", "67019", "67019", "67018.5", "0.1", "6701.9", "BTC_USDT"]

    def seen(row: list[object]) -> list[tuple[int, Decimal, bool]]:
        events = frame_events(candles_update(row), MARKETS, closer)
        return [(e.candle.open_time_ms, e.candle.close, e.closed)
                for e in events if isinstance(e, LiveCandle)]  # fmt: skip

    assert seen(first) == [(1718000100000, Decimal("67017"), False)]
    assert seen(final) == [(1718000100000, Decimal("67018.5"), False)]
    assert seen(later) == [
        (1718000100000, Decimal("67018.5"), True),
        (1718000160000, Decimal("67019"), False),
    ]
    assert seen(final) == [(1718000100000, Decimal("67018.5"), True)]  # late: still closed
    closer.reset()  # a new connection trusts nothing seen before
    assert seen(later) == [(1718000160000, Decimal("67019"), False)]


def test_candles_of_other_markets_and_replies_give_nothing() -> None:
    closer = CandleCloser()
    other = [*ROW_T[:7], "ETH_USDT"]
    assert frame_events(candles_update(other), MARKETS, closer) == []
    assert frame_events('{"id":0,"result":"pong","error":null}', MARKETS, closer) == []
    ack = '{"id":1,"result":{"status":"success"},"error":null}'
    assert frame_events(ack, MARKETS, closer) == []
    with pytest.raises(ValueError):
        error = '{"id":1,"result":null,"error":{"code":1,"message":"invalid argument"}}'
        frame_events(error, MARKETS, closer)


DOC_SNAPSHOT: dict[str, Any] = {"id": None, "method": "depth_update", "params": [True,
    {"timestamp": 1718000123.516447, "update_id": 9120044, "event_time": 1718000123.517101,
     "asks": [["67020.02", "0.412"], ["67020.5", "0.05"]],
     "bids": [["67019.99", "0.7312"], ["67019.1", "1"]]}, "BTC_USDT"]}  # fmt: skip
DOC_DELTA: dict[str, Any] = {"id": None, "method": "depth_update", "params": [False,
    {"timestamp": 1718000123.616902, "update_id": 9120051, "past_update_id": 9120044,
     "event_time": 1718000123.617550,
     "asks": [["67020.02", "0"], ["67021", "0.2"]], "bids": [["67019.99", "0.9"]]},
    "BTC_USDT"]}  # fmt: skip


def test_depth_snapshot_and_delta_of_the_docs() -> None:
    closer = CandleCloser()
    (snapshot,) = frame_events(orjson.dumps(DOC_SNAPSHOT), MARKETS, closer)
    assert snapshot == BookSnapshot(
        BTC, 9120044, [("67019.99", "0.7312"), ("67019.1", "1")],
        [("67020.02", "0.412"), ("67020.5", "0.05")],
    )  # fmt: skip
    (delta,) = frame_events(orjson.dumps(DOC_DELTA), MARKETS, closer)
    assert delta == BookDiff(
        BTC,
        Diff(9120051, 9120051, [("67019.99", "0.9")], [("67020.02", "0"), ("67021", "0.2")],
             previous_id=9120044),
    )  # fmt: skip


def test_simulator_depth_frames_parse() -> None:
    body = sim_payloads.depth_delta(1718000123616, 9, 7, [(100_000_000, 0)], [])
    frame = orjson.dumps(sim_payloads.push("depth_update", [False, body, "BTC_USDT"]))
    (delta,) = frame_events(frame, MARKETS, CandleCloser())
    assert isinstance(delta, BookDiff)
    assert delta.diff == Diff(9, 9, [], [("1", "0")], previous_id=7)


def test_malformed_depth_frames_are_refused() -> None:
    bad = {**DOC_SNAPSHOT, "params": ["true", DOC_SNAPSHOT["params"][1], "BTC_USDT"]}
    with pytest.raises(ValueError):
        frame_events(orjson.dumps(bad), MARKETS, CandleCloser())
    body = {**DOC_DELTA["params"][1], "update_id": "9120051"}
    with pytest.raises(ValueError):
        frame_events(orjson.dumps({**DOC_DELTA, "params": [False, body, "BTC_USDT"]}),
                     MARKETS, CandleCloser())  # fmt: skip
