"""What the collector says in its heartbeat: degraded while a background task is down or the
database or Redis refuses its writes; its backlog is what waits to be published or stored."""

from __future__ import annotations

from data_collector.collector import Collector
from linkora_core.heartbeat import Report


def report(collector: Collector) -> Report:
    problems = collector.tasks.problems()
    if not collector.store.db_up:
        problems["database"] = "writes failing"
    if not collector.publisher.redis_up:
        problems["redis"] = "publishing paused"
    queued, pending = collector.publisher.queued, collector.store.pending
    return Report(
        "degraded" if problems else "ok",
        backlog=queued + pending,
        detail={
            "publish_queue": queued,
            "storage_pending": pending,
            "markets": len(collector.markets),
            "backfilled": collector.backfilled.is_set(),
            "problems": problems,
        },
    )
