"""The monitoring scripts and every service's /metrics, against the running offline platform:
each script passes there, and fails loudly (non-zero, a FAIL line) when its target is down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import yaml

from devstack.ports import free_port
from tests.polling import eventually

# The system view on the api-server: the host, the database and every process's heartbeat.
SYSTEM_METRICS = (
    "linkora_system_cpu_percent",
    "linkora_system_memory_bytes",
    "linkora_system_disk_free_bytes",
    "linkora_database_size_bytes",
    "linkora_table_size_bytes",
    "linkora_service_up",
    "linkora_service_cpu_percent",
    "linkora_service_rss_bytes",
    "linkora_service_backlog",
)

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
# Each script with the arguments a test run uses (monitor_growth samples for 3 seconds).
SCRIPTS = {
    "setup_monitoring.sh": [],
    "quick_check.sh": [],
    "full_diagnostics.sh": [],
    "db_connections_check.sh": [],
    "api_check.sh": [],
    "monitor_growth.sh": ["3"],
    "emergency_fix.sh": [],
}
EXPECTED_METRICS = {
    "api-server": {
        "http_request_duration_seconds_bucket",
        "api_websocket_clients",
        "api_websocket_messages_sent_total",
        "api_websocket_messages_dropped_total",
        *SYSTEM_METRICS,
    },
    "order-api": {"http_request_duration_seconds_bucket"},
    "collector": {
        "collector_lag_seconds",
        "collector_weight_used",
        "collector_candles_written_total",
        "collector_messages_published_total",
        "collector_backfill_done_minutes",
        "collector_backfill_total_minutes",
    },
    "events": {
        "order_indexer_chain_head",
        "order_indexer_processed_block",
        "order_indexer_lag_blocks",
        "order_indexer_reorgs_total",
        "order_indexer_events_applied_total",
    },
}
OVERRIDES = (
    *("API_URL", "ORDER_API_URL", "COLLECTOR_URL", "EVENTS_URL", "MONITOR_MODE"),
    *("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DEVSTACK_RUN_DIR"),
)


def run_script(
    name: str, run_dir: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in OVERRIDES}
    environment = {**clean, "DEVSTACK_RUN_DIR": str(run_dir), "NO_COLOR": "1", **env}
    return subprocess.run(
        [str(MONITORING / name), *(args or SCRIPTS[name])],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def described(tmp_path: Path, description: dict[str, Any]) -> Path:
    """A run directory holding `description` as its stack.json."""
    (tmp_path / "stack.json").write_text(json.dumps(description))
    return tmp_path


def dead_description(live: dict[str, Any]) -> dict[str, Any]:
    """The running platform's description with every service and the database on dead ports."""
    endpoints = dict(live["endpoints"])
    for name in ("api-server", "order-api"):
        endpoints[name] = f"http://127.0.0.1:{free_port()}"
    for name in ("collector health", "events health"):
        endpoints[name] = f"http://127.0.0.1:{free_port()}/health"
    return {**live, "endpoints": endpoints, "env": {**live["env"], "DB_PORT": str(free_port())}}


def metrics_url(platform: dict[str, Any], service: str) -> str:
    endpoints = platform["endpoints"]
    base = {
        "api-server": endpoints["api-server"],
        "order-api": endpoints["order-api"],
        "collector": endpoints["collector health"].removesuffix("/health"),
        "events": endpoints["events health"].removesuffix("/health"),
    }[service]
    return f"{base}/metrics"


def scrape(url: str) -> dict[str, float]:
    """Samples by `name{labels}` from Prometheus' text format."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def names(samples: dict[str, float]) -> set[str]:
    return {key.split("{", 1)[0] for key in samples}


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return orjson.loads(response.read())


# -- scripts --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_passes_against_the_running_platform(
    script: str, running_platform: dict[str, Any], tmp_path: Path
) -> None:
    result = run_script(script, described(tmp_path, running_platform))
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert re.search(r"^OK {3}", result.stdout, re.MULTILINE), report
    assert not re.search(r"^FAIL", result.stdout, re.MULTILINE), report
    assert "(native stack)" in result.stdout
    assert re.search(r"^VERDICT: (OK|WARN)$", result.stdout, re.MULTILINE), report


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_fails_loudly_when_the_stack_is_down(
    script: str, running_platform: dict[str, Any], tmp_path: Path
) -> None:
    result = run_script(script, described(tmp_path, dead_description(running_platform)))
    assert result.returncode != 0, result.stdout
    assert re.search(r"^FAIL ", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^VERDICT: FAIL$", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.slow
def test_quick_check_names_the_one_service_that_is_down(
    running_platform: dict[str, Any], tmp_path: Path
) -> None:
    endpoints = {**running_platform["endpoints"], "order-api": f"http://127.0.0.1:{free_port()}"}
    description = {**running_platform, "endpoints": endpoints}
    result = run_script("quick_check.sh", described(tmp_path, description))
    assert result.returncode == 1
    failures = re.findall(r"^FAIL (.*)$", result.stdout, re.MULTILINE)
    assert len(failures) == 1 and failures[0].startswith("order-api down"), result.stdout
    assert re.search(r"^OK {3}api-server healthy", result.stdout, re.MULTILINE)


@pytest.mark.slow
def test_explicit_urls_override_the_stack_description(
    running_platform: dict[str, Any], tmp_path: Path
) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{port}"
    result = run_script(
        "api_check.sh", described(tmp_path, running_platform), API_URL=dead, ORDER_API_URL=dead
    )
    assert result.returncode == 1
    assert "(explicit stack)" in result.stdout
    assert re.search(rf"^FAIL GET /health: unreachable .*port {port}", result.stdout, re.M)


@pytest.mark.slow
def test_collector_lag_beyond_the_limit_fails(
    running_platform: dict[str, Any], tmp_path: Path
) -> None:
    # A negative limit: any lag at all is too much, so a realtime symbol must be reported.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = get(running_platform["endpoints"]["collector health"])
        if all(s["phase"] == "realtime" for s in health["symbols"].values()):
            break
        time.sleep(1)
    result = run_script(
        "quick_check.sh", described(tmp_path, running_platform), COLLECTOR_MAX_LAG="-1"
    )
    assert result.returncode == 1
    assert re.search(r"^FAIL collector BTCUSDT: .*s behind", result.stdout, re.MULTILINE)


@pytest.mark.slow
async def test_a_session_idle_in_transaction_is_reported_then_ended_only_with_apply(
    running_platform: dict[str, Any], tmp_path: Path
) -> None:
    env = running_platform["env"]
    connection = await asyncpg.connect(
        host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USER"],
        database=env["DB_NAME"], password=env["DB_PASSWORD"],
    )  # fmt: skip
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("SELECT 1")
        await asyncio.sleep(2)
        run_dir = described(tmp_path, running_platform)

        def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
            return run_script(script, run_dir, *args, IDLE_TX_SECONDS="1")

        checked = await asyncio.to_thread(run, "db_connections_check.sh")
        assert checked.returncode == 1
        assert f"FAIL pid {pid} " in checked.stdout
        dry = await asyncio.to_thread(run, "emergency_fix.sh")
        assert dry.returncode == 1 and f"pg_terminate_backend({pid})" in dry.stdout
        assert not connection.is_closed()
        applied = await asyncio.to_thread(run, "emergency_fix.sh", "--apply")
        assert applied.returncode == 0, applied.stdout
        assert f"ended session idle in transaction: pid {pid}" in applied.stdout
        ended = (asyncpg.AdminShutdownError, asyncpg.InterfaceError, ConnectionError)
        with pytest.raises(ended):
            await connection.fetchval("SELECT 1")
    finally:
        connection.terminate()


@pytest.mark.slow
async def test_emergency_fix_cancels_long_queries_of_the_projects_database_alone(
    running_platform: dict[str, Any], tmp_path: Path
) -> None:
    env = running_platform["env"]

    async def connect(database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USER"],
            database=database, password=env["DB_PASSWORD"],
        )  # fmt: skip

    ours, theirs = await connect(env["DB_NAME"]), await connect("postgres")
    try:
        ours_query = asyncio.ensure_future(ours.fetchval("SELECT pg_sleep(60)"))
        theirs_query = asyncio.ensure_future(theirs.fetchval("SELECT pg_sleep(60)"))
        await asyncio.sleep(2)
        applied = await asyncio.to_thread(
            run_script, "emergency_fix.sh", described(tmp_path, running_platform), "--apply",
            LONG_QUERY_SECONDS="1",
        )  # fmt: skip
        assert "ended long-running query" in applied.stdout, applied.stdout
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(ours_query, 10)
        await asyncio.sleep(0.5)
        assert not theirs_query.done(), "a query of another database was cancelled"
    finally:
        ours.terminate()
        theirs.terminate()


@pytest.mark.parametrize("script", ["emergency_fix.sh", "db_connections_check.sh"])
@pytest.mark.parametrize("name", ["IDLE_TX_SECONDS", "LONG_QUERY_SECONDS"])
def test_a_threshold_that_is_not_a_number_is_refused_before_any_sql(
    tmp_path: Path, script: str, name: str
) -> None:
    hostile = "1) OR true; DROP TABLE candles; --"
    result = run_script(script, tmp_path, **{name: hostile})
    assert result.returncode == 2
    assert f"{name} must be a whole number of seconds" in result.stderr


def test_no_stack_at_all_is_a_failure_not_a_silent_pass(tmp_path: Path) -> None:
    result = run_script("quick_check.sh", tmp_path, COMPOSE_FILE=str(tmp_path / "none.yml"))
    assert result.returncode == 1
    assert "FAIL no running stack found" in result.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_scripts_are_strict_bash_and_executable(script: str) -> None:
    path = MONITORING / script
    assert os.access(path, os.X_OK)
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text


def test_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        return  # optional tool (apt install shellcheck); the strictness test above still runs
    scripts = sorted(str(path) for path in MONITORING.glob("*.sh"))
    result = subprocess.run(
        [shellcheck, "-x", *scripts], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stdout


# -- /metrics -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(EXPECTED_METRICS))
def test_every_service_exposes_its_metrics(service: str, running_platform: dict[str, Any]) -> None:
    exposed = names(scrape(metrics_url(running_platform, service)))
    assert EXPECTED_METRICS[service] <= exposed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("service", "path", "route"),
    [
        ("api-server", "/symbols", "/symbols"),
        ("order-api", "/orders/0xdeadbeef", "/orders/{order_id}"),
    ],
)
def test_request_histograms_count_requests_by_route_template(
    service: str, path: str, route: str, running_platform: dict[str, Any]
) -> None:
    base = running_platform["endpoints"][service]
    url = metrics_url(running_platform, service)

    def count() -> float:
        matching = [
            value
            for key, value in scrape(url).items()
            if key.startswith("http_request_duration_seconds_count{") and f'route="{route}"' in key
        ]
        return sum(matching)

    before = count()
    for _ in range(3):
        # An unknown order is a 4xx; it is still counted under its template.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}{path}", timeout=5).close()
    assert count() == before + 3


@pytest.mark.slow
async def test_websocket_clients_and_messages_are_counted(
    running_platform: dict[str, Any],
) -> None:
    url = metrics_url(running_platform, "api-server")
    websocket = running_platform["endpoints"]["websocket"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{websocket}?type=candles&symbol=BTCUSDT&timeframe=1") as ws,
    ):
        async with asyncio.timeout(30):
            while "timeframe" not in orjson.loads((await ws.receive()).data):
                pass  # a candle update, not a heartbeat
        samples = await asyncio.to_thread(scrape, url)
        assert samples["api_websocket_clients"] >= 1

        # What came first may be the subscription's greeting (the open candle), which the
        # counter leaves out: the live broadcasts follow every WS update interval.
        async def broadcast_counted() -> bool:
            samples = await asyncio.to_thread(scrape, url)
            return samples["api_websocket_messages_sent_total"] >= 1

        assert await eventually(broadcast_counted, 15, what="a live broadcast counted")


@pytest.mark.slow
def test_the_dashboard_only_queries_metrics_the_services_expose(
    running_platform: dict[str, Any],
) -> None:
    exposed: set[str] = set()
    for service in EXPECTED_METRICS:
        exposed |= names(scrape(metrics_url(running_platform, service)))
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queried = {
        token
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])  # a row has none
        for token in re.findall(
            r"\b(?:http|api|collector|order_indexer|linkora)_[a-z_]+\b", target["expr"]
        )
    }
    assert queried and queried <= exposed, queried - exposed


# -- configuration files --------------------------------------------------------------------


def test_prometheus_scrapes_every_compose_service_on_its_metrics_port() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert set(targets) == {"api-server", "order-api", "data-collector", "order-events"}
    ports = {
        "api-server": compose["api-server"]["environment"]["API_PORT"],
        "order-api": compose["order-api"]["environment"]["ORDER_API_PORT"],
        "data-collector": compose["data-collector"]["environment"]["METRICS_PORT"],
        "order-events": compose["order-events"]["environment"]["METRICS_PORT"],
    }
    for job, target in targets.items():
        host, port = target.split(":")
        assert host == job and host in compose
        assert re.sub(r"\$\{\w+:-(\d+)\}", r"\1", str(ports[job])) == port
    promtool = shutil.which("promtool")
    if promtool is not None:
        subprocess.run(
            [promtool, "check", "config", "--syntax-only", str(MONITORING / "prometheus.yml")],
            check=True,
            capture_output=True,
        )


def test_grafana_dashboard_has_the_promised_panels() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    everything = dashboard["panels"]
    assert len({panel["id"] for panel in everything}) == len(everything)
    rows = [panel for panel in everything if panel["type"] == "row"]
    assert [row["title"] for row in rows] == ["System"]
    panels = [panel for panel in everything if panel["type"] != "row"]
    for panel in everything:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
    for panel in panels:
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
    expressions = " ".join(t["expr"] for panel in panels for t in panel["targets"])
    assert "histogram_quantile(0.5," in expressions and "histogram_quantile(0.99," in expressions
    for metric in (
        "api_websocket_clients",
        "api_websocket_messages_sent_total",
        "collector_lag_seconds",
        "collector_weight_used",
        "order_indexer_lag_blocks",
        "order_indexer_reorgs_total",
        *SYSTEM_METRICS,
    ):
        assert metric in expressions
    # Below the row: the system panels.
    assert all(panel["gridPos"]["y"] > rows[0]["gridPos"]["y"] for panel in panels[-8:])


def test_compose_mode_defaults_to_the_compose_files_database_and_user(tmp_path: Path) -> None:
    result = run_script(
        "quick_check.sh", tmp_path, MONITOR_MODE="compose", COMPOSE_FILE=str(tmp_path / "none.yml")
    )
    assert "database: crypto_user@127.0.0.1:5432/crypto_data" in result.stdout, result.stdout
