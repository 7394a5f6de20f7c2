"""The demo clients pass against the running platform and fail loudly when their target is
down."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.ports import free_port

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"


def _run(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )


def _python(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, str(DEMO / script), *args, timeout=timeout)


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


@pytest.mark.slow
def test_api_test_passes_every_check_against_the_running_platform(
    running_platform: dict[str, Any],
) -> None:
    endpoints = running_platform["endpoints"]
    result = _python("api_test.py", "--api", endpoints["api-server"],
                     "--orders", endpoints["order-api"])  # fmt: skip
    assert result.returncode == 0, _report(result)
    assert "FAIL" not in result.stdout, _report(result)
    # Both REST APIs, both WebSocket types and the order API's errors were all exercised.
    for marker in ("PASS api: GET /candles timeframe=1M", "PASS ws: candles", "PASS ws: orderbook",
                   "PASS orders: GET /orders/abc", "0 failed"):  # fmt: skip
        assert marker in result.stdout, _report(result)


@pytest.mark.slow
@pytest.mark.parametrize("timeframe", ["1", "45", "1M"])
def test_websocket_demo_prints_live_candles(
    running_platform: dict[str, Any], timeframe: str
) -> None:
    url = running_platform["endpoints"]["websocket"]
    result = _python("websocket_demo.py", "--url", url, "--timeframe", timeframe, "--count", "2")
    assert result.returncode == 0, _report(result)
    lines = [line for line in result.stdout.splitlines() if line.startswith("BTCUSDT")]
    assert len(lines) == 2, _report(result)
    assert f" {timeframe:>3} " in lines[0] and " C " in lines[0], _report(result)


@pytest.mark.slow
def test_orderbook_demo_prints_books_with_their_spread(running_platform: dict[str, Any]) -> None:
    url = running_platform["endpoints"]["websocket"]
    result = _python("orderbook_demo.py", "--url", url, "--symbol", "ETHUSDT", "--count", "2")
    assert result.returncode == 0, _report(result)
    assert result.stdout.count("spread ") == 2, _report(result)


@pytest.mark.slow
def test_order_api_shell_script_passes(running_platform: dict[str, Any]) -> None:
    orders = running_platform["endpoints"]["order-api"]
    result = _run("bash", str(DEMO / "order_api_demo.sh"), orders)
    assert result.returncode == 0, _report(result)
    assert " 0 failed" in result.stdout and "FAIL" not in result.stdout, _report(result)


def _dead() -> str:
    return f"127.0.0.1:{free_port()}"  # nothing listens on a port just found free


@pytest.mark.parametrize(
    ("client", "message"),
    [
        ("api_test", "FAILED: the platform is not reachable"),
        ("websocket_demo", "error: cannot connect to ws://"),
        ("orderbook_demo", "error: cannot connect to ws://"),
        ("order_api_demo.sh", "FAILED: the order API is not reachable"),
    ],
)
def test_each_client_fails_loudly_when_its_target_is_down(client: str, message: str) -> None:
    if client == "api_test":
        result = _python("api_test.py", "--api", f"http://{_dead()}",
                         "--orders", f"http://{_dead()}", timeout=60)  # fmt: skip
    elif client == "order_api_demo.sh":
        assert shutil.which("curl") and shutil.which("jq")
        result = _run("bash", str(DEMO / "order_api_demo.sh"), f"http://{_dead()}", timeout=60)
    else:
        result = _python(f"{client}.py", "--url", f"ws://{_dead()}/ws", "--count", "1", timeout=60)
    assert result.returncode != 0, _report(result)
    assert message in result.stderr, _report(result)
