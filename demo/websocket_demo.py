"""Print live candles from the API server's WebSocket, for any symbol and timeframe.

    python demo/websocket_demo.py --symbol BTCUSDT --timeframe 5
    python demo/websocket_demo.py --stack /tmp/run/stack.json --timeframe 1H --count 3

Exits 0 after --count candles (or on Ctrl-C), 1 when the server is unreachable or closes
the connection (an invalid timeframe is closed with code 1008 and the reason)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

TIMEFRAMES = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]


def websocket_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if args.stack:
        return str(json.loads(Path(args.stack).read_text())["endpoints"]["websocket"])
    return "ws://127.0.0.1:8022/ws"


def show(candle: dict[str, object]) -> str:
    opened = time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(str(candle["timestamp"])) / 1000))
    state = "closed" if candle.get("closed") else "open"
    return (
        f"{candle['symbol']} {candle.get('timeframe', '?'):>3} {opened} UTC  "
        f"O {candle['open']}  H {candle['high']}  L {candle['low']}  C {candle['close']}  "
        f"V {candle['volume']}  trades {candle['trades']}  ({state})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print live candles from /ws.")
    parser.add_argument("--url", help="WebSocket URL (default ws://127.0.0.1:8022/ws)")
    parser.add_argument("--stack", help="stack.json written by `python -m devstack up`")
    parser.add_argument("--symbol", default="BTCUSDT", help="a symbol, or `all`")
    parser.add_argument("--timeframe", default="1", help=f"one of {' '.join(TIMEFRAMES)}")
    parser.add_argument("--count", type=int, default=0, help="exit after N candles (0: never)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per message")
    args = parser.parse_args(argv)
    url = f"{websocket_url(args)}?symbol={args.symbol}&timeframe={args.timeframe}&type=candles"
    try:
        with connect(url, open_timeout=10) as ws:
            print(f"connected to {url}", flush=True)
            received = 0
            while not args.count or received < args.count:
                message = json.loads(ws.recv(timeout=args.timeout))
                if message.get("type") == "heartbeat":
                    ws.send(json.dumps({"type": "pong"}))
                    continue
                if message.get("type") in ("pong", "error"):
                    continue
                print(show(message), flush=True)
                received += 1
    except ConnectionClosed as closed:
        frame = closed.rcvd
        reason = f"{frame.code} {frame.reason}" if frame else "no close frame"
        print(f"error: the server closed the connection ({reason})", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"error: no candle within {args.timeout:g} s from {url}", file=sys.stderr)
        return 1
    except (OSError, InvalidHandshake, InvalidURI) as error:
        print(f"error: cannot connect to {url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
