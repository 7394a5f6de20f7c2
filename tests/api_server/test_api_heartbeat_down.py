"""The heartbeat end to end: a real `python -m order_system.api` process is shown up in
`/system`, killed with SIGKILL it is shown down within 10 s, started again it is up again
(a new instance), and stopped cleanly it is shown down at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.ports import free_port, wait_listening
from tests.polling import eventually

# The process's last beat may come just before the kill: 10 s of silence, plus the time a
# loaded machine takes to answer the poll.
DOWN_WITHIN = 11.0


@pytest.fixture
def order_api() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started order-api processes (append with `start_order_api`); all ended afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def start_order_api(
    env: dict[str, str], log: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    port = free_port()
    full = {**os.environ, **env, "API_HOST": "127.0.0.1", "ORDER_API_PORT": str(port)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "order_system.api"], env=full,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    started.append(process)
    assert wait_listening(port, 60), log.read_text()[-3000:]
    return process


async def entry(client: httpx.AsyncClient, pid: int) -> dict[str, Any] | None:
    """The order-api process `pid` as `/system` shows it."""
    for service in (await client.get("/system")).json()["services"]:
        if service["service"] == "order-api" and service["pid"] == pid:
            return dict(service)
    return None


async def shown(client: httpx.AsyncClient, pid: int, up: bool) -> dict[str, Any] | None:
    found = await entry(client, pid)
    return found if found is not None and found["up"] is up else None


async def test_a_killed_service_is_shown_down_within_10_s_and_up_again_when_back(
    client: httpx.AsyncClient,
    service_env: dict[str, str],
    order_api: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    log = tmp_path / "order-api.log"
    first = start_order_api(service_env, log, order_api)
    up = await eventually(lambda: shown(client, first.pid, True), 15, what="the process up")
    assert up["state"] == "ok" and up["rss_bytes"] > 10 * 2**20

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = time.monotonic()
    down = await eventually(
        lambda: shown(client, first.pid, False), 20, every=0.1, what="the killed process down"
    )
    elapsed = time.monotonic() - killed
    assert elapsed <= DOWN_WITHIN, elapsed
    assert down["state"] == "ok"  # no clean stop was written: only silence shows it down
    assert float(down["age_seconds"]) > 10

    second = start_order_api(service_env, log, order_api)
    back = await eventually(lambda: shown(client, second.pid, True), 15, what="the process back")
    assert back["instance"] != down["instance"]
    old = await entry(client, first.pid)
    assert old is not None and old["up"] is False

    second.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert second.wait(15) in (0, -signal.SIGTERM), log.read_text()[-3000:]
    stopped = await eventually(
        lambda: shown(client, second.pid, False), 3, what="the clean stop shown"
    )
    assert stopped["state"] == "stopped"
