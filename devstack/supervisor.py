"""A small process manager: children in their own process groups, output prefixed with
their name (and copied to a log file each), stopped in reverse start order."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_COLOURS = ["36", "33", "35", "32", "34", "31", "96", "93", "95", "92"]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    reader: threading.Thread | None = None
    tail: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class Supervisor:
    def __init__(self, log_dir: Path, *, echo: bool = True) -> None:
        self.log_dir = log_dir
        self.echo = echo
        self.children: list[Child] = []
        self._print_lock = threading.Lock()
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        log_path = self.log_dir / f"{name}.log"
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        child = Child(name, process, log_path)
        colour = _COLOURS[len(self.children) % len(_COLOURS)]
        child.reader = threading.Thread(
            target=self._pump, args=(child, colour), name=f"log-{name}", daemon=True
        )
        child.reader.start()
        self.children.append(child)
        return child

    def _pump(self, child: Child, colour: str) -> None:
        assert child.process.stdout is not None
        prefix = (
            f"\x1b[{colour}m{child.name:>13} |\x1b[0m "
            if sys.stdout.isatty()
            else f"{child.name:>13} | "
        )
        with child.log_path.open("ab") as log:
            for raw in iter(child.process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                child.tail = [*child.tail[-39:], line]
                if self.echo:
                    with self._print_lock:
                        _write(sys.stdout, prefix + line)

    def exited(self) -> list[Child]:
        return [child for child in self.children if not child.alive]

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        """SIGTERM the child's process group, SIGKILL it if still there after `timeout`."""
        if child.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        # Grandchildren (npx -> node) may outlive the leader; the group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        if child.reader is not None:
            child.reader.join(timeout=2)

    def stop_all(self, timeout: float = 10.0) -> None:
        for child in reversed(self.children):
            self.stop(child, timeout)


def _write(stream: IO[str], line: str) -> None:
    with contextlib.suppress(BrokenPipeError):
        stream.write(line + "\n")
        stream.flush()


def wait_until(predicate: object, timeout: float, interval: float = 0.2) -> bool:
    """Poll a zero-argument callable until it returns true or `timeout` passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
