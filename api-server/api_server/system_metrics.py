"""The `/system` figures as Prometheus gauges on the api-server's `/metrics`, read from the
snapshot `SystemView` keeps: a scrape takes a new one at most every `MAX_AGE` seconds, so
scrapes never query PostgreSQL more often than that."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from api_server.system_view import Snapshot, SystemView

MAX_AGE: Final = 5.0
_SERVICE_LABELS = ["service", "instance"]


def system_metrics(snapshot: Snapshot | None) -> Iterator[Metric]:
    """The gauges of one snapshot (pure; nothing before the first snapshot)."""
    if snapshot is None:
        return
    yield GaugeMetricFamily(
        "linkora_system_cpu_percent",
        "Host CPU use since the previous snapshot, percent of all cores.",
        float(Decimal(snapshot["cpu"]["percent"])),
    )
    memory = GaugeMetricFamily(
        "linkora_system_memory_bytes", "Host memory by kind.", labels=["kind"]
    )
    for kind in ("total", "available", "used"):
        memory.add_metric([kind], snapshot["memory"][f"{kind}_bytes"])
    yield memory
    disk = snapshot["disk"]
    yield GaugeMetricFamily(
        "linkora_system_disk_free_bytes",
        "Free bytes on the filesystem of the database's files (or /).",
        disk["free_bytes"],
    )
    yield GaugeMetricFamily(
        "linkora_system_disk_total_bytes",
        "Size of the filesystem of the database's files (or /).",
        disk["total_bytes"],
    )
    yield GaugeMetricFamily(
        "linkora_api_uptime_seconds", "Seconds since this api-server started.",
        snapshot["uptime_seconds"],
    )  # fmt: skip
    database = snapshot["database"]
    yield GaugeMetricFamily(
        "linkora_database_up", "1 while the api-server reads the database.", int(database["up"])
    )
    yield from _database(database)
    yield from _services(snapshot["services"])


def _database(database: dict[str, Any]) -> Iterator[Metric]:
    size = database["size_bytes"]
    if not isinstance(size, int):
        return
    yield GaugeMetricFamily("linkora_database_size_bytes", "pg_database_size.", size)
    tables = GaugeMetricFamily(
        "linkora_table_size_bytes",
        "pg_total_relation_size of the largest tables of the public schema.",
        labels=["table"],
    )
    for table in database["tables"]:
        tables.add_metric([table["name"]], table["size_bytes"])
    yield tables


def _services(services: list[dict[str, Any]]) -> Iterator[Metric]:
    families = {
        "up": GaugeMetricFamily(
            "linkora_service_up",
            "1 while the process beat within 10 s and has not stopped.",
            labels=_SERVICE_LABELS,
        ),
        "cpu_percent": GaugeMetricFamily(
            "linkora_service_cpu_percent",
            "The process's CPU use between its last two beats, percent of one core.",
            labels=_SERVICE_LABELS,
        ),
        "rss_bytes": GaugeMetricFamily(
            "linkora_service_rss_bytes", "The process's resident memory.", labels=_SERVICE_LABELS
        ),
        "backlog": GaugeMetricFamily(
            "linkora_service_backlog",
            "Work the process reports waiting (collector: queued publishes and pending "
            "writes; api-server: unsent WebSocket bytes; indexer: blocks behind the head).",
            labels=_SERVICE_LABELS,
        ),
    }
    for service in services:
        labels = [service["service"], service["instance"]]
        families["up"].add_metric(labels, int(service["up"]))
        families["cpu_percent"].add_metric(labels, float(Decimal(service["cpu_percent"])))
        families["rss_bytes"].add_metric(labels, service["rss_bytes"])
        families["backlog"].add_metric(labels, service["backlog"])
    yield from families.values()


async def refresh(view: SystemView) -> None:
    """Before a scrape: a snapshot at most `MAX_AGE` seconds old."""
    await view.get(MAX_AGE)
