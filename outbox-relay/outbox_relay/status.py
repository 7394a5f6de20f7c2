"""What the relay says about itself: `/health`, `/ready` and `/metrics` on METRICS_PORT
(linkora_core.status_server) and its heartbeat report (state, backlog) for /system."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from linkora_core.heartbeat import Report
from linkora_core.metrics import FunctionCollector
from linkora_core.status_server import ServiceStatus
from linkora_core.tasks import BackgroundTasks
from outbox_relay.relay import RelayState

# Seconds from a publish to its confirmation: a local broker confirms within milliseconds.
CONFIRM_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


def problems(state: RelayState, tasks: BackgroundTasks) -> dict[str, str]:
    """What keeps the relay from relaying (a standby with nothing wrong has none)."""
    found = dict(tasks.problems())
    if state.database_error is not None:
        found["database"] = state.database_error
    if state.active and not state.broker_connected:
        found["broker"] = state.broker_error or "not connected"
    return found


def verdict(state: RelayState, tasks: BackgroundTasks) -> str:
    if problems(state, tasks):
        return "degraded"
    return "ok" if state.active else "standby"


def health(state: RelayState, tasks: BackgroundTasks) -> dict[str, Any]:
    return {
        "status": verdict(state, tasks),
        "active": state.active,
        "broker_connected": state.broker_connected,
        "backlog": state.backlog,
        "published": state.published,
        "reconnects": state.reconnects,
        "seconds_since_publish": round(time.monotonic() - state.last_published, 3),
        "problems": problems(state, tasks),
    }


def report(state: RelayState, tasks: BackgroundTasks) -> Report:
    return Report(
        verdict(state, tasks),
        backlog=state.backlog,
        detail={"published": state.published, "problems": problems(state, tasks)},
    )


def _figures(state: RelayState) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "outbox_relay_published", "Messages the broker confirmed and the relay marked.",
        state.published,
    )  # fmt: skip
    yield CounterMetricFamily(
        "outbox_relay_reconnects", "Broker connections lost or refused.", state.reconnects
    )
    yield CounterMetricFamily(
        "outbox_relay_pruned", "Published rows deleted after the retention.", state.pruned
    )
    yield GaugeMetricFamily(
        "outbox_relay_backlog", "Outbox rows released and not yet confirmed.", state.backlog
    )
    yield GaugeMetricFamily(
        "outbox_relay_active", "1 while this relay holds the relay lock.", int(state.active)
    )
    yield GaugeMetricFamily(
        "outbox_relay_broker_connected", "1 while connected to the broker.",
        int(state.broker_connected),
    )  # fmt: skip


class RelayMetrics:
    """The relay's registry: the figures in RelayState read at scrape, and the confirmation
    latency histogram the broker observes."""

    def __init__(self, state: RelayState) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(FunctionCollector(lambda: _figures(state)))
        self.confirm_latency = Histogram(
            "outbox_relay_confirm_seconds",
            "Seconds from publishing a message to the broker's confirmation.",
            buckets=CONFIRM_BUCKETS,
            registry=self.registry,
        )

    def observe(self, seconds: float) -> None:
        self.confirm_latency.observe(seconds)


def service_status(
    state: RelayState, tasks: BackgroundTasks, metrics: RelayMetrics
) -> ServiceStatus:
    async def health_() -> dict[str, Any]:
        return health(state, tasks)

    async def problems_() -> dict[str, str]:
        return problems(state, tasks)

    return ServiceStatus(health_, problems_, metrics.registry)
