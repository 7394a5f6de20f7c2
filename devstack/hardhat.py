"""A local Hardhat node for tests and demos: started in its own process group, stopped as a group.

Only the standard library is used, so the launcher works before any service dependency is
installed. Typical use::

    with HardhatNode(Path(".run/hardhat.log")) as node:
        print(node.url)           # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from devstack.ports import free_port, is_listening

REPO_ROOT = Path(__file__).resolve().parent.parent
HARDHAT_CHAIN_ID = 31337
# Printed by `hardhat node` once it listens: proves the answering server is ours.
_STARTED_MARKER = b"Started HTTP and WebSocket JSON-RPC server"


class HardhatNodeError(RuntimeError):
    """The node could not be started (missing install, early exit, or no answer in time)."""


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 5.0) -> Any:
    """One JSON-RPC request: its `result`. Raises OSError when nothing answers, and
    HardhatNodeError for an `error` answer or a reply that is not JSON-RPC."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (ValueError, http.client.HTTPException) as exc:
        raise HardhatNodeError(f"{url} gave no JSON-RPC answer to {method}: {exc}") from exc
    if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
        raise HardhatNodeError(f"{method} failed: {answer}")
    return answer["result"]


def stop_request_log(url: str) -> None:
    """Turn off the node's log of every request. `hardhat node` traces and prints each call
    it serves, which makes an `eth_call` about 4x slower (1,800 against 7,900 calls/s measured
    here); mined transactions, errors and startup messages still reach its output."""
    rpc_call(url, "hardhat_setLoggingEnabled", [False])


# Hardhat's EVM (EDR, in Rust) allocates with mimalloc, which by default hands memory back to the
# kernel 10 ms after it is freed. Every eth_call builds and drops a trace of each EVM step, so
# under a stream of calls that memory went back and was faulted in again without end: measured
# here over 8 s of getOrder reads, 950,000 page faults and a third of the node's CPU time in the
# kernel. Keeping freed memory cut the faults 30-fold and made those reads 1.3-1.8x faster; the
# node then stays at its peak resident size (2.2-2.7 GB in bench/bench_indexer.py's chain).
NODE_ALLOCATOR_ENV = {"MIMALLOC_PURGE_DELAY": "-1"}


def node_command(port: int, host: str = "127.0.0.1", root: Path = REPO_ROOT) -> list[str]:
    """argv for `hardhat node` from the repo's node_modules; run it with cwd=root."""
    executable = root / "node_modules" / ".bin" / "hardhat"
    return [str(executable), "node", "--hostname", host, "--port", str(port)]


def node_env() -> dict[str, str]:
    """The current environment plus what keeps Hardhat from prompting or printing banners, and
    EDR's allocator told to keep the memory it frees (see NODE_ALLOCATOR_ENV)."""
    return {
        **os.environ,
        **NODE_ALLOCATOR_ENV,
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "HARDHAT_HIDE_SOLIDITY_SURVEY_MESSAGE": "true",
        "NO_COLOR": "1",
    }


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<log {path} unreadable: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


class HardhatNode:
    """`hardhat node` on `host:port` (a free port unless given), logging to `log_path`."""

    def __init__(
        self,
        log_path: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        root: Path = REPO_ROOT,
        startup_timeout: float = 30.0,
    ) -> None:
        self.log_path = log_path
        self.host = host
        self.port = port if port is not None else free_port()
        self.root = root
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The node's process id, which is also its process group's (None unless started)."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the node and block until `eth_chainId` answers."""
        if self._process is not None:
            raise HardhatNodeError("this HardhatNode was already started")
        command = node_command(self.port, self.host, self.root)
        if not Path(command[0]).exists():
            raise HardhatNodeError(f"{command[0]} not found: run `npm install` in {self.root}")
        if is_listening(self.port, self.host):
            raise HardhatNodeError(f"{self.host}:{self.port} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.root,
                env=node_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
            stop_request_log(self.url)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise HardhatNodeError(
                    f"hardhat node exited with code {code} before answering on {self.url}; "
                    f"log {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            chain_id = self._chain_id() if self._logged_start() else None
            if chain_id is not None:
                if chain_id != HARDHAT_CHAIN_ID:
                    raise HardhatNodeError(
                        f"{self.url} answered chain id {chain_id}, expected {HARDHAT_CHAIN_ID}: "
                        "is another node on this port?"
                    )
                return
            if time.monotonic() > deadline:
                raise HardhatNodeError(
                    f"hardhat node did not answer eth_chainId on {self.url} within "
                    f"{self.startup_timeout:.0f} s; log {self.log_path}:\n"
                    f"{_log_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def _chain_id(self) -> int | None:
        try:
            return int(rpc_call(self.url, "eth_chainId", timeout=1.0), 16)
        except (OSError, ValueError, HardhatNodeError):
            return None

    def _logged_start(self) -> bool:
        try:
            return _STARTED_MARKER in self.log_path.read_bytes()
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the node's process group, then SIGKILL it if it has not exited in `timeout` s."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
