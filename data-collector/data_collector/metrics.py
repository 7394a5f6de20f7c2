"""The collector's Prometheus figures, read from its status and counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from data_collector.collector import Collector
from data_collector.rest import BinanceRest
from data_collector.status import lag_seconds
from linkora_core.epoch import now_ms
from linkora_core.metrics import FunctionCollector


def collector_metrics(collector: Collector) -> Iterator[Metric]:
    now = now_ms()
    lag = GaugeMetricFamily(
        "collector_lag_seconds",
        "Seconds the newest closed 1m candle's end is behind now, per market.",
        labels=["symbol"],
    )
    done = GaugeMetricFamily(
        "collector_backfill_done_minutes", "Backfill minutes covered.", labels=["symbol"]
    )
    total = GaugeMetricFamily(
        "collector_backfill_total_minutes", "Backfill minutes to cover.", labels=["symbol"]
    )
    realtime = GaugeMetricFamily(
        "collector_symbol_realtime",
        "1 when the market is collected in real time.",
        labels=["symbol"],
    )
    # The `symbol` label names the market as status.py does: the bare symbol for Binance spot.
    for symbol, status in collector.status.named():
        if status.last_closed_ms is not None:
            lag.add_metric([symbol], lag_seconds(status.last_closed_ms, now))
        if status.progress is not None:
            done.add_metric([symbol], status.progress.done)
            total.add_metric([symbol], status.progress.total)
        realtime.add_metric([symbol], 1 if status.phase == "realtime" else 0)
    yield from (lag, done, total, realtime)

    publisher, store = collector.publisher, collector.store
    used = GaugeMetricFamily(
        "collector_weight_used",
        "Request weight used in the venue's window (Binance: as last reported in "
        "X-MBX-USED-WEIGHT-1M).",
        labels=["venue"],
    )
    limit = GaugeMetricFamily(
        "collector_weight_limit", "Request weight limit per window.", labels=["venue"]
    )
    requests = CounterMetricFamily(
        "collector_rest_requests", "REST requests sent.", labels=["venue"]
    )
    rest_malformed = 0
    for venue in collector.venues:
        rest = collector.sources[venue]
        reported = rest.reported_weight if isinstance(rest, BinanceRest) else None
        used.add_metric([venue.key], reported if reported is not None else rest.budget.used)
        limit.add_metric([venue.key], rest.budget.limit)
        requests.add_metric([venue.key], rest.requests)
        rest_malformed += rest.malformed
    yield from (used, limit, requests)
    written = CounterMetricFamily(
        "collector_candles_written", "Candles written to PostgreSQL, by path.", labels=["path"]
    )
    written.add_metric(["backfill"], _backfilled(collector))
    written.add_metric(["live"], store.candles_written)
    yield written
    malformed = CounterMetricFamily(
        "collector_malformed_upstream",
        "Answers, kline rows and stream frames from the exchange skipped as malformed.",
        labels=["source"],
    )
    malformed.add_metric(["rest"], rest_malformed)
    malformed.add_metric(["stream"], collector.live.malformed_total)
    yield malformed
    resyncs = CounterMetricFamily(
        "collector_book_resyncs",
        "Order books found out of sync (a missed diff, a bad checksum) and rebuilt.",
        labels=["venue"],
    )
    for venue in collector.venues:
        resyncs.add_metric([venue.key], collector.resyncs(venue))
    yield resyncs
    refused = CounterMetricFamily(
        "collector_rows_refused",
        "Rows PostgreSQL refused (reported, not stored), by path.",
        labels=["path"],
    )
    for path in ("backfill", "live", "audit"):
        refused.add_metric([path], collector.refusals.counts[path])
    yield refused
    yield CounterMetricFamily(
        "collector_messages_published", "Messages published to Redis.", publisher.published
    )
    yield CounterMetricFamily(
        "collector_messages_dropped", "Messages dropped by a full publish queue.",
        publisher.dropped,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "collector_websocket_connected",
        "1 while every live stream (of every venue) is connected.",
        1 if collector.status.websocket_connected else 0,
    )
    venue_up = GaugeMetricFamily(
        "collector_venue_websocket_connected",
        "1 while every live stream of the venue is connected.",
        labels=["venue"],
    )
    for venue in collector.venues:
        venue_up.add_metric([venue.key], 1 if collector.streaming(venue) else 0)
    yield venue_up
    yield GaugeMetricFamily(
        "collector_leased_markets",
        "Markets this instance holds the lease of (collects or is handing over).",
        len(collector.leases.held),
    )
    yield GaugeMetricFamily(
        "collector_live_instances", "Collector instances seen alive through their leases.",
        len(collector.leases.instances),
    )  # fmt: skip


def _backfilled(collector: Collector) -> int:
    return sum(
        status.progress.stored
        for status in collector.status.markets.values()
        if status.progress is not None
    )


def registry_for(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FunctionCollector(lambda: collector_metrics(collector)))
    return registry
