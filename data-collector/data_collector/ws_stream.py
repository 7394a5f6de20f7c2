"""Real time over one combined WebSocket for the kline and depth streams of every market of a
Binance venue.

After every (re)connect the minutes the stream did not deliver are fetched from REST; until
a market's catch-up is done its stream candles wait, so candles go out in time order. The
connection is renewed before Binance's 24 h cut-off and at once on `serverShutdown`.
aiohttp answers the server's pings (autoping) while the reader is receiving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import KW_ONLY, dataclass, field

import aiohttp

from data_collector.binance_payloads import ServerShutdown, combined_url, parse_message
from data_collector.catch_up import CatchUp
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.status import CollectorStatus
from linkora_core.backoff import RetryPolicy, pause
from linkora_core.books import Book
from linkora_core.candles import LiveCandle
from linkora_core.markets import BINANCE_SPOT, Market, Venue

log = logging.getLogger(__name__)

# Reconnects and catch-ups share one policy: quick after a blip, then every 30 s at most, so
# a returning exchange is followed again within half a minute.
RECONNECT = RetryPolicy(first=1.0, cap=30.0)


@dataclass(eq=False)
class StreamCollector:
    session: aiohttp.ClientSession
    stream_url: str
    markets: list[Market]
    store: LiveStore
    publisher: Publisher
    status: CollectorStatus
    catch_up: CatchUp
    _: KW_ONLY
    venue: Venue = BINANCE_SPOT  # the venue whose stream `stream_url` is, of every market
    levels: int = 20
    max_age: float = 23.5 * 3600
    receive_timeout: float = 60.0
    connections: int = field(default=0, init=False)
    connected: bool = field(default=False, init=False)  # this stream's own connection
    malformed: int = field(default=0, init=False)  # frames not as the stream documents, skipped
    url: str = field(init=False)
    _held: dict[Market, list[LiveCandle]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        foreign = [str(m) for m in self.markets if m.venue != self.venue]
        if foreign:
            raise ValueError(f"markets {foreign} are not on the stream's venue {self.venue}")
        symbols = [m.symbol for m in self.markets]
        self.url = combined_url(self.stream_url, symbols, self.levels)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = RECONNECT.backoff()
        while not stop.is_set():
            try:
                await self._connection(stop)
                backoff.reset()
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                delay = backoff.next_delay()
                log.warning("stream failed (%r); reconnecting in %.0fs", error, delay)
                self.status.websocket_connected = False
                await pause(delay, stop)

    async def _connection(self, stop: asyncio.Event) -> None:
        async with self.session.ws_connect(
            self.url,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_receive=self.receive_timeout, ws_close=5.0),
            max_msg_size=0,
        ) as ws:
            self.connections += 1
            self.connected = self.status.websocket_connected = True
            log.info("stream connected (%d markets of %s)", len(self.markets), self.venue)
            self._held = {market: [] for market in self.markets}
            reader = asyncio.create_task(self._read(ws))
            catch_ups = [asyncio.create_task(self._fill(market)) for market in self.markets]
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait(
                    [reader, stopping], timeout=self.max_age, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                # Before the await: a cancel arriving during it must not leave these set.
                self.connected = self.status.websocket_connected = False
                for task in (reader, stopping, *catch_ups):
                    task.cancel()
                await asyncio.gather(reader, stopping, *catch_ups, return_exceptions=True)
            error = reader.exception() if reader.done() and not reader.cancelled() else None
            if error is not None:
                raise error

    async def _fill(self, market: Market) -> None:
        # No stop event: the connection cancels its catch-ups when it ends (also on stop).
        backoff = RECONNECT.backoff()
        while True:
            try:
                await self.catch_up(market)
                break
            except Exception as error:
                delay = backoff.next_delay()
                log.warning("catch-up of %s failed (%r); retry in %.0fs", market, error, delay)
                self._release(market)
                self._held.pop(market, None)
                await asyncio.sleep(delay)
        self._release(market)

    def _release(self, market: Market) -> None:
        for live in self._held.pop(market, []):
            self._candle(live)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                event = parse_message(
                    message.data, time.time_ns() // 1_000_000, self.levels, self.venue
                )
            except (ValueError, KeyError, TypeError, IndexError) as error:
                # One bad frame (JSON, a field missing, NaN text) is skipped, not the stream.
                self.malformed += 1
                log.warning("malformed stream frame skipped (%r): %.200s", error, message.data)
                continue
            if isinstance(event, LiveCandle):
                held = self._held.get(event.market)
                if held is not None:
                    held.append(event)
                else:
                    self._candle(event)
            elif isinstance(event, Book):
                self._book(event)
            elif isinstance(event, ServerShutdown):
                log.info("server announced a shutdown; reconnecting")
                return
        log.warning("stream closed by the server (code %s)", ws.close_code)

    def _candle(self, live: LiveCandle) -> None:
        self.store.candle(live)
        self.publisher.candle(live)
        status = self.status.of(live.market)
        status.last_event_ms = time.time_ns() // 1_000_000
        if live.closed:
            status.closed(live.candle.open_time_ms)

    def _book(self, book: Book) -> None:
        self.publisher.book(book)
        self.store.book(book)
