"""The api-server's own Prometheus figures, read from the WebSocket hub at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from api_server.ws_hub import Hub


def hub_metrics(hub: Hub) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "api_websocket_clients", "WebSocket clients connected to this process.", hub.clients
    )
    yield CounterMetricFamily(
        "api_websocket_messages_sent",
        "Messages sent (or queued) to WebSocket clients.",
        hub.sent,
    )
    yield CounterMetricFamily(
        "api_websocket_messages_dropped",
        "Messages dropped because a client left too much unread (the client is closed).",
        hub.dropped_slow,
    )
