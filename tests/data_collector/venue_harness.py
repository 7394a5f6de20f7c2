"""The whole `Collector` wired to the simulator for one or more venues other than Binance spot
(the URLs devstack gives it offline), and what the end-to-end tests compare it against: the
simulator's series and, per venue, the simulator's own order book at an update id."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

from data_collector import adapters
from data_collector.bybit_protocol import book_topic
from data_collector.bybit_rest import BYBIT_LINEAR, BYBIT_SPOT
from data_collector.collector import Collector
from data_collector.exchange import ExchangeRest
from data_collector.publisher import Publisher
from data_collector.settings import CollectorSettings
from data_collector.whitebit_payloads import WHITEBIT_SPOT
from exchange_sim.bybit.payloads import plain
from exchange_sim.futures.book import step_of_id
from exchange_sim.okx import payloads as okx_payloads
from exchange_sim.okx.instruments import lookup
from exchange_sim.server import SimServer
from linkora_core.books import Level
from linkora_core.epoch import to_datetime
from linkora_core.markets import Exchange, Kind, Market, Venue

BINANCE_USDM = adapters.BINANCE_USDM
OKX_SPOT = Venue(Exchange.OKX, Kind.SPOT)
OKX_SWAP = Venue(Exchange.OKX, Kind.SWAP)
SERIES = "BTCUSDT"  # the simulator's series every venue's BTC/USDT market is served from
MARKETS: tuple[Market, ...] = (
    Market(BINANCE_USDM, "BTCUSDT"),
    Market(BYBIT_SPOT, "BTCUSDT"),
    Market(BYBIT_LINEAR, "BTCUSDT"),
    Market(OKX_SPOT, "BTC-USDT"),
    Market(OKX_SWAP, "BTC-USDT-SWAP"),
    Market(WHITEBIT_SPOT, "BTC_USDT"),
)
# Only Binance publishes trade counts and taker volumes; elsewhere they are stored NULL.
FULL_ROWS = frozenset({BINANCE_USDM})
PRICE_COLUMNS = ("open_price", "high_price", "low_price", "close_price", "volume")
Top = tuple[tuple[Level, ...], tuple[Level, ...]]
Sources = Callable[[aiohttp.ClientSession], Mapping[Venue, ExchangeRest]]


def venue_settings(
    sim: SimServer, markets: list[Market], start_ms: int, **overrides: Any
) -> CollectorSettings:
    """Collector settings for `markets` alone, every exchange's hosts on the simulator."""
    rest, stream = sim.rest_url, sim.stream_url
    values: dict[str, Any] = {
        "binance_base_url": rest,
        "binance_stream_url": stream,
        "binance_futures_base_url": rest,
        "binance_futures_stream_url": f"{stream}/fstream",
        "bybit_base_url": rest,
        "bybit_stream_url": stream,
        "okx_base_url": rest,
        "okx_stream_url": stream,
        "whitebit_base_url": rest,
        "whitebit_stream_url": f"{stream}/whitebit",  # as devstack/stack.py sets it
        "symbols": "",
        "markets": markets,
        "start_date": to_datetime(start_ms),
        "audit_interval": 0,
        "orderbook_retention": 0,
    }
    values.update(overrides)
    return CollectorSettings(_env_file=None, **values)  # type: ignore[call-arg]


class VenueHarness:
    """A Collector with each venue's REST source from `adapters` (or `sources`), its own
    session and publisher; `close` stops it."""

    def __init__(
        self,
        settings: CollectorSettings,
        pool: asyncpg.Pool,
        redis: Redis,
        sources: Sources | None = None,
    ) -> None:
        self.session = aiohttp.ClientSession()
        venues = sorted({m.venue for m in settings.collected_markets})
        self.sources = (
            adapters.rest_sources(settings, self.session, venues)
            if sources is None
            else sources(self.session)
        )
        self.publisher = Publisher(redis, settings.publish_queue_size)
        self.collector = Collector(settings, pool, self.sources, self.session, self.publisher)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def backfill(self) -> None:
        await self.collector.prepare()
        await self.collector.backfill_all()

    async def run_until_backfilled(self, within: float = 120.0) -> None:
        self.task = asyncio.create_task(self.collector.run(self.stop))
        backfilled = asyncio.create_task(self.collector.backfilled.wait())
        done, _ = await asyncio.wait(
            {self.task, backfilled}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        backfilled.cancel()
        if self.task in done:
            self.task.result()  # raises what stopped it
            raise AssertionError("the collector stopped before its backfill was done")
        assert done, f"backfill not done within {within} s"

    async def close(self) -> None:
        self.stop.set()
        try:
            if self.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(self.task, 20)
        finally:
            await self.session.close()


async def stored_closed(pool: asyncpg.Pool, market: Market) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM candles WHERE venue = $1 AND symbol = $2 AND is_closed ORDER BY open_time",
        market.venue.key,
        market.symbol,
    )
    return rows


def open_ms(row: asyncpg.Record) -> int:
    return int(row["open_time"].timestamp()) * 1000


def assert_rows_equal_series(
    sim: SimServer, market: Market, rows: list[asyncpg.Record], first_ms: int, last_ms: int
) -> None:
    """`rows` are exactly the series' minutes in [first_ms, last_ms], field by field (prices
    and volumes as exact decimals; trades and taker volumes NULL where the venue has none)."""
    series = sim.source.klines(SERIES, first_ms, last_ms)
    assert [open_ms(r) for r in rows] == [s[0] for s in series], f"{market}: minutes differ"
    full = market.venue in FULL_ROWS
    for row, kline in zip(rows, series, strict=True):
        at = f"{market} at {kline[0]}"
        assert (row["venue"], row["symbol"]) == (market.venue.key, market.symbol)
        assert [row[c] for c in PRICE_COLUMNS] == [Decimal(v) for v in kline[1:6]], at
        assert row["quote_volume"] == Decimal(kline[7]), at
        if full:
            assert row["trades"] == kline[8], at
            taker = (row["taker_buy_volume"], row["taker_buy_quote_volume"])
            assert taker == (Decimal(kline[9]), Decimal(kline[10])), at
        else:
            assert row["trades"] is None, at
            assert row["taker_buy_volume"] is None and row["taker_buy_quote_volume"] is None, at


@dataclass(eq=False)
class SimBooks:
    """The simulator's book of one market at each update id the watcher saw (an id can come
    twice when a resubscribed feed starts a new book, hence a list); Binance USDⓈ-M's book
    is known at every id without watching."""

    sim: SimServer
    market: Market
    seen: dict[int, list[Top]] = field(default_factory=dict)

    def truth(self, update_id: int) -> list[Top]:
        if self.market.venue == BINANCE_USDM:
            book = self.sim.venues.futures.books.get(self.market.symbol)
            snap = book.snapshot(step_of_id(update_id), 20)
            return [(_units(snap.bids), _units(snap.asks))]
        return self.seen.get(update_id, [])

    def look(self) -> None:
        """Record the simulator's current book (top 20) under its id."""
        for update_id, top in self._current():
            tops = self.seen.setdefault(update_id, [])
            if top not in tops:
                tops.append(top)

    async def watch(self, every: float = 0.005) -> None:
        while True:
            self.look()
            await asyncio.sleep(every)

    def _current(self) -> list[tuple[int, Top]]:
        venues, exchange = self.sim.venues, self.market.venue.exchange
        out: list[tuple[int, Top]] = []
        if exchange is Exchange.BYBIT:
            for conn in venues.bybit.hub.connections:
                feed = conn.feeds.get(book_topic(self.market.symbol))
                if feed is not None and feed.book is not None:
                    bids = sorted(feed.book.bids.items(), reverse=True)[:20]
                    asks = sorted(feed.book.asks.items())[:20]
                    out.append((feed.book.u, (_plain(bids), _plain(asks))))
        elif exchange is Exchange.OKX:
            inst = lookup(self.market.symbol, self.sim.source.stores)
            stream = None if inst is None else venues.okx.hub.books.get(inst.inst_id)
            if inst is not None and stream is not None and stream.book is not None:
                bids, asks = stream.book.top(20)
                # A swap's sizes count contracts; the collector publishes base currency.
                unit = Decimal(inst.ct_val) if inst.swap else Decimal(1)
                levels = okx_payloads.levels
                top = (_text(levels(inst, bids), unit), _text(levels(inst, asks), unit))
                out.append((stream.book.seq, top))
        elif exchange is Exchange.WHITEBIT:
            for socket in venues.whitebit.hub.connections:
                depth = socket.depth.get(self.market.symbol)
                if depth is not None and depth.book.started:
                    book = depth.book
                    top = (_units(book.sorted_bids()[:20]), _units(book.sorted_asks()[:20]))
                    out.append((book.update_id, top))
        return out


def _units(side: Any) -> tuple[Level, ...]:
    """Integer levels in 1e-8 units as decimals."""
    return tuple((Decimal(p) / 10**8, Decimal(q) / 10**8) for p, q in side)


def _plain(side: list[tuple[Any, Any]]) -> tuple[Level, ...]:
    return tuple((Decimal(plain(p)), Decimal(plain(q))) for p, q in side)


def _text(side: list[Any], unit: Decimal) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(q) * unit) for p, q, *_ in side)


def book_of_row(row: asyncpg.Record) -> Top:
    """An `orderbook_data` row's levels."""
    bids = tuple(zip(row["bid_prices"], row["bid_quantities"], strict=True))
    asks = tuple(zip(row["ask_prices"], row["ask_quantities"], strict=True))
    return bids, asks


def book_of_message(message: Mapping[str, Any]) -> Top:
    """A published book message's levels."""
    bids = tuple((Decimal(x["price"]), Decimal(x["quantity"])) for x in message["bids"])
    asks = tuple((Decimal(x["price"]), Decimal(x["quantity"])) for x in message["asks"])
    return bids, asks


def assert_whole(top: Top, what: str) -> None:
    """20 levels a side, bids falling, asks rising, not crossed."""
    bids, asks = top
    assert len(bids) == len(asks) == 20, what
    assert list(bids) == sorted(bids, reverse=True) and list(asks) == sorted(asks), what
    assert bids[0][0] < asks[0][0], what
