"""Real time by REST polling (REALTIME_MODE=rest): klines from the newest closed minute on,
so the open minute is corrected on every poll until it closes, and depth snapshots."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import KW_ONLY, dataclass, field

import aiohttp

from data_collector.binance_payloads import parse_depth
from data_collector.catch_up import CatchUp
from data_collector.exchange import ExchangeError
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.rest import BinanceRest
from linkora_core.backoff import pause
from linkora_core.db import DATABASE_DOWN
from linkora_core.markets import Market

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Poller:
    """Polls every market each `interval` seconds; a failed poll is logged and the next one
    comes on schedule (no backoff: the interval already paces it)."""

    rest: BinanceRest
    markets: list[Market]
    store: LiveStore
    publisher: Publisher
    catch_up: CatchUp
    _: KW_ONLY
    interval: float = 2.0
    levels: int = 20
    polls: int = field(default=0, init=False)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await asyncio.gather(*(self._poll(market) for market in self.markets))
            self.polls += 1
            await pause(max(0.0, self.interval - (time.monotonic() - started)), stop)

    async def _poll(self, market: Market) -> None:
        try:
            await self.catch_up(market)
            body = await self.rest.depth(market.symbol, self.levels)
        except (ExchangeError, aiohttp.ClientError, ValueError, *DATABASE_DOWN) as error:
            log.warning("poll of %s failed: %r", market, error)
            return
        try:
            book = parse_depth(market, body, time.time_ns() // 1_000_000, self.levels)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            self.rest.refuse(f"depth of {market}: {error!r}")
            return
        self.publisher.book(book)
        self.store.book(book)
