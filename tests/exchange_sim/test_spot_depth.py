"""Binance spot diff depth on the simulator: the stepped book's diffs, `depthUpdate` events
chained by U == previous u + 1, the REST snapshot they bridge, the skip fault's gap, and the
live subscription protocol on a plain /ws."""

from __future__ import annotations

import itertools
from decimal import Decimal

import aiohttp
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_support import apply, collect, frozen

from exchange_sim import SimServer
from exchange_sim.events import StreamError, parse_stream
from exchange_sim.stepped_book import Diff, SteppedBook, step_of_id

TICK = 1_000_000  # 0.01 in 1e-8 units
DEPTH_KEYS = {"e", "E", "s", "U", "u", "b", "a"}

Side = dict[Decimal, Decimal]


def walking_book(moves: list[int], start: int = 4_200_000) -> SteppedBook:
    """A spot book whose best bid moves by `moves[i]` ticks at step i (then stays)."""
    path = [start]
    for move in moves:
        path.append(max(1, path[-1] + move))
    return SteppedBook(7, "BTCUSDT", TICK, lambda ms: path[min(ms // 100, len(path) - 1)])


def as_dicts(diff: Diff) -> tuple[dict[int, int], dict[int, int]]:
    return dict(diff.bids), dict(diff.asks)


@settings(max_examples=60, deadline=None)
@given(
    moves=st.lists(st.integers(-40, 40), min_size=1, max_size=200),
    start=st.integers(0, 150),
    length=st.integers(1, 80),
    data=st.data(),
)
def test_a_diff_applied_to_a_snapshot_taken_inside_its_interval_gives_its_last_step(
    moves: list[int], start: int, length: int, data: st.DataObject
) -> None:
    # What a client does: its REST snapshot falls anywhere inside the first diff it applies.
    book = walking_book(moves)
    inside = data.draw(st.integers(start, start + length))
    local = as_dicts(book.snapshot(inside, 1000))
    apply(local, book.diff(start, start + length))
    assert local == as_dicts(book.snapshot(start + length, 1000))


def test_spot_update_ids_are_contiguous() -> None:
    book = walking_book([0])
    for step in range(1, 500):
        assert book.first_id(step) == book.last_id(step - 1) + 1 <= book.last_id(step)
        assert step_of_id(book.last_id(step)) == step


@pytest.mark.parametrize(
    ("name", "kind", "speed"),
    [("btcusdt@depth", "diff", 1000), ("btcusdt@depth@100ms", "diff", 100),
     ("btcusdt@depth20@100ms", "depth", 100), ("btcusdt@depth5", "depth", 1000)],
)  # fmt: skip
def test_diff_and_partial_stream_names(name: str, kind: str, speed: int) -> None:
    stream = parse_stream(name, ["BTCUSDT"])
    assert (stream.kind, stream.speed_ms, stream.symbol) == (kind, speed, "BTCUSDT")


@pytest.mark.parametrize("name", ["btcusdt@depth@500ms", "btcusdt@depth15", "BTCUSDT@depth"])
def test_unserved_depth_names_are_refused(name: str) -> None:
    with pytest.raises(StreamError):
        parse_stream(name, ["BTCUSDT"])


def decimals(levels: list[list[str]]) -> Side:
    return {Decimal(p): Decimal(q) for p, q in levels}


def truth(sim: SimServer, update_id: int) -> tuple[Side, Side]:
    snap = sim.state.books.get("BTCUSDT").snapshot(step_of_id(update_id), 1000)
    return (
        {Decimal(p) / 10**8: Decimal(q) / 10**8 for p, q in snap.bids},
        {Decimal(p) / 10**8: Decimal(q) / 10**8 for p, q in snap.asks},
    )


def update(side: Side, levels: list[list[str]]) -> None:
    for price, qty in decimals(levels).items():
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)


async def test_diff_events_chain_and_bridge_the_rest_snapshot(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen(clock_speed=1.0)) as sim:
        url = f"{sim.stream_url}/ws/btcusdt@depth@100ms"
        async with http.ws_connect(url) as ws:
            early = await collect(ws, 0.5)
            async with http.get(f"{sim.rest_url}/api/v3/depth?symbol=BTCUSDT&limit=1000") as r:
                snapshot = orjson.loads(await r.read())
                assert r.headers["X-MBX-USED-WEIGHT-1M"] == "50"
            late = await collect(ws, 1.5)
    events = early + late
    assert len(events) >= 12 and all(set(e) == DEPTH_KEYS for e in events)
    assert all(e["e"] == "depthUpdate" and e["s"] == "BTCUSDT" for e in events)
    for previous, event in itertools.pairwise(events):
        assert event["U"] == previous["u"] + 1 and event["U"] <= event["u"]
    # Binance's procedure: drop u <= L, the first applied has U <= L + 1 <= u.
    last = snapshot["lastUpdateId"]
    bids, asks = decimals(snapshot["bids"]), decimals(snapshot["asks"])
    assert (bids, asks) == truth(sim, last)
    kept = [e for e in events if e["u"] > last]
    assert kept[0]["U"] <= last + 1 <= kept[0]["u"]
    for event in kept:
        update(bids, event["b"])
        update(asks, event["a"])
        assert (bids, asks) == truth(sim, event["u"])


async def test_the_skip_fault_makes_one_gap(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen(clock_speed=1.0)) as sim:
        async with http.ws_connect(f"{sim.stream_url}/ws/btcusdt@depth@100ms") as ws:
            before = await collect(ws, 0.6)
            async with http.post(f"{sim.rest_url}/_sim/faults", json={"skip_diff_next": 1}) as r:
                assert (await r.json())["faults"]["skip_diff_next"] == 1
            after = await collect(ws, 1.0)
        assert sim.faults.settings.skip_diff_next == 0
    events = before + after
    gaps = [(a["u"], b["U"]) for a, b in itertools.pairwise(events) if b["U"] != a["u"] + 1]
    assert len(gaps) == 1
    (u, first) = gaps[0]
    assert first > u + 1  # the ids of the missing event are used up


async def test_partial_book_is_the_top_of_the_same_book(http: aiohttp.ClientSession) -> None:
    async with (
        SimServer(frozen()) as sim,
        http.ws_connect(f"{sim.stream_url}/ws/btcusdt@depth5@100ms") as ws,
    ):
        (first, *_) = await collect(ws, 0.3)
    assert set(first) == {"lastUpdateId", "bids", "asks"}
    bids, asks = truth(sim, first["lastUpdateId"])
    assert list(decimals(first["bids"]).items()) == list(bids.items())[:5]
    assert list(decimals(first["asks"]).items()) == list(asks.items())[:5]


@pytest.mark.parametrize("path", ["/ws", "/ws/0"])  # ccxt appends a stream index
async def test_plain_ws_takes_subscribe_unsubscribe_and_list_like_binance(
    http: aiohttp.ClientSession, path: str
) -> None:
    async with (
        SimServer(frozen(kline_push_interval=0.05)) as sim,
        http.ws_connect(sim.stream_url + path) as ws,
    ):
        assert await collect(ws, 0.3) == []  # nothing until a subscription
        await ws.send_str(
            '{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","ethusdt@depth5"],"id":1}'
        )
        assert await ws.receive_json(timeout=2) == {"result": None, "id": 1}
        pushed = await collect(ws, 0.4)
        assert {m.get("e", "depth") for m in pushed} == {"kline", "depth"}
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@kline_1m"],"id":2}')
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":3}')
        answers = [m for m in await collect(ws, 0.4) if "id" in m]
        assert answers == [{"result": None, "id": 2}, {"result": ["ethusdt@depth5"], "id": 3}]
        await ws.send_str('{"method":"SUBSCRIBE","params":["dogeusdt@depth"],"id":4}')
        error = [m for m in await collect(ws, 0.3) if "error" in m]
        assert error and error[0]["error"]["code"] == 2
