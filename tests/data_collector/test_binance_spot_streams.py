"""Binance spot books through the collector (adapters' VenueStream on the combined
`@kline_1m` + `@depth@100ms` stream) against the simulator, into the real Redis and
PostgreSQL: every published book is the simulator's book at its update id, 20 levels a side;
a skipped diff is resynced once from a REST snapshot with no wrong book published or stored,
and the resync is what `Collector.resyncs` reports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from collector_helpers import HarnessFactory, SimFactory, redis_messages, spot

from data_collector.venue_stream import VenueStream
from exchange_sim.server import SimServer
from exchange_sim.stepped_book import Level, step_of_id
from linkora_core.bus import orderbook_channels
from linkora_core.markets import BINANCE_SPOT
from tests.polling import eventually

BTC = spot("BTCUSDT")
Levels = list[tuple[Decimal, Decimal]]


@contextlib.asynccontextmanager
async def published_books(redis_url: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The book messages published on BTCUSDT's channel while the block runs."""
    received: list[dict[str, Any]] = []
    channels = [orderbook_channels(BTC)[0]]
    async with redis_messages(
        redis_url, channels, lambda _, data: received.append(orjson.loads(data))
    ):
        yield received


def _units(side: list[Level]) -> Levels:
    return [(Decimal(p) / 10**8, Decimal(q) / 10**8) for p, q in side]


def _levels(side: list[dict[str, str]]) -> Levels:
    return [(Decimal(level["price"]), Decimal(level["quantity"])) for level in side]


def wrong_books(sim: SimServer, published: list[dict[str, Any]]) -> list[int]:
    """Update ids of published books that differ from the simulator's book at that id."""
    book = sim.state.books.get("BTCUSDT")
    wrong = []
    for message in published:
        truth = book.snapshot(step_of_id(message["last_update_id"]), 20)
        if (_levels(message["bids"]), _levels(message["asks"])) != (
            _units(truth.bids),
            _units(truth.asks),
        ):
            wrong.append(message["last_update_id"])
    return wrong


# Real speed (a diff a step), and 30x with a push every 0.2 s: each diff then covers 60 steps
# and the REST snapshot falls inside the first one applied.
@pytest.mark.parametrize(
    "clock", [{}, {"clock_speed": 30.0, "depth_push_interval": 0.2}], ids=["real", "fast"]
)
async def test_spot_books_are_the_simulators_and_a_skipped_diff_is_resynced_once(
    make_sim: SimFactory,
    make_collector: HarnessFactory,
    clean_db: asyncpg.Pool,
    redis_url: str,
    clock: dict[str, float],
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **clock)
    harness = make_collector(sim)
    async with published_books(redis_url) as published:
        stream = await harness.streaming()
        assert isinstance(stream, VenueStream)
        await eventually(lambda: len(published) >= 5, within=30, what="books published")
        first = published[0]
        assert set(first) == {"symbol", "timestamp", "last_update_id", "bids", "asks"}
        assert len(first["bids"]) == 20 and len(first["asks"]) == 20
        assert harness.collector.resyncs(BINANCE_SPOT) == 0
        assert wrong_books(sim, published) == []
        ids = [m["last_update_id"] for m in published]
        assert ids == sorted(set(ids))

        sim.faults.set(skip_diff_next=1)
        await eventually(lambda: stream.resyncs >= 1, within=20, what="a resync")
        count = len(published)
        await eventually(lambda: len(published) >= count + 5, within=20, what="books again")
        assert stream.resyncs == harness.collector.resyncs(BINANCE_SPOT) == 1
        assert wrong_books(sim, published) == []  # also none between the gap and the resync
        assert stream.malformed == 0
    assert sim.stats.requests["/api/v3/depth"] == 2  # the first snapshot, the resync
    await harness.collector.store.flush()
    stored = await clean_db.fetch(
        "SELECT venue, last_update_id, cardinality(bid_prices) AS n FROM orderbook_data"
    )
    assert stored and {(r["venue"], r["n"]) for r in stored} == {("binance-spot", 20)}
    assert {r["last_update_id"] for r in stored} <= {m["last_update_id"] for m in published}
