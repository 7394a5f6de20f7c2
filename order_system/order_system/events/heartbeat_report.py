"""What the event processor says in its heartbeat: `halted` after an alert, `standby` while
another processor holds the writer lock, degraded while a task is down; its backlog is the
blocks between the processed one and the chain's head."""

from __future__ import annotations

from linkora_core.heartbeat import Report
from linkora_core.tasks import BackgroundTasks
from order_system.events.health import IndexerState


def report(state: IndexerState, tasks: BackgroundTasks) -> Report:
    problems = tasks.problems()
    processor = state.processor
    head = processor.head if processor is not None else -1
    processed = processor.processed if processor is not None else -1
    behind = max(0, head - processed) if processor is not None and head >= 0 else 0
    if state.halted is not None:
        verdict = "halted"
    elif problems:
        verdict = "degraded"
    elif not state.lock_held:
        verdict = "standby"
    else:
        verdict = "ok"
    return Report(
        verdict,
        backlog=behind,
        detail={"head": head, "processed": processed, "problems": problems},
    )
