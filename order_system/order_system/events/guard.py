"""What the reorg guardrails (reorg.py) decided, for health and the metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

# Rollbacks deeper than this many blocks are confirmed by a second provider when one is set.
DEFAULT_CONFIRM_DEPTH = 3


@dataclass(slots=True)
class ReorgGuard:
    confirm_depth: int = DEFAULT_CONFIRM_DEPTH
    deferred: int = 0  # rollbacks not acted on, all told
    disputed: int = 0  # of those: a second provider did not confirm it
    below_finalized: int = 0  # of those: the rollback would have gone below the finalized block
    shorter_chain: int = 0  # of those: the node's chain was shorter than the one indexed
    reason: str | None = None  # why the last rollback was deferred
    deferred_at: float = 0.0  # when (monotonic); 0.0: never

    def defer(self, reason: str) -> None:
        self.deferred += 1
        self.reason = reason
        self.deferred_at = time.monotonic()

    def deferring(self, last_step: float) -> str | None:
        """The reason while no pass has got through since the last deferral (pure)."""
        return self.reason if self.deferred_at > last_step else None
