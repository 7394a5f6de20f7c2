"""The processor loop: fetch ranges in parallel, apply them strictly in order, follow the head,
roll back on reorgs. One instance writes at a time (the caller holds the advisory lock).

Applying a range is two steps: its transitions (pure work, from the order rows of an
OrderCache) and its write (one transaction). The next range's transitions run while the
previous range is written, unless they need an order the cache does not hold."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

import asyncpg

from linkora_core.backoff import pause
from order_system.events import announcements, order_outbox, store
from order_system.events.chain import BlockMissing, Chain
from order_system.events.decoding import EventKind
from order_system.events.fetching import (
    Decimals,
    FetchedRange,
    InconsistentRange,
    RangeSizer,
    fetch_range,
)
from order_system.events.order_cache import OrderCache
from order_system.events.reorg import Halt, find_ancestor
from order_system.events.transitions import EventRow, OrderRow, event_row, transition
from order_system.settings import Tuning

log = logging.getLogger(__name__)

# Events between the transitions' pauses for the write in flight: PostgreSQL then waits at most
# about a millisecond for the next statement.
YIELD_EVERY = 50


class ReorgDetected(RuntimeError):
    pass


class Processor:
    def __init__(
        self, connection: asyncpg.Connection, chain: Chain, tuning: Tuning, stop: asyncio.Event
    ) -> None:
        self.connection = connection
        self.chain = chain
        self.tuning = tuning
        self.stop = stop
        self.sizer = RangeSizer(tuning.initial_range, tuning.max_range)
        self.decimals = Decimals(chain, {})
        self.cache = OrderCache()
        self.processed = tuning.first_block - 1
        self.processed_hash: str | None = None
        self.chain_id = 0  # read by prepare(): part of every order message's id
        self.head = -1
        self.last_progress = time.monotonic()  # last batch applied
        self.last_step = time.monotonic()  # last pass that got through (the node answers)
        self.events_applied = 0
        self.reconnects = 0
        self.reorgs = 0  # rollbacks performed
        self.reorged_blocks = 0
        self.messages_written = 0  # order messages written to the outbox
        self.messages_released = 0  # held ones released (confirmed delivery)
        self.retractions = 0  # orders.retracted written by rollbacks

    async def prepare(self) -> None:
        """Load the checkpoint and token decimals; check this is the chain we indexed."""
        self.decimals.known.update(await store.load_decimals(self.connection))
        checkpoint = await store.load_checkpoint(self.connection)
        if checkpoint is not None:
            self.processed, self.processed_hash = checkpoint.block, checkpoint.hash
        genesis = await self.chain.header(0)
        self.chain_id = await self.chain.chain_id()
        identity = {
            "chain_id": self.chain_id,
            "genesis_hash": genesis.hash if genesis else None,
            "trading": self.chain.trading,
        }
        stored = await store.load_chain_identity(self.connection)
        if stored is None:
            await store.save_chain_identity(self.connection, identity)
        elif stored != identity:
            differs = ", ".join(k for k in identity if stored.get(k) != identity[k])
            hint = " (node restarted from genesis?)" if "genesis_hash" in differs else ""
            raise Halt(
                f"the index belongs to another chain or contract: {differs} changed{hint}; "
                "reset the order tables to index this one"
            )
        await store.save_alert(self.connection, None)  # an earlier alert no longer holds
        if self.tuning.order_events_delivery == "instant":
            # Held by an earlier run in confirmed mode: released before anything newer is
            # written, so released messages keep their id order (order_outbox).
            await order_outbox.release(self.connection, None)
        log.info("resuming after block %d", self.processed)

    async def run(self) -> None:
        """Index until `stop` is set; RpcUnavailable and Halt propagate to the caller."""
        while not self.stop.is_set():
            if await self.step():
                await pause(self.tuning.poll_interval, self.stop)

    async def step(self) -> bool:
        """One pass: catch up to the confirmed head (or check the tip); True when caught up."""
        self.head = await self.chain.head()
        target = self.head - self.tuning.confirmations
        try:
            if self.processed >= target:
                await self._check_tip()
                caught_up = True
            else:
                await self._catch_up(target)
                caught_up = self.processed >= target
        except (ReorgDetected, BlockMissing, InconsistentRange) as reason:
            log.warning("chain changed under the index (%s); checking for a reorg", reason)
            await self._handle_reorg()
            caught_up = False
        else:
            await self._release()
        self.last_step = time.monotonic()
        return caught_up

    async def _release(self) -> None:
        """Confirmed delivery: releases the held order messages whose block now has
        `order_events_confirmations` blocks on top of it. Run after a pass that found the
        index on the node's chain (its tip checked, or batches linked to it)."""
        if self.tuning.order_events_delivery == "confirmed":
            depth = self.tuning.order_events_confirmations
            up_to = min(self.processed, self.head - depth)
            self.messages_released += await order_outbox.release(self.connection, up_to)

    async def sync(self, max_steps: int = 1000) -> None:
        """Step until caught up with the head as it is now (tests and one-shot runs)."""
        for _ in range(max_steps):
            if await self.step():
                return
        raise RuntimeError(f"not caught up after {max_steps} steps")

    async def _check_tip(self) -> None:
        if self.processed_hash is None or self.processed < 0:
            return
        header = await self.chain.header(self.processed)
        if header is None or header.hash != self.processed_hash:
            raise ReorgDetected(f"block {self.processed} is no longer {self.processed_hash}")

    def _next_end(self, start: int, target: int) -> int:
        end = min(target, start + self.sizer.size - 1)
        tail = self.head - self.tuning.reorg_window
        if start <= tail < end:
            end = tail  # ranges near the head fetch every header; keep them short
        return end

    async def _catch_up(self, target: int) -> None:
        pending: deque[asyncio.Task[FetchedRange]] = deque()
        writing: asyncio.Task[None] | None = None  # the previous range's write, in flight
        start = self.processed + 1
        tip_hash = self.processed_hash  # the last block prepared (written or being written)

        async def committed() -> None:
            nonlocal writing
            done, writing = writing, None  # a failed write is then not reported twice
            if done is not None:
                await done

        try:
            while (pending or start <= target) and not self.stop.is_set():
                while len(pending) < self.tuning.fetch_concurrency and start <= target:
                    end = self._next_end(start, target)
                    every_block = end > self.head - self.tuning.reorg_window
                    pending.append(
                        asyncio.create_task(
                            fetch_range(
                                self.chain, start, end, self.sizer, self.decimals, every_block
                            )
                        )
                    )
                    start = end + 1
                fetched = await pending.popleft()
                stored = self._stored_orders(fetched)
                if stored:
                    await committed()  # the table is read once the write in flight is done
                batch = await self._prepare(fetched, tip_hash, stored)
                await committed()
                writing = asyncio.create_task(self._write(batch))
                tip_hash = batch.end_hash
            await committed()
        except BaseException:
            self.cache.clear()  # it may hold rows of a batch that was never committed
            raise
        finally:
            if writing is not None:
                await self._settle(writing)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task

    @staticmethod
    async def _settle(writing: asyncio.Task[None]) -> None:
        """Let a write in flight end before the connection is used again, while another error
        propagates; the write's own failure, if any, is only logged."""
        await asyncio.wait([writing])
        if not writing.cancelled() and (error := writing.exception()) is not None:
            log.warning("the batch being written failed as well: %r", error)

    def _stored_orders(self, fetched: FetchedRange) -> set[int]:
        """The orders of this range to read from the table: those the cache does not hold,
        except orders created in this range (nothing of an order is stored before its
        OrderCreated is applied)."""
        created = {e.order_id for e in fetched.events if e.kind is EventKind.CREATED}
        return {
            e.order_id
            for e in fetched.events
            if e.order_id not in created and e.order_id not in self.cache
        }

    async def _prepare(
        self, fetched: FetchedRange, tip_hash: str | None, stored: set[int]
    ) -> store.Batch:
        first = fetched.headers[fetched.start]
        if tip_hash is not None and first.parent_hash != tip_hash:
            raise ReorgDetected(f"block {first.number} does not link to the stored block")
        orders, events, states, new_ids = await self._transitions(fetched, stored)
        self.cache.update(orders)
        rows = list(orders.values())
        # The statements' data is made here, while the previous batch writes, with pauses
        # between the parts so that write can send its next statement.
        await asyncio.sleep(0)
        records = store.event_records(events)
        await asyncio.sleep(0)
        arrays = store.order_arrays(rows, new_ids)
        await asyncio.sleep(0)
        messages = announcements.event_messages(
            self.chain_id, events, states, self.decimals.known, self.tuning.order_events_delivery
        )
        await asyncio.sleep(0)
        outbox_rows = order_outbox.records(messages)
        return store.Batch(
            start=fetched.start,
            end=fetched.end,
            orders=rows,
            events=events,
            headers=list(fetched.headers.values()),
            decimals=fetched.decimals,
            end_hash=fetched.headers[fetched.end].hash,
            new_order_ids=new_ids,
            event_records=records,
            order_arrays=arrays,
            messages=messages,
            outbox_records=outbox_rows,
        )

    async def _write(self, batch: store.Batch) -> None:
        await store.write_batch(self.connection, batch, self.tuning.reorg_window)
        self.processed, self.processed_hash = batch.end, batch.end_hash
        self.last_progress = time.monotonic()
        self.events_applied += len(batch.events)
        self.messages_written += len(batch.messages)
        if batch.events:
            log.info("applied blocks %d..%d: %d events", batch.start, batch.end, len(batch.events))

    async def _transitions(
        self, fetched: FetchedRange, stored: set[int]
    ) -> tuple[dict[int, OrderRow], list[EventRow], list[OrderRow], frozenset[int]]:
        """The range's orders after it, its stored events, each event's order after it (its
        message's state) and the ids of orders not stored yet."""
        ids = {event.order_id for event in fetched.events}
        orders = self.cache.rows(ids)
        if stored:
            orders.update(await store.load_orders(self.connection, stored))
        new_ids = frozenset(ids - orders.keys())
        rows: list[EventRow] = []
        states: list[OrderRow] = []
        for count, event in enumerate(fetched.events, 1):
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # lets the write in flight send its next statement
            order = orders.get(event.order_id)
            snapshot = fetched.snapshots.get(event.position)
            if order is None and snapshot is None:
                # An order created before the first indexed block: read it at this event's block.
                (snapshot,) = await self.chain.orders([(event.order_id, event.block_hash)])
                await self.decimals.ensure([snapshot.token_in, snapshot.token_out])
                fetched.decimals.update(
                    {t: self.decimals.known[t] for t in (snapshot.token_in, snapshot.token_out)}
                )
            timestamp = fetched.headers[event.block_number].timestamp
            row = event_row(event, order, timestamp, self.decimals, snapshot)
            orders[event.order_id] = after = transition(order, row)
            rows.append(row)
            states.append(after)
        return orders, rows, states, new_ids

    async def _handle_reorg(self) -> None:
        self.cache.clear()
        stored = await store.stored_hashes(self.connection)
        if not stored:
            return  # nothing applied near the head yet: the next pass re-checks
        ancestor = await find_ancestor(self.chain, stored, self.processed)
        if ancestor.number == self.processed and ancestor.hash == self.processed_hash:
            return  # answers were inconsistent only while the node moved: fetch again
        touched, retracted = await store.rollback(
            self.connection, ancestor.number, ancestor.hash, self.chain_id
        )
        self.retractions += retracted
        log.warning(
            "reorg: rolled back blocks %d..%d to %s (%d orders rebuilt or removed, %d order "
            "messages retracted)",
            ancestor.number + 1,
            self.processed,
            ancestor.hash,
            touched,
            retracted,
        )
        self.reorgs += 1
        self.reorged_blocks += self.processed - ancestor.number
        self.processed, self.processed_hash = ancestor.number, ancestor.hash
