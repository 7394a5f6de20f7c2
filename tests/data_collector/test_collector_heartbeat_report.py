"""What the collector says in its heartbeat: ok with nothing waiting, its publish queue and
pending writes as its backlog, degraded while its database writes or Redis fail."""

from __future__ import annotations

from collector_helpers import HarnessFactory, SimFactory

from data_collector.heartbeat_report import report
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.progress_messages import ProgressReport


async def test_the_collector_reports_its_queues_and_degrades_on_failing_writes(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",))
    collector = make_collector(sim).collector
    idle = report(collector)
    assert (idle.state, idle.backlog) == ("ok", 0)
    assert idle.detail == {"publish_queue": 0, "storage_pending": 0, "markets": 1,
                           "backfilled": False, "problems": {}}  # fmt: skip

    market = Market(BINANCE_SPOT, "BTCUSDT")
    for done in (1, 2, 3):
        collector.publisher.progress(ProgressReport(market, "running", "", done, 10, 1, None))
    queued = report(collector)
    assert (queued.state, queued.backlog, queued.detail["publish_queue"]) == ("ok", 3, 3)

    collector.store.db_up = False
    collector.publisher.redis_up = False
    failing = report(collector)
    assert failing.state == "degraded"
    assert failing.detail["problems"] == {
        "database": "writes failing",
        "redis": "publishing paused",
    }
