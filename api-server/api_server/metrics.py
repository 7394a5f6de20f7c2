"""The api-server's own Prometheus figures, read at scrape time from the WebSocket hub and the
rollup maintainer (`None` where this process runs none)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from api_server.rollups import RollupMaintainer
from api_server.ws_hub import Hub


def hub_metrics(hub: Hub) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "api_websocket_clients", "WebSocket clients connected to this process.", hub.clients
    )
    yield CounterMetricFamily(
        "api_websocket_messages_sent",
        "Live messages broadcast to (or queued for) WebSocket clients; greetings not counted.",
        hub.sent,
    )
    yield CounterMetricFamily(
        "api_websocket_messages_dropped",
        "Messages dropped because a client left too much unread (the client is closed).",
        hub.dropped_slow,
    )


def rollup_metrics(maintainer: RollupMaintainer | None) -> Iterator[Metric]:
    holds = maintainer is not None and maintainer.maintainer
    yield GaugeMetricFamily(
        "linkora_rollup_maintainer",
        "1 while this process holds the rollup maintainer lock (one replica at a time).",
        int(holds),
    )
    yield CounterMetricFamily(
        "linkora_rollup_cycles",
        "Rollup passes this process has run as the maintainer.",
        0 if maintainer is None else maintainer.cycles,
    )
