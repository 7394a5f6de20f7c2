"""The run command: the whole platform as local processes, healthy, then stopped cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from devstack.ports import free_port, is_listening

REPO = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status), orjson.loads(response.read())


def _endpoints(process: subprocess.Popen[str]) -> dict[str, str]:
    """The endpoint list printed after "Linkora is up", to its admin token line (the
    children's own output may come in between)."""
    assert process.stdout is not None
    found: dict[str, str] = {}
    while (line := process.stdout.readline()) and "admin token" not in line:
        match = re.match(r"^  (\S+(?: \S+)?) +(\S+://\S+)$", line.rstrip())
        if match:
            found[match[1]] = match[2]
    return found


def _wait_active(url: str, within: float = 60) -> dict[str, object]:
    """The relay's /health once it holds the lock and is connected to the broker."""
    deadline = time.monotonic() + within
    while True:
        try:
            status, body = _get(url)
        except OSError:
            status, body = 0, {}
        if status == 200 and body.get("active") and body.get("broker_connected"):
            return body
        assert time.monotonic() < deadline, f"relay not active: {body}"
        time.sleep(0.2)


@pytest.fixture
def running_stack() -> Iterator[tuple[subprocess.Popen[str], list[str], dict[str, int]]]:
    ports = {"API_PORT": free_port(), "ORDER_API_PORT": free_port()}
    # Outside pytest's private temp tree: the PostgreSQL server runs as the postgres user.
    run_dir = Path(tempfile.mkdtemp(prefix="linkora-devstack-"))
    run_dir.chmod(0o755)
    env = {
        **os.environ,
        "DEVSTACK_RUN_DIR": str(run_dir),
        **{name: str(port) for name, port in ports.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up"],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Linkora is up"):
            break
    try:
        yield process, lines, ports
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.mark.slow
def test_one_command_brings_every_service_to_healthy_and_ctrl_c_stops_them(
    running_stack: tuple[subprocess.Popen[str], list[str], dict[str, int]],
) -> None:
    process, lines, ports = running_stack
    assert any(line.startswith("Linkora is up") for line in lines), "\n".join(lines[-40:])
    status, api = _get(f"http://127.0.0.1:{ports['API_PORT']}/health")
    assert status == 200
    assert api["database"] == "healthy"
    status, orders = _get(f"http://127.0.0.1:{ports['ORDER_API_PORT']}/health")
    assert status == 200
    assert orders["overall_status"] == "healthy"
    # The private broker and the relay publishing to it (issue 18).
    printed = _endpoints(process)
    assert printed["rabbitmq"].startswith("amqp://guest:guest@127.0.0.1:")
    relay = _wait_active(printed["relay health"])
    assert relay["broker_connected"] is True

    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest[-3000:]
    assert "devstack: stopping" in rest
    assert not is_listening(ports["API_PORT"])
    assert not is_listening(ports["ORDER_API_PORT"])
