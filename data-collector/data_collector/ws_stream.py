"""Real time over one combined WebSocket for every symbol's kline and depth streams.

After every (re)connect the minutes the stream did not deliver are fetched from REST; until
a symbol's catch-up is done its stream candles wait, so candles go out in time order. The
connection is renewed before Binance's 24 h cut-off and at once on `serverShutdown`.
aiohttp answers the server's pings (autoping) while the reader is receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from data_collector.catch_up import CatchUp
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.status import CollectorStatus
from data_collector.streams import ServerShutdown, combined_url, parse_message
from data_collector.types import Book, LiveCandle

log = logging.getLogger(__name__)


class StreamCollector:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        stream_url: str,
        symbols: list[str],
        store: LiveStore,
        publisher: Publisher,
        status: CollectorStatus,
        catch_up: CatchUp,
        *,
        levels: int = 20,
        max_age: float = 23.5 * 3600,
        receive_timeout: float = 60.0,
    ) -> None:
        self._session = session
        self._url = combined_url(stream_url, symbols, levels)
        self._symbols = symbols
        self._store = store
        self._publisher = publisher
        self._status = status
        self._catch_up = catch_up
        self._levels = levels
        self._max_age = max_age
        self._receive_timeout = receive_timeout
        self._held: dict[str, list[LiveCandle]] = {}
        self.connections = 0
        self.malformed = 0  # frames that were not what the stream documents, skipped

    async def run(self, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                await self._connection(stop)
                delay = 1.0
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("stream failed (%r); reconnecting in %.0fs", error, delay)
                self._status.websocket_connected = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30.0)

    async def _connection(self, stop: asyncio.Event) -> None:
        async with self._session.ws_connect(
            self._url,
            autoping=True,
            timeout=aiohttp.ClientWSTimeout(ws_receive=self._receive_timeout, ws_close=5.0),
            max_msg_size=0,
        ) as ws:
            self.connections += 1
            self._status.websocket_connected = True
            log.info("stream connected (%d symbols)", len(self._symbols))
            self._held = {symbol: [] for symbol in self._symbols}
            reader = asyncio.create_task(self._read(ws))
            catch_ups = [asyncio.create_task(self._fill(symbol)) for symbol in self._symbols]
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait(
                    [reader, stopping], timeout=self._max_age, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in (reader, stopping, *catch_ups):
                    task.cancel()
                await asyncio.gather(reader, stopping, *catch_ups, return_exceptions=True)
                self._status.websocket_connected = False
            error = reader.exception() if reader.done() and not reader.cancelled() else None
            if error is not None:
                raise error

    async def _fill(self, symbol: str) -> None:
        delay = 1.0
        while True:
            try:
                await self._catch_up(symbol)
                break
            except Exception as error:
                log.warning("catch-up of %s failed (%r); retry in %.0fs", symbol, error, delay)
                self._release(symbol)
                self._held.pop(symbol, None)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self._release(symbol)

    def _release(self, symbol: str) -> None:
        for live in self._held.pop(symbol, []):
            self._candle(live)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                event = parse_message(message.data, time.time_ns() // 1_000_000, self._levels)
            except (ValueError, KeyError, TypeError, IndexError) as error:
                # One bad frame (JSON, a field missing, NaN text) is skipped, not the stream.
                self.malformed += 1
                log.warning("malformed stream frame skipped (%r): %.200s", error, message.data)
                continue
            if isinstance(event, LiveCandle):
                held = self._held.get(event.symbol)
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
        self._store.candle(live)
        self._publisher.candle(live)
        status = self._status.of(live.symbol)
        status.last_event_ms = time.time_ns() // 1_000_000
        if live.closed:
            status.closed(live.candle.open_time_ms)

    def _book(self, book: Book) -> None:
        self._publisher.book(book)
        self._store.book(book)
