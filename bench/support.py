"""What the api-server benchmarks share: starting a server process and its environment."""

from __future__ import annotations

import os
import subprocess

from devstack.ports import wait_listening
from devstack.postgres import db_env


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if not wait_listening(port, 60):
        process.kill()
        raise RuntimeError(f"server on {port} did not start")
    return process


def server_env(dsn: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **db_env(dsn),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "RATE_LIMIT_PER_SECOND": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(["core", "api-server", "."]),
    }
