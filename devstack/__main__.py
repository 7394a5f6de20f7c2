"""`python -m devstack up [--offline]` runs the platform natively; `down` stops it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from devstack.settings import StackSettings
from devstack.stack import Stack
from linkora_core import settings


def _pid_file(config: StackSettings) -> Path:
    return config.run_dir / "stack.pid"


def _description_file(config: StackSettings) -> Path:
    """`stack.json`: endpoints and environment of the running stack, for scripts and tests."""
    return config.run_dir / "stack.json"


def _write_description(config: StackSettings, description: dict[str, object]) -> None:
    """Write `stack.json` whole or not at all: readers poll for it, never see it half written."""
    target = _description_file(config)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(description, indent=2))
    os.replace(partial, target)


def up(config: StackSettings, offline: bool) -> int:
    started = time.monotonic()
    stack = Stack(config)
    pid_file = _pid_file(config)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        stack.supervisor.request_stop()  # no restarts from here on

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.start_chain()
        if offline:
            stack.start_exchange()
        stack.start_services()
        if not stack.wait_healthy(timeout=120):
            print("devstack: services did not become healthy; see .run/logs/", file=sys.stderr)
            return 1
        if offline:
            stack.start_trader()
        print(f"\nLinkora is up in {time.monotonic() - started:.1f}s (Ctrl-C stops everything):")
        for endpoint in stack.endpoints:
            print(f"  {endpoint.name:<17} {endpoint.url}")
        print(f"  logs              {stack.supervisor.log_dir}/")
        print(f"  admin token       in {stack.write_admin_token()}\n", flush=True)
        _write_description(config, stack.describe())
        while not stopping:  # the supervisor restarts crashed children and reports exits
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("devstack: stopping...", flush=True)
        stack.supervisor.stop_all()
        pid_file.unlink(missing_ok=True)
        _description_file(config).unlink(missing_ok=True)


def down(config: StackSettings) -> int:
    """Stop a stack that `up` started in another terminal."""
    pid_file = _pid_file(config)
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        print("devstack: nothing running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return 0
    for _ in range(300):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    print("devstack: stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", help="run the whole platform until Ctrl-C")
    run.add_argument(
        "--offline",
        action="store_true",
        help="collect from the project's Binance-compatible server",
    )
    commands.add_parser("down", help="stop a running `up`")
    args = parser.parse_args()
    config = settings.load(StackSettings)
    return up(config, args.offline) if args.command == "up" else down(config)


if __name__ == "__main__":
    sys.exit(main())
