"""The books channel of one instrument, shared by every connection subscribed to it.

OKX keeps one seqId sequence per instrument, the same on every connection, so one
`BookStream` owns the book and fans each message out to its subscribers' send queues: a
400-level snapshot to each new subscriber, then the diffs every `book_push_interval`, and an
empty heartbeat update (seqId == prevSeqId) after `heartbeat_seconds` without a change.
The switches in `BookSwitches` skip updates, spoil checksums, reset the sequence or stop
the book from changing.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from exchange_sim.okx import payloads
from exchange_sim.okx.book import CHECKSUM_LEVELS, LiveBook, checksum, levels_of
from exchange_sim.okx.faults import BookSwitches
from exchange_sim.okx.instruments import Instrument
from exchange_sim.okx.settings import OkxSettings
from exchange_sim.state import SimState

Levels = list[payloads.Level]
Outbox = asyncio.Queue[str]  # one connection's frames waiting to be sent


class BookStream:
    def __init__(
        self, inst: Instrument, state: SimState, settings: OkxSettings, switches: BookSwitches
    ) -> None:
        self.inst = inst
        self.state = state
        self.settings = settings
        self.switches = switches
        self.book: LiveBook | None = None
        self.subscribers: set[Outbox] = set()
        self._task: asyncio.Task[None] | None = None
        self._target_id: int | None = None
        self._last_sent = 0.0

    def join(self, outbox: Outbox) -> None:
        """Queue a snapshot for a new subscriber, then include it in every update."""
        now = self.state.clock.now_ms()
        if self.book is None:
            seed = f"{self.state.config.seed}:okx:{self.inst.inst_id}"
            self.book = LiveBook(seed, first_seq=now // 100 % 10**10)
            self._target_id = now // 1000
            self.book.load(*self._target(self._target_id))
        bids, asks = self.book.top(self.settings.book_depth)
        push = payloads.book_push(
            self.inst.inst_id,
            "snapshot",
            self._sides(bids, asks, now),
            self._checksum(),
            -1,
            self.book.seq,
        )
        outbox.put_nowait(orjson.dumps(push).decode())
        self.subscribers.add(outbox)
        if self._task is None or self._task.done():
            self._last_sent = time.monotonic()
            self._task = asyncio.create_task(self._run())

    def leave(self, outbox: Outbox) -> None:
        self.subscribers.discard(outbox)

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(self.settings.book_push_interval)
            self.tick()

    def tick(self) -> None:
        """One push period: an update if the book changed, else maybe a heartbeat."""
        book, sw = self.book, self.switches
        assert book is not None
        now = self.state.clock.now_ms()
        changed: tuple[Levels, Levels] = ([], [])
        if not sw.quiet:
            target = None
            if self._target_id != now // 1000:
                self._target_id = now // 1000
                target = self._target(self._target_id)
            changed = book.step(target)
        if changed[0] or changed[1]:
            prev, seq = book.advance(reset=sw.take("reset_next"))
            if sw.take("skip_next"):
                return  # applied but never sent: the next prevSeqId shows the gap
        elif time.monotonic() - self._last_sent >= self.settings.heartbeat_seconds:
            prev = seq = book.seq
        else:
            return
        body = self._sides(*changed, now)
        mark = self._checksum(bad=sw.take("bad_checksum_next"))
        self._broadcast(payloads.book_push(self.inst.inst_id, "update", body, mark, prev, seq))

    def _target(self, target_id: int) -> tuple[Levels, Levels]:
        """The simulator's book around the current price (re-drawn each simulated second)."""
        market = self.state.market
        raw = market.depth(self.inst.symbol, self.settings.book_depth, update_id=target_id)
        return levels_of(raw["bids"]), levels_of(raw["asks"])

    def _sides(self, bids: Levels, asks: Levels, now: int) -> dict[str, object]:
        return {
            "asks": payloads.levels(self.inst, asks),
            "bids": payloads.levels(self.inst, bids),
            "ts": str(now),
        }

    def _checksum(self, bad: bool = False) -> int:
        """0 (OKX since June 2026) unless the switch is on; `bad`: non-zero and wrong."""
        if not (self.switches.checksum or bad):
            return 0
        assert self.book is not None
        bids, asks = self.book.top(CHECKSUM_LEVELS)
        value = checksum(payloads.levels(self.inst, bids), payloads.levels(self.inst, asks))
        if bad:
            value = value + 1 if value not in (-1, 2**31 - 1) else 7
        return value

    def _broadcast(self, payload: object) -> None:
        self._last_sent = time.monotonic()
        text = orjson.dumps(payload).decode()
        for outbox in self.subscribers:
            outbox.put_nowait(text)
