"""`python -m exchange_sim` as a process of its own, for tests that run the services as
processes too: `with simulator(symbols, start, seed) as address` yields its host:port."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence

from devstack.ports import free_port, wait_listening


@contextlib.contextmanager
def simulator(symbols: Sequence[str], start: str, seed: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange_sim", "--port", str(port), "--symbols", ",".join(symbols),
         "--start", start, "--seed", str(seed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        if not wait_listening(port, 30):
            raise RuntimeError("exchange_sim did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
