"""`GET /system` and its Prometheus gauges: the host's and the database's figures as psutil and
PostgreSQL give them, every heartbeat row shown up or down, rows silent for an hour pruned,
the host's figures still served while the database is away, and scrapes that query the
database at most once per 5 s; `/system` itself shares a snapshot up to 5 s old, prunes
and measures sizes only now and then, while every snapshot reads the heartbeats."""

from __future__ import annotations

import os
import re
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil
from api_helpers import minute, settings_for, store_minutes
from starlette.applications import Starlette

from api_server.app import create_app
from api_server.heartbeat_report import report
from api_server.system_metrics import system_metrics
from api_server.system_view import SystemView, is_up, service_entry
from api_server.ws_hub import Client, Hub, Message, Topic
from devstack.postgres import PostgresServer
from linkora_core import db
from linkora_core.tasks import BackgroundTasks
from tests.http_checks import running
from tests.polling import eventually

PLAIN = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9])?$")
BASE = 1_700_000_000_000 // 60_000 * 60_000


async def beat_row(
    pool: asyncpg.Pool,
    service: str,
    *,
    age: float = 0.0,
    state: str = "ok",
    cpu: str = "12.5",
    instance: str | None = None,
) -> str:
    """A heartbeat row last renewed `age` seconds ago; returns its instance."""
    instance = instance or f"box:{service}"
    await pool.execute(
        """INSERT INTO service_heartbeats (service, instance, pid, started_at, beat_at, state,
                                           cpu_percent, rss_bytes, backlog, detail)
           VALUES ($1, $2, 4242, now() - interval '1 day', now() - make_interval(secs => $3),
                   $4, $5::numeric, 123456789, 7, '{"queue": 3}')""",
        service, instance, age, state, cpu,
    )  # fmt: skip
    return instance


def disk_path(data_directory: str | None) -> str:
    """Where the view measures the disk: the database's files when on this machine."""
    return data_directory if data_directory and os.path.isdir(data_directory) else "/"


def by_instance(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["instance"]: s for s in body["services"]}


def test_up_means_a_beat_within_ten_seconds_and_not_stopped() -> None:
    assert is_up(Decimal("10.0"), "ok") and is_up(Decimal(0), "degraded")
    assert not is_up(Decimal("10.1"), "ok")
    assert not is_up(Decimal("0.5"), "stopped")


def test_a_heartbeat_row_is_shown_with_strings_for_its_decimals() -> None:
    row = {
        "service": "data-collector", "instance": "h:1", "pid": 1, "state": "ok",
        "age": Decimal("2.0"), "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "beat_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "cpu_percent": Decimal("7.25"),
        "rss_bytes": 10, "backlog": 0, "detail": '{"a": 1}',
    }  # fmt: skip
    assert service_entry(row) == {
        "service": "data-collector", "instance": "h:1", "pid": 1, "state": "ok", "up": True,
        "age_seconds": "2", "started_at": "2026-01-01T00:00:00Z",
        "beat_at": "2026-01-02T03:04:05Z", "cpu_percent": "7.2", "rss_bytes": 10,
        "backlog": 0, "detail": {"a": 1},
    }  # fmt: skip


async def test_the_api_server_reports_its_unsent_websocket_bytes_as_its_backlog() -> None:
    hub, tasks = Hub(), BackgroundTasks("api-server")
    client = Client(None, "10.0.0.1", max_backlog=2**20)  # type: ignore[arg-type]  # never sent
    hub.add(client)
    hub.subscribe(client, Topic("orderbook", "BTCUSDT"))
    assert report(hub, tasks).backlog == 0
    for text in ("a" * 100, "b" * 50):
        assert client.offer(Message.of(text))
    beat = report(hub, tasks)
    assert beat.backlog == client.queued_bytes > 150  # frames: the text and its header
    assert (beat.state, beat.detail) == ("ok", {"ws_clients": 1, "problems": {}})


async def test_system_gives_the_host_and_database_figures(
    client: httpx.AsyncClient, app: Starlette, clean_db: asyncpg.Pool
) -> None:
    await store_minutes(clean_db, "BTCUSDT", [minute(BASE + i * 60_000, "1", "2", "0.5", "1.5")
                                              for i in range(20_000)])  # fmt: skip
    response = await client.get("/system")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"time", "started_at", "uptime_seconds", "cpu", "memory", "disk",
                         "database", "services"}  # fmt: skip
    started: datetime = app.state.started_at
    assert body["started_at"] == started.isoformat().replace("+00:00", "Z")
    assert 0 <= body["uptime_seconds"] <= (datetime.now(UTC) - started).total_seconds() + 1

    assert body["cpu"]["count"] == os.cpu_count()
    assert PLAIN.match(body["cpu"]["percent"]) and 0 <= Decimal(body["cpu"]["percent"]) <= 100
    memory = body["memory"]
    assert memory["total_bytes"] == psutil.virtual_memory().total
    assert 0 < memory["available_bytes"] <= memory["total_bytes"]
    assert 0 < memory["used_bytes"] <= memory["total_bytes"]
    assert PLAIN.match(memory["percent"])
    disk = body["disk"]
    data_dir = await clean_db.fetchval(
        "SELECT setting FROM pg_settings WHERE name = 'data_directory'"
    )
    assert disk["path"] == disk_path(data_dir)
    usage = psutil.disk_usage(disk["path"])
    assert disk["total_bytes"] == usage.total
    assert abs(disk["free_bytes"] - usage.free) < 256 * 2**20

    database = body["database"]
    assert database["up"] is True
    size = await clean_db.fetchval("SELECT pg_database_size(current_database())")
    assert abs(database["size_bytes"] - size) < 2**20
    tables = database["tables"]
    public = await clean_db.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert len(tables) == min(20, public)
    sizes = [t["size_bytes"] for t in tables]
    assert sizes == sorted(sizes, reverse=True)
    assert tables[0]["name"] == "candles"
    assert tables[0]["size_bytes"] == await clean_db.fetchval(
        "SELECT pg_total_relation_size('candles')"
    )
    assert tables[0]["size_bytes"] > 2**20


async def test_services_are_shown_up_down_or_stopped_and_hour_old_rows_pruned(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    fresh = await beat_row(clean_db, "data-collector", age=1)
    silent = await beat_row(clean_db, "order-events", age=11)
    stopped = await beat_row(clean_db, "order-api", state="stopped")
    gone = await beat_row(clean_db, "data-collector", age=3601, instance="old:1")
    me = f"{socket.gethostname()}:{os.getpid()}"
    shown = await eventually(lambda: _with(client, me), 10, what="the api-server's own heartbeat")
    assert set(shown) == {fresh, silent, stopped, me}
    assert shown[fresh] | {"age_seconds": "x"} == {
        "service": "data-collector", "instance": fresh, "pid": 4242, "state": "ok",
        "up": True, "age_seconds": "x", "started_at": shown[fresh]["started_at"],
        "beat_at": shown[fresh]["beat_at"], "cpu_percent": "12.5", "rss_bytes": 123456789,
        "backlog": 7, "detail": {"queue": 3},
    }  # fmt: skip
    assert 1 <= Decimal(shown[fresh]["age_seconds"]) < 3
    assert shown[silent]["up"] is False and Decimal(shown[silent]["age_seconds"]) >= 11
    assert shown[stopped]["up"] is False and shown[stopped]["state"] == "stopped"
    own = shown[me]
    assert own["service"] == "api-server" and own["pid"] == os.getpid() and own["up"]
    assert own["detail"]["ws_clients"] == 0 and own["state"] == "ok"
    assert await clean_db.fetchval(
        "SELECT count(*) FROM service_heartbeats WHERE instance = $1", gone
    ) == 0  # fmt: skip


async def _with(client: httpx.AsyncClient, instance: str) -> dict[str, dict[str, Any]] | None:
    shown = by_instance((await client.get("/system")).json())
    return shown if instance in shown else None


async def test_metrics_expose_the_same_figures(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    instance = await beat_row(clean_db, "data-collector", age=1)
    body = (await client.get("/system")).json()
    text = (await client.get("/metrics")).text
    samples = _samples(text)
    assert samples["linkora_system_memory_bytes"]['kind="total"'] == psutil.virtual_memory().total
    assert set(samples["linkora_system_memory_bytes"]) == {
        'kind="total"',
        'kind="available"',
        'kind="used"',
    }
    assert samples["linkora_system_disk_free_bytes"][""] > 0
    assert samples["linkora_system_disk_total_bytes"][""] == body["disk"]["total_bytes"]
    assert 0 <= samples["linkora_system_cpu_percent"][""] <= 100
    assert samples["linkora_database_up"][""] == 1
    assert samples["linkora_database_size_bytes"][""] == body["database"]["size_bytes"]
    tables = samples["linkora_table_size_bytes"]
    assert {f'table="{t["name"]}"' for t in body["database"]["tables"]} == set(tables)
    labels = f'instance="{instance}",service="data-collector"'
    assert samples["linkora_service_up"][labels] == 1
    assert samples["linkora_service_cpu_percent"][labels] == 12.5
    assert samples["linkora_service_rss_bytes"][labels] == 123456789
    assert samples["linkora_service_backlog"][labels] == 7


def _samples(text: str) -> dict[str, dict[str, float]]:
    """Prometheus text as {metric: {sorted labels: value}}."""
    found: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if line.startswith("linkora_"):
            key, value = line.rsplit(" ", 1)
            name, _, labels = key.partition("{")
            pairs = sorted(re.findall(r'\w+="[^"]*"', labels))
            found.setdefault(name, {})[",".join(pairs)] = float(value)
    return found


async def test_scrapes_query_the_database_at_most_once_per_five_seconds(
    client: httpx.AsyncClient, app: Starlette, clean_db: asyncpg.Pool
) -> None:
    view: SystemView = app.state.system
    assert "linkora_service_up" in (await client.get("/metrics")).text
    taken, since = view.taken, time.monotonic()
    instance = await beat_row(clean_db, "order-events", age=0)

    async def scraped() -> bool:
        return instance in (await client.get("/metrics")).text

    assert not await scraped()  # the snapshot of the first scrape is reused
    await eventually(scraped, 10, every=0.05, what="the new row in a later snapshot")
    elapsed = time.monotonic() - since
    assert elapsed >= 4.5 and view.taken - taken <= elapsed / 5 + 1


def test_no_gauges_before_the_first_snapshot() -> None:
    assert list(system_metrics(None)) == []


async def test_with_the_database_away_the_host_figures_are_still_served(
    restartable_postgres: PostgresServer, service_env: dict[str, str]
) -> None:
    target = urlsplit(restartable_postgres.dsn)
    env = service_env | {"DB_HOST": "127.0.0.1", "DB_PORT": str(target.port),
                         "DB_NAME": "postgres", "DB_USER": "postgres"}  # fmt: skip
    await (await db.connect_pool(restartable_postgres.dsn)).close()  # migrates the server
    app = create_app(settings_for(env, rate_limit_per_second=0), maintain_rollups=False)
    async with running(app, "http://api") as client:
        await eventually(lambda: _has_services(client), 10, what="the api-server's heartbeat")
        restartable_postgres.stop()

        async def down() -> dict[str, Any] | None:
            body = (await client.get("/system")).json()
            return body if not body["database"]["up"] else None

        body = await eventually(down, 10, what="the database shown away")
        assert body["database"] == {"up": False, "size_bytes": None, "tables": []}
        assert body["services"] == []
        assert body["memory"]["total_bytes"] == psutil.virtual_memory().total
        assert "linkora_database_up 0.0" in (await client.get("/metrics")).text
        restartable_postgres.start()
        await eventually(lambda: _has_services(client), 30, what="the database back")


async def _has_services(client: httpx.AsyncClient) -> bool:
    body = (await client.get("/system")).json()
    return bool(body["database"]["up"] and body["services"])


async def test_a_burst_of_system_calls_shares_one_snapshot(
    client: httpx.AsyncClient, app: Starlette, clean_db: asyncpg.Pool
) -> None:
    view: SystemView = app.state.system
    first = (await client.get("/system")).json()
    taken, since = view.taken, time.monotonic()
    while time.monotonic() - since < 0.3:  # calls for 0.3 s, within the 0.5 s accepted
        assert (await client.get("/system")).json()["time"] == first["time"]
    # Anyone may call /system: a burst costs no query (ROUTE_MAX_AGE apart).
    assert view.taken == taken


async def test_heartbeats_are_read_each_snapshot_sizes_and_prunes_only_now_and_then(
    clean_db: asyncpg.Pool,
) -> None:
    view = SystemView(clean_db, datetime.now(UTC))
    first = await view.get(0)
    assert (view.taken, view.measured, view.pruned) == (1, 1, 1)
    fresh = await beat_row(clean_db, "data-collector", age=1)
    gone = await beat_row(clean_db, "data-collector", age=3601, instance="old:1")
    await store_minutes(clean_db, "BTCUSDT", [minute(BASE + i * 60_000, "1", "2", "0.5", "1.5")
                                              for i in range(5_000)])  # fmt: skip
    second = await view.get(0)
    assert view.taken == 2 and (view.measured, view.pruned) == (1, 1)
    # Every snapshot reads the heartbeats; the sizes and the prune wait their turn.
    assert set(by_instance(second)) == {fresh, gone}
    assert second["database"] == first["database"]

    due = SystemView(clean_db, datetime.now(UTC), prune_every=0, sizes_every=0)
    third = await due.get(0)
    assert set(by_instance(third)) == {fresh}
    assert third["database"]["size_bytes"] > first["database"]["size_bytes"]
