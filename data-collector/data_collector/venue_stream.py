"""Real time from one venue's WebSocket, whatever its protocol: the connection, reconnects, the
REST gap fill after every (re)connect, and order books kept under the venue's sequencing rule.

What differs between exchanges is a `WireProtocol`: the URL, the subscribe and heartbeat
messages, and the parsing of frames into events. A book the rules find out of sync is never
stored or published: it is resynced (`resyncs` counts them), either by the venue pushing a new
snapshot after a resubscribe or, where the venue says so (Binance diff depth), from a REST
snapshot fetched while the diffs that arrive meanwhile are held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from typing import Protocol

import aiohttp

from data_collector.book_sync import Diff, LocalBook, OutOfSync, Sequencing, WireLevel
from data_collector.catch_up import CatchUp
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.request_budget import SlidingBudget
from data_collector.status import CollectorStatus
from linkora_core.backoff import RetryPolicy, pause
from linkora_core.books import Book
from linkora_core.candles import LiveCandle
from linkora_core.markets import Market, Venue

log = logging.getLogger(__name__)

RECONNECT = RetryPolicy(first=1.0, cap=30.0)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A whole book (or its top, for venues that send only that), replacing the local one."""

    market: Market
    update_id: int
    bids: Sequence[WireLevel]
    asks: Sequence[WireLevel]


@dataclass(frozen=True, slots=True)
class BookDiff:
    market: Market
    diff: Diff


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The server asked for (or announced) a new connection."""

    reason: str


Event = LiveCandle | BookSnapshot | BookDiff | Reconnect


class WireProtocol(Protocol):
    """One venue's stream protocol; a new instance's state (a parser's last candles) is
    per connection: `connect` is called at the start of each."""

    @property
    def venue(self) -> Venue: ...
    @property
    def sequencing(self) -> Sequencing: ...
    @property
    def rest_snapshots(self) -> bool:
        """Books start and resync from REST snapshots (Binance diff depth); otherwise the
        venue pushes a snapshot after a subscribe."""
        ...

    @property
    def heartbeat(self) -> tuple[float, str] | None:
        """(seconds, text) of an application-level ping the venue wants, or None."""
        ...

    @property
    def book_depth(self) -> int | None:
        """The depth the venue keeps the subscriber's book to without sending the deletion of
        a level pushed out of it (the local book is cut to it); None: every change is sent."""
        ...

    def connect(self, markets: Sequence[Market]) -> tuple[str, list[str]]:
        """The URL to open and the messages to send once open."""
        ...

    def parse(self, data: str, received_ms: int) -> list[Event]:
        """The events of one text frame (acks and pongs give none); ValueError, KeyError,
        TypeError or IndexError for a malformed one."""
        ...

    def resubscribe(self, market: Market) -> list[str]:
        """Messages that make the venue send `market`'s book snapshot again."""
        ...

    async def snapshot(self, market: Market) -> BookSnapshot:
        """A REST snapshot of `market`'s book (venues with `rest_snapshots`)."""
        ...


@dataclass(eq=False)
class VenueStream:
    session: aiohttp.ClientSession
    protocol: WireProtocol
    markets: list[Market]
    store: LiveStore
    publisher: Publisher
    status: CollectorStatus
    catch_up: CatchUp | None  # None: this connection carries no candles (a books route)
    _: KW_ONLY
    levels: int = 20
    # A book size's worth in the base currency where the venue counts contracts (OKX swaps);
    # None: sizes are base amounts already. Applied as the book leaves, after the checksum.
    base_per_size: Callable[[Market], Decimal] | None = None
    max_age: float = 23.5 * 3600
    receive_timeout: float = 60.0
    # The exchange's limit on new connections per IP, shared by all its streams; None: none.
    connects: SlidingBudget | None = None
    connections: int = field(default=0, init=False)
    connected: bool = field(default=False, init=False)  # this stream's own connection
    malformed: int = field(default=0, init=False)  # frames not as the venue documents, skipped
    resyncs: int = field(default=0, init=False)  # books found out of sync and rebuilt
    _books: dict[Market, LocalBook] = field(default_factory=dict, init=False, repr=False)
    # Diffs held while a REST snapshot is fetched; markets absent wait for a pushed snapshot.
    _held_diffs: dict[Market, list[Diff]] = field(default_factory=dict, init=False, repr=False)
    _held: dict[Market, list[LiveCandle]] = field(default_factory=dict, init=False, repr=False)
    _send: Callable[[str], Awaitable[None]] | None = field(default=None, init=False, repr=False)
    _snapshots: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        foreign = [str(m) for m in self.markets if m.venue != self.protocol.venue]
        if foreign:
            raise ValueError(f"markets {foreign} are not on the stream's venue")
        self.status.streams[self] = False  # down until it connects

    async def run(self, stop: asyncio.Event) -> None:
        backoff = RECONNECT.backoff()
        while not stop.is_set():
            try:
                await self._connection(stop)
                backoff.reset()
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                delay = backoff.next_delay()
                log.warning(
                    "%s stream failed (%r); reconnecting in %.0fs", self.venue, error, delay
                )
                self._up(False)
                await pause(delay, stop)

    @property
    def venue(self) -> Venue:
        return self.protocol.venue

    @contextlib.asynccontextmanager
    async def _connect_slot(self) -> AsyncIterator[None]:
        """Around one handshake: waits for a place in the exchange's connection budget."""
        budget = self.connects
        if budget is None:
            yield
            return
        while (wait := budget.delay(time.monotonic())) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        try:
            yield
        finally:
            budget.settle(time.monotonic())

    def _up(self, connected: bool) -> None:
        self.connected = self.status.streams[self] = connected

    async def _connection(self, stop: asyncio.Event) -> None:
        p = self.protocol
        url, subscriptions = p.connect(self.markets)
        async with self._connect_slot():
            ws = await self.session.ws_connect(
                url,
                autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_receive=self.receive_timeout, ws_close=5.0),
                max_msg_size=0,
            )
        async with ws:
            self.connections += 1
            self._up(True)
            log.info("%s stream connected (%d markets)", self.venue, len(self.markets))
            self._send = ws.send_str
            self._books = {m: LocalBook(p.sequencing, p.book_depth) for m in self.markets}
            self._held_diffs = {}
            fills = self.catch_up is not None
            self._held = {market: [] for market in self.markets} if fills else {}
            for message in subscriptions:
                await ws.send_str(message)
            tasks = [asyncio.create_task(self._read(ws))]
            if fills:
                tasks += [asyncio.create_task(self._fill(m)) for m in self.markets]
            if self.protocol.rest_snapshots:
                for market in self.markets:
                    self._fetch_snapshot(market)
            if (beat := self.protocol.heartbeat) is not None:
                tasks.append(asyncio.create_task(self._heartbeat(ws, *beat)))
            stopping = asyncio.create_task(stop.wait())
            reader = tasks[0]
            try:
                await asyncio.wait(
                    [reader, stopping], timeout=self.max_age, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                # Before the await: a cancel arriving during it must not leave these set.
                self._send = None
                self._up(False)
                tasks += self._snapshots
                for task in (*tasks, stopping):
                    task.cancel()
                await asyncio.gather(*tasks, stopping, return_exceptions=True)
                self._snapshots.clear()
            error = reader.exception() if reader.done() and not reader.cancelled() else None
            if error is not None:
                raise error

    async def _heartbeat(
        self, ws: aiohttp.ClientWebSocketResponse, every: float, text: str
    ) -> None:
        while True:
            await asyncio.sleep(every)
            await ws.send_str(text)

    async def _fill(self, market: Market) -> None:
        # No stop event: the connection cancels its catch-ups when it ends (also on stop).
        assert self.catch_up is not None
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
                events = self.protocol.parse(message.data, time.time_ns() // 1_000_000)
            except (ValueError, KeyError, TypeError, IndexError) as error:
                self.malformed += 1
                log.warning(
                    "malformed %s frame skipped (%r): %.200s", self.venue, error, message.data
                )
                continue
            for event in events:
                if isinstance(event, Reconnect):
                    log.info("%s: %s; reconnecting", self.venue, event.reason)
                    return
                await self._handle(event)
        log.warning("%s stream closed by the server (code %s)", self.venue, ws.close_code)

    async def _handle(self, event: LiveCandle | BookSnapshot | BookDiff) -> None:
        if isinstance(event, LiveCandle):
            held = self._held.get(event.market)
            if held is not None:
                held.append(event)
            else:
                self._candle(event)
            return
        book = self._books.get(event.market)
        if book is None:
            return  # a market this connection does not collect
        if isinstance(event, BookSnapshot):
            try:
                book.reset(event.update_id, event.bids, event.asks)
            except (OutOfSync, ValueError) as error:
                await self._resync(event.market, _out_of_sync(error))
                return
            self._held_diffs.pop(event.market, None)
            self._publish(event.market, book)
            return
        waiting = self._held_diffs.get(event.market)
        if waiting is not None:
            waiting.append(event.diff)
            return
        if not book.synced:
            return  # waiting for the snapshot a subscribe or resubscribe brings
        try:
            if book.apply(event.diff):
                self._publish(event.market, book)
        except (OutOfSync, ValueError) as error:
            await self._resync(event.market, _out_of_sync(error))

    async def _resync(self, market: Market, reason: OutOfSync) -> None:
        self.resyncs += 1
        log.warning("%s book out of sync (%s); resyncing", market, reason)
        self._books[market].desync()
        if self.protocol.rest_snapshots:
            self._fetch_snapshot(market)
        elif self._send is not None:
            for message in self.protocol.resubscribe(market):
                await self._send(message)

    def _fetch_snapshot(self, market: Market) -> None:
        self._held_diffs[market] = []  # from now on, until the snapshot is applied
        task = asyncio.get_running_loop().create_task(self._rest_snapshot(market))
        self._snapshots.add(task)
        task.add_done_callback(self._snapshots.discard)

    async def _rest_snapshot(self, market: Market) -> None:
        """Hold the market's diffs, fetch a snapshot, then apply what was held after it."""
        backoff = RECONNECT.backoff()
        while True:
            try:
                snapshot = await self.protocol.snapshot(market)
                break
            except Exception as error:
                delay = backoff.next_delay()
                log.warning("%s book snapshot failed (%r); retry in %.0fs", market, error, delay)
                await asyncio.sleep(delay)
        book = self._books[market]
        held = self._held_diffs.pop(market, [])
        try:
            book.reset(snapshot.update_id, snapshot.bids, snapshot.asks)
            for diff in held:
                book.apply(diff)
        except (OutOfSync, ValueError) as error:
            await self._resync(market, _out_of_sync(error))
            return
        self._publish(market, book)

    def _candle(self, live: LiveCandle) -> None:
        self.store.candle(live)
        self.publisher.candle(live)
        status = self.status.of(live.market)
        status.last_event_ms = time.time_ns() // 1_000_000
        if live.closed:
            status.closed(live.candle.open_time_ms)

    def _publish(self, market: Market, book: LocalBook) -> None:
        bids, asks = book.top(self.levels)
        assert book.last_id is not None  # top() refuses an unsynced book
        if self.base_per_size is not None:
            unit = self.base_per_size(market)
            bids = tuple((price, size * unit) for price, size in bids)
            asks = tuple((price, size * unit) for price, size in asks)
        published = Book(market, time.time_ns() // 1_000_000, book.last_id, bids, asks)
        self.publisher.book(published)
        self.store.book(published)


def _out_of_sync(error: Exception) -> OutOfSync:
    """A level whose text is no number (ValueError) leaves the book unknown: resynced too."""
    return error if isinstance(error, OutOfSync) else OutOfSync(f"unreadable level: {error}")
