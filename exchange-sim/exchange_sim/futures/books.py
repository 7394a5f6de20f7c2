"""One FuturesBook per symbol (the shared `exchange_sim.books.Books` with futures ids)."""

from __future__ import annotations

from exchange_sim import books
from exchange_sim.futures.book import FuturesBook
from exchange_sim.market import MarketData


class Books(books.Books):
    def __init__(self, market: MarketData) -> None:
        super().__init__(market, FuturesBook)
