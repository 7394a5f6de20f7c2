"""What the processor's health server says: `/ready` 503 while the database or the node is
unreachable, or the indexer is halted, stalled, holding a rollback back (reorg.py's guardrails)
or not holding the writer lock (or one of the process's tasks is down), naming each problem;
`/health` (always 200) gives the same verdict with the indexer's numbers and each provider's
state (in use, up, or down and why). The database and the node are asked at most about once
a second."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from linkora_core import db
from linkora_core.readiness import CachedCheck
from linkora_core.tasks import BackgroundTasks
from order_system.events.processor import Processor
from order_system.providers import Providers
from order_system.rpc import JsonRpc


@dataclass(slots=True)
class IndexerState:
    """What the indexer task is doing, for health and the watchdog."""

    processor: Processor | None = None  # the current (or, when halted, the last) processor
    lock_held: bool = False
    halted: str | None = None  # the halt's message while halted
    providers: Providers | None = None  # the indexer's


def stalled(processor: Processor, head: int) -> str | None:
    """Why the processor counts as stalled: behind the confirmed head with no batch applied
    for longer than the watchdog allows (pure)."""
    behind = head - processor.tuning.confirmations - processor.processed
    idle = time.monotonic() - processor.last_progress
    if behind > 0 and idle > processor.tuning.watchdog_seconds:
        return f"no block applied for {idle:.0f} s while {behind} blocks behind"
    return None


class Health:
    def __init__(
        self,
        state: IndexerState,
        pool: asyncpg.Pool,
        probe: JsonRpc | Providers,
        tasks: BackgroundTasks,
    ) -> None:
        self.state = state
        self.tasks = tasks
        self.database = CachedCheck(lambda: db.is_healthy(pool))
        self.node = CachedCheck(lambda: probe.head_or_none())

    async def problems(self) -> dict[str, str]:
        problems = self.tasks.problems()
        if not await self.database.get():
            problems["database"] = "unreachable"
        head = await self.node.get()
        if head is None:
            problems["node"] = "unreachable"
        state = self.state
        if state.halted is not None:
            problems["halted"] = state.halted
        elif not state.lock_held:
            problems["writer_lock"] = "not held: another processor holds it, or no database"
        elif state.processor is not None and (
            why := stalled(state.processor, max(head or -1, state.processor.head))
        ):
            problems["stalled"] = why
        processor = state.processor
        if processor is not None and state.halted is None:
            deferring = processor.chain.guard.deferring(processor.last_step)
            if deferring is not None:
                problems["reorg_deferred"] = deferring
        return problems

    async def health(self, numbers: dict[str, float]) -> dict[str, Any]:
        problems = await self.problems()
        verdict_ = "healthy" if not problems else "halted" if "halted" in problems else "unhealthy"
        return {
            "status": "success",
            "verdict": verdict_,
            "problems": problems,
            "halted": self.state.halted,
            "writer_lock": self.state.lock_held,
            **(
                {} if self.state.providers is None else {"providers": self.state.providers.status()}
            ),
            **numbers,
        }
