"""What the HTTP benchmarks share: starting a server process and its environment, and a small
keep-alive load generator."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time

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


async def keep_alive_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> int:
    """One GET on a kept-alive HTTP/1.1 connection, body read and dropped: the status. A load
    generator this small costs less CPU than an HTTP client library."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def concurrent_load(
    port: int, path: str, concurrency: int, seconds: float
) -> dict[str, float]:
    """`concurrency` keep-alive connections each sending GET `path` back to back for
    `seconds`: p50/p99 latency (ms), requests/s and the count of non-200 answers."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await keep_alive_get(reader, writer, path)  # warm-up
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status = await keep_alive_get(reader, writer, path)
                latencies.append(time.perf_counter() - began)
                errors += status != 200
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "rps": len(latencies) / elapsed,
        "errors": errors,
    }
