"""Fetching one block range: logs in one call (split when the provider refuses), then headers,
order snapshots and token decimals in batches. Nothing here touches the database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from order_system.events.chain import BlockMissing, Chain, Header
from order_system.events.decoding import EventKind, OrderEvent, OrderSnapshot, decode_logs
from order_system.rpc import TooManyResults


class InconsistentRange(RuntimeError):
    """The node's answers for one range disagree (a reorg happened while fetching)."""


class RangeSizer:
    """Adaptive range size: shrink to a provider's suggestion (else halve), grow after successes."""

    def __init__(
        self, initial: int, maximum: int, grow_after: int = 3, target_logs: int = 2000
    ) -> None:
        self.maximum = max(1, maximum)
        self.size = max(1, min(initial, self.maximum))
        self.grow_after = grow_after
        # Ranges holding about this many logs keep fetching and writing overlapped.
        self.target_logs = target_logs
        self._successes = 0

    def shrink(self, size: int) -> None:
        self.size = max(1, min(self.size, size))
        self._successes = 0

    def succeeded(self, blocks: int, logs: int) -> None:
        if logs > self.target_logs:
            self.size = max(1, min(self.size, blocks * self.target_logs // logs))
            self._successes = 0
            return
        self._successes += 1
        if self._successes >= self.grow_after and self.size < self.maximum:
            self.size = min(self.maximum, self.size * 2)
            self._successes = 0


class Decimals:
    """Token decimals known so far (loaded from the database at start, filled from the node).

    None marks a token whose decimals are unknown (see `Chain.decimals`): it is asked once and
    its amounts are kept in raw units, scaled by 0, for good."""

    def __init__(self, chain: Chain, known: dict[str, int | None]) -> None:
        self.chain = chain
        self.known = dict(known)

    async def ensure(self, tokens: Iterable[str]) -> dict[str, int | None]:
        wanted = set(tokens)
        missing = wanted - self.known.keys()
        if missing:
            self.known.update(await self.chain.decimals(missing))
        return {token: self.known[token] for token in wanted}

    def __call__(self, token: str) -> int:
        """The scale of the token's amounts: 0 (raw units) when its decimals are unknown."""
        decimals = self.known[token]
        return 0 if decimals is None else decimals


@dataclass(slots=True)
class FetchedRange:
    start: int
    end: int
    events: list[OrderEvent]
    headers: dict[int, Header]
    snapshots: dict[tuple[int, int], OrderSnapshot] = field(default_factory=dict)
    decimals: dict[str, int | None] = field(default_factory=dict)


# Logs decoded between pauses for the batch being written (about a millisecond of work), so
# its next statement is not held up behind a whole range's decoding.
DECODE_CHUNK = 200


async def _decoded(logs: list[dict[str, Any]]) -> list[OrderEvent]:
    events: list[OrderEvent] = []
    for first in range(0, len(logs), DECODE_CHUNK):
        if first:
            await asyncio.sleep(0)
        events += decode_logs(logs[first : first + DECODE_CHUNK])
    events.sort(key=lambda event: event.position)
    return events


async def fetch_logs(chain: Chain, start: int, end: int, sizer: RangeSizer) -> list[OrderEvent]:
    try:
        return await _decoded(await chain.logs(start, end))
    except TooManyResults as refused:
        if start >= end:
            raise
        split = refused.suggested_end
        if split is None or not start <= split < end:
            split = start + (end - start) // 2
        sizer.shrink(split - start + 1)
        left = await fetch_logs(chain, start, split, sizer)
        return left + await fetch_logs(chain, split + 1, end, sizer)


def _check(fetched: FetchedRange, every_block: bool) -> None:
    headers = fetched.headers
    if fetched.end not in headers or fetched.start not in headers:
        raise BlockMissing(f"blocks {fetched.start}..{fetched.end} not all on the node")
    for event in fetched.events:
        header = headers.get(event.block_number)
        if header is None or header.hash != event.block_hash:
            raise InconsistentRange(f"log of block {event.block_number} is from another fork")
    if every_block:
        for number in range(fetched.start + 1, fetched.end + 1):
            if headers[number].parent_hash != headers[number - 1].hash:
                raise InconsistentRange(f"block {number} does not link to block {number - 1}")


async def fetch_range(
    chain: Chain, start: int, end: int, sizer: RangeSizer, decimals: Decimals, every_block: bool
) -> FetchedRange:
    """Everything applying blocks [start, end] needs. `every_block` fetches every header (near
    the head, where reorgs happen); otherwise the first, the last and those with events."""
    events = await fetch_logs(chain, start, end, sizer)
    sizer.succeeded(end - start + 1, len(events))
    if every_block:
        numbers: Iterable[int] = range(start, end + 1)
    else:
        numbers = {start, end, *(event.block_number for event in events)}
    created = [event for event in events if event.kind is EventKind.CREATED]
    headers, snapshots = await asyncio.gather(
        chain.headers(numbers),
        chain.orders([(event.order_id, event.block_hash) for event in created]),
    )
    tokens = {t for event in created for t in (event.token_in, event.token_out) if t}
    fetched = FetchedRange(
        start,
        end,
        events,
        headers,
        {event.position: snapshot for event, snapshot in zip(created, snapshots, strict=True)},
        await decimals.ensure(tokens),
    )
    _check(fetched, every_block)
    return fetched
