"""Real time by REST polling (REALTIME_MODE=rest): klines from the newest closed minute on,
so the open minute is corrected on every poll until it closes, and depth snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from data_collector.catch_up import CatchUp
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.rest import BinanceError, BinanceRest
from data_collector.streams import parse_depth
from data_collector.types import DB_DOWN

log = logging.getLogger(__name__)


class Poller:
    def __init__(
        self,
        rest: BinanceRest,
        symbols: list[str],
        store: LiveStore,
        publisher: Publisher,
        catch_up: CatchUp,
        *,
        interval: float = 2.0,
        levels: int = 20,
    ) -> None:
        self._rest = rest
        self._symbols = symbols
        self._store = store
        self._publisher = publisher
        self._catch_up = catch_up
        self._interval = interval
        self._levels = levels
        self.polls = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await asyncio.gather(*(self._poll(symbol) for symbol in self._symbols))
            self.polls += 1
            wait = max(0.0, self._interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _poll(self, symbol: str) -> None:
        try:
            await self._catch_up(symbol)
            body = await self._rest.depth(symbol, self._levels)
        except (BinanceError, aiohttp.ClientError, ValueError, *DB_DOWN) as error:
            log.warning("poll of %s failed: %r", symbol, error)
            return
        try:
            book = parse_depth(symbol, body, time.time_ns() // 1_000_000, self._levels)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            self._rest.refuse(f"depth of {symbol}: {error!r}")
            return
        self._publisher.book(book)
        self._store.book(book)
