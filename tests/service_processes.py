"""Services as real processes for the tests that need several: `python -m <module>` each, with
the test's environment, logging into `<logs>/<name>.log`; stopped with SIGTERM (a service that
does not exit in time fails the test with its log), killed with SIGKILL, and all stopped at
the end whatever happened. A process stopped or killed stays in `processes` (its exit status
can be checked) until its name is started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Self


class ServiceProcesses:
    def __init__(self, logs: Path, env: Mapping[str, str]) -> None:
        self.logs = logs
        self.env = {**os.environ, **env}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, module: str, **extra: str) -> subprocess.Popen[bytes]:
        """Start `python -m module` as `name` (its log appended to if it ran before)."""
        with (self.logs / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", module],
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def stop(self, name: str, within: float = 30.0) -> None:
        """SIGTERM, and the exit within `within` seconds, or AssertionError with its log."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            why = f"{name}: no exit {within:.0f} s after SIGTERM; log:\n{self.log(name, 6000)}"
            raise AssertionError(why) from None

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def running(self) -> list[str]:
        return sorted(name for name, p in self.processes.items() if p.poll() is None)

    def log(self, name: str, chars: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, within: float = 30.0) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL after `within` s)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
