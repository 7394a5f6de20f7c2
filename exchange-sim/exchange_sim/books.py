"""One stepped book per symbol of a venue, its best bid following the symbol's live 1m close."""

from __future__ import annotations

from collections.abc import Callable

from exchange_sim.intervals import MINUTE_MS
from exchange_sim.market import MarketData
from exchange_sim.stepped_book import SteppedBook

_LOOKBACK_MINUTES = 240  # covers the series' missing hours

BookFactory = Callable[[int, str, int, Callable[[int], int]], SteppedBook]


class Books:
    """`make` builds a symbol's book (SteppedBook for spot, FuturesBook for USDⓈ-M)."""

    def __init__(self, market: MarketData, make: BookFactory = SteppedBook) -> None:
        self.market = market
        self._make = make
        self._books: dict[str, SteppedBook] = {}

    def get(self, symbol: str) -> SteppedBook:
        book = self._books.get(symbol)
        if book is None:
            tick = self.market.stores[symbol].tick
            book = self._make(self.market.seed, symbol, tick, self._best_bid(symbol))
            self._books[symbol] = book
        return book

    def _best_bid(self, symbol: str) -> Callable[[int], int]:
        store = self.market.stores[symbol]
        series = store.series
        tick = store.tick
        start = series.spec.start_ticks * int(10 ** (8 - series.spec.decimals)) // tick

        def best_bid_at(ms: int) -> int:
            """The 1m close at `ms` in ticks; inside a gap the last close before it."""
            if series.last_ms is not None:
                ms = min(ms, series.last_ms + MINUTE_MS - 1)
            minute = ms - ms % MINUTE_MS
            for back in range(_LOOKBACK_MINUTES):
                opened = minute - back * MINUTE_MS
                if opened < series.first_ms:
                    break
                candle = store.live_bucket("1m", opened, ms)
                if candle is not None:
                    return candle.close // tick
            return start

        return best_bid_at
