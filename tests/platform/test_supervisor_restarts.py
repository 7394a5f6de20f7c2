"""devstack's supervisor restarts children that exit unexpectedly: real child processes."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.supervisor import Child, Supervisor, wait_until

# Prints its pid once started, then stays up.
STAYS_UP = "import os, time; print('started', os.getpid(), flush=True); time.sleep(60)"
# Prints its pid, then crashes at once.
CRASHES = "import os, sys; print('started', os.getpid(), flush=True); sys.exit(1)"


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(
        tmp_path / "logs",
        echo=False,
        backoff_initial=0.1,
        backoff_max=0.4,
        stable_after=30.0,
        poll_interval=0.02,
    )
    try:
        yield supervisor
    finally:
        supervisor.stop_all(timeout=2)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def started_pids(child: Child) -> list[int]:
    text = child.log_path.read_text() if child.log_path.exists() else ""
    return [int(pid) for pid in re.findall(r"^started (\d+)$", text, re.MULTILINE)]


def delays(supervisor: Supervisor) -> list[float]:
    return [
        float(d) for d in re.findall(r"restarting in ([\d.]+) s", "\n".join(supervisor.notices))
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_killed_with_sigkill_is_restarted_and_its_output_continues(
    supervisor: Supervisor,
) -> None:
    child = supervisor.start("worker", python(STAYS_UP))
    assert wait_until(lambda: len(started_pids(child)) == 1, 5, 0.02)
    first = started_pids(child)[0]

    os.kill(first, signal.SIGKILL)

    assert wait_until(lambda: len(started_pids(child)) == 2, 5, 0.02), child.log_path.read_text()
    second = started_pids(child)[1]
    assert second != first
    assert child.alive and child.process.pid == second
    assert child.state == "running"
    assert child.restarts == 1
    assert supervisor.notices == ["worker exited with status -9; restarting in 0.1 s (restart 1)"]
    # One log file: the first run, the supervisor's line, the second run.
    lines = child.log_path.read_text().splitlines()
    assert lines == [
        f"started {first}",
        "devstack: worker exited with status -9; restarting in 0.1 s (restart 1)",
        f"started {second}",
    ]


def test_the_delay_doubles_on_repeated_crashes_up_to_the_cap(supervisor: Supervisor) -> None:
    child = supervisor.start("crasher", python(CRASHES))

    assert wait_until(lambda: child.restarts >= 5, 5, 0.02), supervisor.notices
    assert delays(supervisor)[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert supervisor.notices[0] == "crasher exited with status 1; restarting in 0.1 s (restart 1)"
    assert supervisor.notices[3].endswith("(restart 4)")


def test_the_delay_starts_over_once_the_child_stayed_up_long_enough(tmp_path: Path) -> None:
    supervisor = Supervisor(
        tmp_path, echo=False, backoff_initial=0.1, backoff_max=1.0, stable_after=0.2,
        poll_interval=0.02,
    )  # fmt: skip
    try:
        # Up for 0.3 s (longer than stable_after) before each crash.
        child = supervisor.start("steady", python("import time, sys; time.sleep(0.3); sys.exit(1)"))
        assert wait_until(lambda: child.restarts >= 3, 5, 0.02), supervisor.notices
        assert delays(supervisor)[:3] == [0.1, 0.1, 0.1]
    finally:
        supervisor.stop_all(timeout=2)


def test_nothing_is_restarted_once_stopping_began(supervisor: Supervisor) -> None:
    crasher = supervisor.start("crasher", python(CRASHES))
    worker = supervisor.start("worker", python(STAYS_UP))
    assert wait_until(lambda: crasher.state == "waiting" and started_pids(worker), 5, 0.02)

    supervisor.stop_all(timeout=2)

    runs = len(started_pids(crasher)), len(started_pids(worker))
    time.sleep(0.6)  # longer than any backoff delay
    assert (len(started_pids(crasher)), len(started_pids(worker))) == runs
    assert crasher.state == worker.state == "stopped"
    assert not any(alive(pid) for pid in started_pids(crasher) + started_pids(worker))


def test_a_crash_as_stopping_begins_is_not_restarted(tmp_path: Path) -> None:
    # Restarts as fast as possible (a backoff's delay is never 0), so stop_all races with them;
    # none may survive it.
    for _ in range(5):
        supervisor = Supervisor(
            tmp_path, echo=False, backoff_initial=0.001, backoff_max=0.001, poll_interval=0.001
        )
        child = supervisor.start("crasher", python(CRASHES))
        assert wait_until(lambda: child.restarts >= 2, 5, 0.01)  # noqa: B023
        supervisor.stop_all(timeout=2)
        pids = started_pids(child)
        time.sleep(0.2)
        assert started_pids(child) == pids
        assert not child.alive
        assert not any(alive(pid) for pid in pids)


def test_a_request_to_stop_from_a_signal_handler_stops_restarts(supervisor: Supervisor) -> None:
    worker = supervisor.start("worker", python(STAYS_UP))
    assert wait_until(lambda: started_pids(worker), 5, 0.02)

    supervisor.request_stop()
    os.kill(worker.process.pid, signal.SIGKILL)
    time.sleep(0.5)

    assert len(started_pids(worker)) == 1
    assert supervisor.notices == []


def _fails_without_a_restart(supervisor: Supervisor, name: str, line: str, status: int) -> Child:
    code = f"import sys; print({line!r}, flush=True); sys.exit({status})"
    child = supervisor.start(name, python(code))

    assert wait_until(lambda: child.state == "failed", 5, 0.02), supervisor.notices
    time.sleep(0.5)  # longer than any backoff delay

    assert child.restarts == 0
    assert child.log_path.read_text().count(line) == 2
    return child


def test_a_configuration_error_is_not_restarted(supervisor: Supervisor) -> None:
    child = _fails_without_a_restart(
        supervisor, "api-server", "configuration error: DB_PORT: bad", 2
    )
    assert len(supervisor.notices) == 1
    assert supervisor.notices[0].startswith(
        'api-server exited with status 2, a configuration error ("configuration error: '
        'DB_PORT: bad"); not restarting it'
    )
    assert supervisor.exited() == [child]


def test_a_halted_exit_is_not_restarted_into_the_same_halt(supervisor: Supervisor) -> None:
    _fails_without_a_restart(supervisor, "order-events", "ALERT: reorg deeper than the window", 3)
    assert supervisor.notices == [
        'order-events exited with status 3, halted ("ALERT: reorg deeper than the window"); '
        "not restarting it into the same halt: python -m order_system.events resume "
        "lifts the halt, then start it again"
    ]


def test_a_child_started_without_restarts_is_only_reported(supervisor: Supervisor) -> None:
    child = supervisor.start(
        "hardhat", python(STAYS_UP), restart=False, no_restart_reason="the chain was in memory"
    )
    assert wait_until(lambda: started_pids(child), 5, 0.02)

    os.kill(child.process.pid, signal.SIGKILL)

    assert wait_until(lambda: child.state == "exited", 5, 0.02)
    time.sleep(0.3)
    assert len(started_pids(child)) == 1
    assert supervisor.notices == [
        "hardhat exited with status -9; not restarting: the chain was in memory"
    ]
    assert supervisor.exited() == [child]


def _children_of(parent: int, module: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and module.encode() in argv:
            found.append(int(entry.name))
    return found


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


@pytest.mark.slow
def test_the_platform_heals_an_api_server_killed_with_sigkill(
    running_platform: dict[str, Any],
) -> None:
    health = running_platform["endpoints"]["api-server"] + "/health"
    [before] = _children_of(running_platform["pid"], "api_server")
    assert _health(health) == 200

    os.kill(before, signal.SIGKILL)

    def restarted() -> bool:
        return _children_of(running_platform["pid"], "api_server") not in ([], [before])

    assert wait_until(restarted, 30, 0.1)
    assert wait_until(lambda: _health(health) == 200, 60, 0.5)
