"""Optional health, readiness and Prometheus metrics endpoint of the processor (METRICS_PORT):
`/health` (always 200, with a verdict), `/ready` (200 or 503), `/metrics`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from linkora_core import status_server
from linkora_core.metrics import FunctionCollector
from linkora_core.status_server import ServiceStatus
from order_system.events.health import Health, IndexerState
from order_system.events.processor import Processor
from order_system.providers import Providers


def _numbers(processor: Processor) -> dict[str, float]:
    lag = max(0, processor.head - processor.processed) if processor.head >= 0 else -1
    return {
        "order_indexer_chain_head": processor.head,
        "order_indexer_processed_block": processor.processed,
        "order_indexer_lag_blocks": lag,
        "order_indexer_events_applied_total": processor.events_applied,
        "order_indexer_reorgs_total": processor.reorgs,
        "order_indexer_seconds_since_progress": round(
            time.monotonic() - processor.last_progress, 3
        ),
        "order_indexer_range_size": processor.sizer.size,
        "order_indexer_order_reader": int(processor.chain.reader_enabled),
        "order_indexer_reorgs_deferred_total": processor.chain.guard.deferred,
        "order_indexer_reorgs_disputed_total": processor.chain.guard.disputed,
    }


def state_metrics(state: IndexerState) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "order_indexer_halted",
        "1 while halted with an alert (python -m order_system.events resume lifts it).",
        int(state.halted is not None),
    )
    if state.processor is not None:
        yield from processor_metrics(state.processor)
    if state.providers is not None:
        yield from provider_metrics(state.providers)


def provider_metrics(providers: Providers) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "order_indexer_provider_up",
        "1 while the provider answers; 0 while set aside.",
        labels=["provider"],
    )
    in_use = GaugeMetricFamily(
        "order_indexer_provider_in_use", "1 for the provider the indexer uses.", labels=["provider"]
    )
    failures = CounterMetricFamily(
        "order_indexer_provider_failures", "Times the provider was set aside (down or rate "
        "limited).", labels=["provider"],
    )  # fmt: skip
    for provider in providers.providers:
        up.add_metric([provider.name], int(provider.down is None))
        in_use.add_metric([provider.name], int(provider is providers.current))
        failures.add_metric([provider.name], provider.failures)
    yield from (up, in_use, failures)
    yield CounterMetricFamily(
        "order_indexer_provider_failovers", "Changes of the provider in use.", providers.failovers
    )
    yield CounterMetricFamily(
        "order_indexer_rate_limited", "Requests the providers refused for their rate.",
        providers.rate_limited,
    )  # fmt: skip


def processor_metrics(processor: Processor) -> Iterator[Metric]:
    numbers, guard = _numbers(processor), processor.chain.guard
    gauges = {
        "order_indexer_chain_head": "Latest block number the node reported (-1 before the first).",
        "order_indexer_processed_block": "Last block whose events are applied (the checkpoint).",
        "order_indexer_lag_blocks": "Blocks between the chain head and the checkpoint.",
        "order_indexer_seconds_since_progress": "Seconds since a batch was last applied.",
        "order_indexer_range_size": "Blocks fetched per range (adaptive).",
        "order_indexer_order_reader": "1: getOrder read one call per block (OrderReader); "
        "0: one call per order (the node did not run it).",
    }
    for name, documentation in gauges.items():
        yield GaugeMetricFamily(name, documentation, numbers[name])
    yield GaugeMetricFamily(
        "order_indexer_reorg_deferred",
        "1 while a rollback is held back by a guardrail (the reason is in /health).",
        int(guard.deferring(processor.last_step) is not None),
    )
    counters = {
        "order_indexer_events_applied": ("Contract events indexed.", processor.events_applied),
        "order_indexer_reorgs": ("Reorgs rolled back.", processor.reorgs),
        "order_indexer_reorged_blocks": ("Blocks rolled back by reorgs.", processor.reorged_blocks),
        "order_indexer_order_messages": (
            "Order event messages written to the outbox.", processor.messages_written,
        ),
        "order_indexer_order_messages_released": (
            "Held order messages released at their confirmation depth (confirmed delivery).",
            processor.messages_released,
        ),
        "order_indexer_order_retractions": (
            "orders.retracted messages written for released events a reorg removed.",
            processor.retractions,
        ),
        "order_indexer_reconnects": (
            "Reconnections to the node by the watchdog.", processor.reconnects,
        ),
        "order_indexer_reorgs_deferred": (
            "Rollbacks held back by a guardrail (shorter chain, finality, second provider).",
            guard.deferred,
        ),
        "order_indexer_reorgs_disputed": (
            "Deep rollbacks a second provider did not confirm.", guard.disputed,
        ),
        "order_indexer_reorgs_below_finalized": (
            "Rollbacks refused for undoing the node's finalized block.", guard.below_finalized,
        ),
        "order_indexer_reorgs_shorter_chain": (
            "Rollbacks refused for a node chain shorter than the one indexed.",
            guard.shorter_chain,
        ),
    }  # fmt: skip
    for name, (documentation, value) in counters.items():
        yield CounterMetricFamily(name, documentation, value)


def registry_for(state: IndexerState) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FunctionCollector(lambda: state_metrics(state)))
    return registry


async def start(health: Health, host: str, port: int) -> web.AppRunner:
    async def health_() -> dict[str, Any]:
        processor = health.state.processor
        return await health.health({} if processor is None else _numbers(processor))

    service = ServiceStatus(health_, health.problems, registry_for(health.state))
    return await status_server.start(service, host, port)
