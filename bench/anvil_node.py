"""Foundry's anvil (from npm, offline) as a second local node for the indexer benchmark.

Hardhat traces every call it executes, so on Hardhat the `getOrder` reads, not the indexer, set
the catch-up speed. anvil runs the same contracts and JSON-RPC methods on a compiled EVM, which
shows what the indexer does against a node closer to a production client."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

from devstack.hardhat import REPO_ROOT, HardhatNodeError, rpc_call
from devstack.ports import free_port

# An optional npm dependency: the registry's package for this platform (Linux x64) only.
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


@contextlib.contextmanager
def anvil_node(timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """Run anvil on a free port (chain id 31337, Hardhat's dev accounts); yields its URL and
    process group id."""
    if not ANVIL.exists():
        raise HardhatNodeError(f"{ANVIL} not found: `make setup` installs anvil on Linux x64 only")
    port = free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError, HardhatNodeError):
                rpc_call(url, "eth_chainId", timeout=1.0)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise HardhatNodeError(f"anvil did not answer on {url}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
