"""Order books kept locally from an exchange's snapshot and diff messages, under that exchange's
own sequencing rule (pure). A book that misses an update raises OutOfSync: the caller drops it,
counts a resync and starts again from a new snapshot; it is never stored or published.

The rules (docs/exchanges/*.md):

- Binance spot: after the REST snapshot's `lastUpdateId` L, drop diffs with `u <= L`; the first
  one applied has `U <= L + 1 <= u`, every later one `U == previous u + 1`.
- Binance USDⓈ-M: drop diffs with `u < L`; the first one applied has `U <= L <= u` (or `pu == L`:
  the snapshot ends where the previous diff did), every later one `pu == previous u`.
- Bybit: a `snapshot` message replaces the book (`u == 1` after a service restart is one);
  each `delta` has `u == previous u + 1`.
- OKX: a snapshot has `prevSeqId == -1`; each update has `prevSeqId == previous seqId` (which
  also admits the heartbeat, `seqId == prevSeqId`, and the reset after maintenance, `seqId <
  prevSeqId`); a non-zero `checksum` is the CRC32 of the top 25 levels, compared after applying.
- WhiteBIT: a snapshot replaces the book; each update has `past_update_id == previous
  update_id`.

Quantities are absolute and a quantity of zero deletes the level; prices are compared as
decimals and kept with the text the exchange sent (the OKX checksum is computed over it).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from linkora_core.books import Level
from linkora_core.decimals import parse_decimal

__all__ = ["Diff", "LocalBook", "OutOfSync", "Sequencing", "okx_checksum"]

WireLevel = tuple[str, str]
"""A level as the exchange sent it: (price text, quantity text)."""

CHECKSUM_DEPTH = 25


class OutOfSync(Exception):
    """The local book missed an update (or never got a snapshot): resync it."""


class Sequencing(Enum):
    BINANCE_SPOT = "binance-spot"
    BINANCE_FUTURES = "binance-futures"
    BYBIT = "bybit"
    OKX = "okx"
    WHITEBIT = "whitebit"


@dataclass(frozen=True, slots=True)
class Diff:
    """One diff message, in the exchange's ids: `first_id`/`last_id` are Binance's `U`/`u`
    (other exchanges send one id: both are it), `previous_id` the id the exchange says came
    before (Binance futures `pu`, OKX `prevSeqId`, WhiteBIT `past_update_id`)."""

    first_id: int
    last_id: int
    bids: Sequence[WireLevel]
    asks: Sequence[WireLevel]
    previous_id: int | None = None
    checksum: int | None = None


class _Side:
    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.levels: dict[Decimal, WireLevel] = {}

    def replace(self, levels: Iterable[WireLevel]) -> None:
        self.levels.clear()
        self.update(levels)

    def update(self, levels: Iterable[WireLevel]) -> None:
        for price_text, quantity_text in levels:
            price = parse_decimal(price_text)
            if parse_decimal(quantity_text) == 0:
                self.levels.pop(price, None)  # deleting an absent level is normal
            else:
                self.levels[price] = (price_text, quantity_text)

    def best(self, n: int) -> list[Decimal]:
        pick = heapq.nlargest if self.descending else heapq.nsmallest
        return pick(n, self.levels)

    def top(self, n: int) -> tuple[Level, ...]:
        return tuple((p, parse_decimal(self.levels[p][1])) for p in self.best(n))

    def wire(self, n: int) -> list[WireLevel]:
        return [self.levels[p] for p in self.best(n)]

    def cut(self, n: int) -> None:
        """Keep the best `n` levels only."""
        if len(self.levels) > n:
            self.levels = {p: self.levels[p] for p in self.best(n)}


class LocalBook:
    """The whole book of one market as its diffs build it; `top(n)` is what gets published."""

    def __init__(self, sequencing: Sequencing, depth: int | None = None) -> None:
        self.sequencing = sequencing
        # A venue that keeps the subscriber's book to a depth (WhiteBIT's subscribed limit,
        # Bybit's 50) sends no deletion for a level pushed out of it: such a level is stale
        # the moment it leaves, so the local book is cut to the depth after every message.
        self.depth = depth
        self.bids = _Side(descending=True)
        self.asks = _Side(descending=False)
        self.last_id: int | None = None  # None: no snapshot yet, or out of sync
        self._bridged = False  # Binance: the first diff after the snapshot was applied

    @property
    def synced(self) -> bool:
        return self.last_id is not None

    def reset(self, update_id: int, bids: Iterable[WireLevel], asks: Iterable[WireLevel]) -> None:
        """Start from a snapshot (Binance's REST `lastUpdateId`, or a snapshot message)."""
        self.bids.replace(bids)
        self.asks.replace(asks)
        self._cut()
        self.last_id = update_id
        self._bridged = False
        self._check_crossed()

    def desync(self) -> None:
        self.last_id = None

    def apply(self, diff: Diff) -> bool:
        """Apply a diff; False when it is older than the snapshot (dropped, as the rules say).
        OutOfSync when it does not follow: the book is then unusable until the next reset."""
        if self.last_id is None:
            raise OutOfSync("a diff before any snapshot")
        try:
            if not self._follows(self.last_id, diff):
                return False
        except OutOfSync:
            self.desync()
            raise
        self.bids.update(diff.bids)
        self.asks.update(diff.asks)
        self._cut()
        self.last_id = diff.last_id
        self._bridged = True
        try:
            self._check_crossed()
            if diff.checksum and self.sequencing is Sequencing.OKX:
                expected = okx_checksum(
                    self.bids.wire(CHECKSUM_DEPTH), self.asks.wire(CHECKSUM_DEPTH)
                )
                if expected != diff.checksum:
                    raise OutOfSync(f"checksum {diff.checksum} != {expected} of the local book")
        except OutOfSync:
            self.desync()
            raise
        return True

    def top(self, n: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        if self.last_id is None:
            raise OutOfSync("the book is not in sync")
        return self.bids.top(n), self.asks.top(n)

    def _follows(self, last: int, diff: Diff) -> bool:
        rule = self.sequencing
        if rule is Sequencing.BINANCE_SPOT:
            if not self._bridged:
                if diff.last_id <= last:
                    return False
                if not diff.first_id <= last + 1 <= diff.last_id:
                    raise OutOfSync(
                        f"first diff [{diff.first_id}, {diff.last_id}] skips {last + 1}"
                    )
            elif diff.first_id != last + 1:
                raise OutOfSync(f"diff starts at {diff.first_id}, expected {last + 1}")
            return True
        if rule is Sequencing.BINANCE_FUTURES:
            if not self._bridged:
                if diff.last_id < last:
                    return False
                # pu == L: the snapshot ends exactly where the diff before this one did (ccxt).
                if not (diff.first_id <= last <= diff.last_id or diff.previous_id == last):
                    raise OutOfSync(f"first diff [{diff.first_id}, {diff.last_id}] misses {last}")
            elif diff.previous_id != last:
                raise OutOfSync(f"diff follows {diff.previous_id}, expected {last}")
            return True
        if rule is Sequencing.BYBIT:
            if diff.last_id != last + 1:
                raise OutOfSync(f"delta u={diff.last_id}, expected {last + 1}")
            return True
        if diff.previous_id != last:  # OKX and WhiteBIT
            raise OutOfSync(f"update follows {diff.previous_id}, expected {last}")
        return True

    def _cut(self) -> None:
        if self.depth is not None:
            self.bids.cut(self.depth)
            self.asks.cut(self.depth)

    def _check_crossed(self) -> None:
        bid, ask = self.bids.best(1), self.asks.best(1)
        if bid and ask and bid[0] >= ask[0]:
            self.desync()
            raise OutOfSync(f"crossed book: best bid {bid[0]} >= best ask {ask[0]}")


def okx_checksum(bids: Sequence[WireLevel], asks: Sequence[WireLevel]) -> int:
    """OKX's book checksum: CRC32 of `bid:size:ask:size:...` over the best 25 levels of each
    side, interleaved, in the exchange's own text, as a signed 32-bit integer."""
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    value = zlib.crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
