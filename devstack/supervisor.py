"""A small process manager: children in their own process groups, output prefixed with
their name (and copied to a log file each), restarted when they exit unexpectedly, stopped in
reverse start order.

Restarts: a monitor thread notices a child that exited and starts it again with the same
command after a delay (a `linkora_core.backoff.Backoff` without jitter) that doubles on each
crash (`backoff_initial` up to `backoff_max`) and goes back to `backoff_initial` once the child
has stayed up for `stable_after` seconds. Three exits are not restarted: status 2, which the
services use for a configuration error (the same settings would fail the same way), status 3,
a halt with an alert (the event processor stays up halted nowadays; an exit 3 would only be
started again into the same halt), and any exit of a child started with `restart=False` (e.g.
an in-memory Hardhat node, whose replacement would be a different chain). Once stopping begins
(`request_stop`, `stop_all`), nothing is restarted."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import IO, Literal

from linkora_core.backoff import Backoff

_COLOURS = ["36", "33", "35", "32", "34", "31", "96", "93", "95", "92"]

CONFIGURATION_ERROR = 2
"""The exit status of a service whose settings do not validate (linkora_core.settings.load)."""
HALTED = 3
"""The exit status of a service that halted with an alert an operator must act on."""
RESUME_HINT = "python -m order_system.events resume lifts the halt, then start it again"
_GIVE_UP = {
    CONFIGURATION_ERROR: (
        "a configuration error",
        "not restarting it: the same settings would fail again. "
        "Fix the setting and start the stack again.",
    ),
    HALTED: ("halted", f"not restarting it into the same halt: {RESUME_HINT}"),
}
"""Exit statuses that a restart would only repeat: what they mean, why no restart."""

State = Literal["running", "waiting", "exited", "failed", "stopped"]
"""running: a process is up; waiting: crashed, restart scheduled; exited: ended and not
restartable (restart=False); failed: gave up (configuration error, halt); stopped: stopped by us."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    restart: bool = True
    no_restart_reason: str = ""
    colour: str = _COLOURS[0]
    reader: threading.Thread | None = None
    tail: list[str] = field(default_factory=list)
    state: State = "running"
    restarts: int = 0
    started_at: float = field(default_factory=time.monotonic)
    backoff: Backoff = field(default_factory=Backoff)
    """The delays between restarts (doubling per crash)."""
    restart_at: float = 0.0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Supervisor:
    log_dir: Path
    _: KW_ONLY
    echo: bool = True
    backoff_initial: float = 0.5
    backoff_max: float = 15.0
    stable_after: float = 30.0
    poll_interval: float = 0.1
    children: list[Child] = field(init=False, default_factory=list)
    notices: list[str] = field(init=False, default_factory=list)
    """What the supervisor said about exits and restarts (also printed on stderr)."""
    _print_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    # Guards child states, spawning and `_stopping`.
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stopping: bool = field(init=False, default=False)
    _wake: threading.Event = field(init=False, default_factory=threading.Event)
    _monitor: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        restart: bool = True,
        no_restart_reason: str = "",
    ) -> Child:
        """Start `argv` as `name`; with `restart=False` an exit is reported (with
        `no_restart_reason`) but the child is not started again."""
        full_env = {**os.environ, **(env or {})}
        with self._lock:
            child = Child(
                name,
                self._popen(argv, full_env, cwd),
                self.log_dir / f"{name}.log",
                argv=list(argv),
                env=full_env,
                cwd=cwd,
                restart=restart,
                no_restart_reason=no_restart_reason,
                colour=_COLOURS[len(self.children) % len(_COLOURS)],
                # No jitter: one developer's stack, no herd of clients to spread out.
                backoff=Backoff(first=self.backoff_initial, cap=self.backoff_max, jitter=0),
            )
            self._read(child)
            self.children.append(child)
            if self._monitor is None:
                self._monitor = threading.Thread(
                    target=self._watch, name="supervisor-monitor", daemon=True
                )
                self._monitor.start()
        return child

    @staticmethod
    def _popen(argv: list[str], env: dict[str, str], cwd: Path | None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    def _read(self, child: Child) -> None:
        child.reader = threading.Thread(
            target=self._pump, args=(child, child.process), name=f"log-{child.name}", daemon=True
        )
        child.reader.start()

    def _pump(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        prefix = (
            f"\x1b[{child.colour}m{child.name:>13} |\x1b[0m "
            if sys.stdout.isatty()
            else f"{child.name:>13} | "
        )
        with child.log_path.open("ab") as log:
            for raw in iter(process.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                child.tail = [*child.tail[-39:], line]
                if self.echo:
                    with self._print_lock:
                        _write(sys.stdout, prefix + line)
        process.stdout.close()

    # -- restarts ---------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping:
            self._check()
            self._wake.wait(self.poll_interval)

    def _check(self) -> None:
        for child in list(self.children):
            if self._stopping:
                return
            if child.state == "running" and child.process.poll() is not None:
                # Outside the lock: leftovers of the group go, the reader drains the last lines.
                _kill_group(child.process)
                if child.reader is not None:
                    child.reader.join(timeout=2)
                with self._lock:
                    if not self._stopping and child.state == "running":
                        self._exited(child, time.monotonic())
            elif child.state == "waiting" and time.monotonic() >= child.restart_at:
                with self._lock:
                    if not self._stopping and child.state == "waiting":
                        self._respawn(child)

    def _exited(self, child: Child, now: float) -> None:
        status = child.process.returncode
        if not child.restart:
            child.state = "exited"
            reason = f": {child.no_restart_reason}" if child.no_restart_reason else ""
            self._notice(child, f"{child.name} exited with status {status}; not restarting{reason}")
            return
        if status in _GIVE_UP:
            child.state = "failed"
            what, why = _GIVE_UP[status]
            last = f' ("{child.tail[-1]}")' if child.tail else ""
            self._notice(child, f"{child.name} exited with status {status}, {what}{last}; {why}")
            return
        if now - child.started_at >= self.stable_after:
            child.backoff.reset()
        self._schedule(child, now, f"{child.name} exited with status {status}")

    def _schedule(self, child: Child, now: float, what: str) -> None:
        delay = child.backoff.next_delay()
        child.restarts += 1
        child.restart_at = now + delay
        child.state = "waiting"
        self._notice(child, f"{what}; restarting in {delay:.1f} s (restart {child.restarts})")

    def _respawn(self, child: Child) -> None:
        now = time.monotonic()
        try:
            child.process = self._popen(child.argv, child.env, child.cwd)
        except OSError as error:
            self._schedule(child, now, f"{child.name} could not be started again ({error})")
            return
        child.started_at = now
        child.state = "running"
        self._read(child)

    def _notice(self, child: Child, text: str) -> None:
        self.notices.append(text)
        with contextlib.suppress(OSError), child.log_path.open("a") as log:
            log.write(f"devstack: {text}\n")
        with self._print_lock:
            _write(sys.stderr, f"devstack: {text}")

    # -- stopping ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """No restarts from now on; safe to call from a signal handler (takes no lock)."""
        self._stopping = True
        self._wake.set()

    def exited(self) -> list[Child]:
        """Children that ended and will not be started again."""
        return [child for child in self.children if child.state in ("exited", "failed")]

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        """SIGTERM the child's process group, SIGKILL it if still there after `timeout`."""
        with self._lock:  # a restart either happened before this or never will
            child.state = "stopped"
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
        _kill_group(child.process)
        if child.reader is not None:
            child.reader.join(timeout=2)

    def stop_all(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout=5)
        for child in reversed(self.children):
            self.stop(child, timeout)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


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
