"""Prometheus metrics shared by the services: each API's registry and request histogram, and
the text exposition of a registry. Nothing here needs Starlette: the worker services (the
collector, the event processor, the relay) install no ASGI framework, and their images would
not start if this module imported one; the Starlette route and middleware are in
`linkora_core.asgi_metrics`.

Every app owns a `CollectorRegistry` (never the process-wide default), so creating several
apps in one test process registers nothing twice. Figures a service already counts (clients,
messages, lag) are read at scrape time by small `Collector`s instead of being copied into
metric objects on the hot path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "FunctionCollector",
    "ServiceMetrics",
    "exposition",
]

# Seconds; dense below 100 ms where the cached candle pages and health checks answer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus' text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class FunctionCollector(Collector):
    """A collector whose metric families come from a function called at every scrape."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Metric]:
        return list(self._produce())


class ServiceMetrics:
    """One API's registry: the request histogram and room for the service's own collectors."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.service = service
        # Awaited before each scrape: figures that need I/O (a query) are refreshed here, as
        # a collector's collect() is called synchronously.
        self.before_scrape: list[Callable[[], Awaitable[object]]] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).observe(seconds)

    async def scrape(self) -> tuple[bytes, str]:
        """The exposition, after the refreshes that need I/O."""
        for refresh in self.before_scrape:
            await refresh()
        return exposition(self.registry)
