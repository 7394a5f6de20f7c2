"""A private Redis: no persistence, loopback only, run in the foreground as a child."""

from __future__ import annotations

import shutil
from pathlib import Path


class RedisNotFound(RuntimeError):
    pass


def server_command(port: int, work_dir: Path) -> list[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisNotFound("redis-server not found (apt-get install redis-server)")
    work_dir.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(work_dir),
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
    ]
