"""What the two WebSocket demos share: finding the endpoint and printing a live stream."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

Message = dict[str, Any]


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="WebSocket URL (default ws://127.0.0.1:8022/ws)")
    parser.add_argument("--stack", help="stack.json written by `python -m devstack up`")
    parser.add_argument("--count", type=int, default=0, help="exit after N messages (0: never)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per message")


def websocket_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if args.stack:
        return str(json.loads(Path(args.stack).read_text())["endpoints"]["websocket"])
    return "ws://127.0.0.1:8022/ws"


def print_stream(
    url: str, args: argparse.Namespace, wanted: Callable[[Message], bool],
    show: Callable[[Message], str], what: str,
) -> int:  # fmt: skip
    """Print `show(message)` for each wanted message; answer heartbeats. Exit status 1 when
    the server is unreachable, silent for --timeout seconds or closes the connection."""
    try:
        with connect(url, open_timeout=10) as ws:
            print(f"connected to {url}", flush=True)
            received = 0
            while not args.count or received < args.count:
                message = json.loads(ws.recv(timeout=args.timeout))
                if message.get("type") == "heartbeat":
                    ws.send(json.dumps({"type": "pong"}))
                    continue
                if not wanted(message):
                    continue
                print(show(message), flush=True)
                received += 1
    except ConnectionClosed as closed:
        frame = closed.rcvd
        reason = f"{frame.code} {frame.reason}" if frame else "no close frame"
        print(f"error: the server closed the connection ({reason})", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"error: no {what} within {args.timeout:g} s from {url}", file=sys.stderr)
        return 1
    except (OSError, InvalidHandshake, InvalidURI) as error:
        print(f"error: cannot connect to {url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
